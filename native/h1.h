// The native HTTP/1.1 engine (`engine: native`), shared by its files:
//   h1-parse.c     request and response heads, and the chunked-body tracker (pure functions, no I/O);
//   h1-exchange.c  client connections and their exchanges, one at a time (what the engine is for is there);
//   h1-response.c  an exchange's response, from the upstream's bytes to the client;
//   h1-upstream.c  upstream connections and their pool;
//   h1-cache.c     kept decisions: decide() is not called again for a route that always decides the same;
//   h1-park.c      exchanges held while JavaScript runs a route's request-side filters, and bodies gathered for them;
//   h1-listener.c  a listener's life and the Node-API functions core/http/native-listener.ts calls.
// What it is for, and what it leaves to the `net` engine, is in h1-exchange.c.

#ifndef MANTOU_H1_H
#define MANTOU_H1_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>
#include <uv.h>

#include "listener-base.h"

#define H1_READ_BYTES ADDON_READ_BYTES
/* Request heads larger than this go to the net engine (which applies the listener's own limits). */
#define H1_MAX_REQUEST_HEAD 8192
#define H1_MAX_HEADERS 100
/* The upstream request head: the client's plus the fields the proxy adds. */
#define H1_REQ_CAP (H1_MAX_REQUEST_HEAD + 1024)
#define H1_LINGER_MS 2000
/* The least time between two sweeps of a listener's deadlines (h1_deadline): a deadline is met up to this late. */
#define H1_SWEEP_MS 250
/* decide()'s answer when the request must be served by the net engine. */
#define H1_HANDOFF (-1)
/* A decision's target bits when JavaScript holds the exchange (a route with filters, h1-park.c); its exchange id is
   bits 16..31 of the decision. */
#define H1_PARKED_TARGET 0xffff
#define H1_EXCHANGE_IDS 0x10000
/* Ended exchanges reported to JavaScript in one call (io[1..]: decision, failure pairs). */
#define H1_ENDS_BATCH 256
/* done()'s io[2 + 2i]: failure + H1_STATUS_UNIT · the status sent (every failure kind is below it). */
#define H1_STATUS_UNIT 256
/* The rest of io (core/http/native-listener.ts): decide() sets io[H1_IO_CACHEABLE] to 1 when its decision may be
   reused for the same method, host and path (h1-cache.c); io[H1_IO_CACHED_STARTS] counts the exchanges started
   from the cache that JavaScript has not counted yet; JavaScript sets io[H1_IO_QUIET_SLOT] to the slot (a decision's
   bits 32 and up) whose exchanges may end quietly, 0 for none: one of them that ends without a failure and was not
   held is counted in io[H1_IO_QUIET_ENDS] instead of reported (h1-exchange.c report_done). */
#define H1_IO_CACHEABLE (1 + 2 * H1_ENDS_BATCH)
#define H1_IO_CACHED_STARTS (2 + 2 * H1_ENDS_BATCH)
#define H1_IO_QUIET_SLOT (3 + 2 * H1_ENDS_BATCH)
#define H1_IO_QUIET_ENDS (4 + 2 * H1_ENDS_BATCH)
#define H1_IO_LENGTH (5 + 2 * H1_ENDS_BATCH)
#define H1_CACHE_SLOTS 256
/* method SP host SP path: longer keys are not cached. */
#define H1_CACHE_KEY 200

/* Failure kinds passed to JavaScript's failure() (the order of FAILURES in core/http/native-listener.ts). */
enum h1_failure {
  F_NONE,
  F_CONNECT_REFUSED,
  F_CONNECT_FAILED,
  F_CONNECT_TIMEOUT,
  F_RESET_BEFORE_RESPONSE,
  F_BAD_RESPONSE,
  F_RESPONSE_TIMEOUT,
  F_OVERFLOW,
  F_MID_RESPONSE,      /* the upstream failed after the response started: the client is reset */
  F_DOWNSTREAM_ABORTED,
  F_BODY_TIMEOUT,      /* the client stopped sending its request body: 408, as the net engine answers */
  F_BAD_CHUNK,         /* a malformed chunked request body: 400; F_BAD_CHUNK + error - 1 for each h1_chunk_error */
  /* Past the chunk errors: JavaScript asked something of a held exchange that cannot be (h1-park.c; a bug, not a
     client's doing): 500, and the connection closes. */
  F_INTERNAL = 64,
};
_Static_assert(F_INTERNAL < H1_STATUS_UNIT, "a failure kind shares io[2 + 2i] with the status, below H1_STATUS_UNIT");

enum h1_handle { HS_NONE = NL_NONE, HS_OPEN = NL_OPEN, HS_CLOSING = NL_CLOSING };

/* ---- h1-parse.c ---- */

typedef struct h1_request {
  uint32_t head_len;
  const char *method;
  uint32_t method_len;
  const char *path;
  uint32_t path_len;
  const char *host;
  uint32_t host_len;
  uint64_t content_length; /* the request body's length (0: none) */
  uint8_t close;      /* Connection: close */
  uint8_t is_head;
  uint8_t request_id; /* 0 absent, 1 empty, 2 present */
  uint8_t expect_continue; /* Expect: 100-continue (the field is not forwarded) */
  uint8_t chunked;         /* Transfer-Encoding: chunked (limits->bodies only; forwarded as it is) */
} h1_request;

enum { P_INCOMPLETE = 0, P_DONE = 1, P_UNSUPPORTED = -1, P_BAD = -2 };

/*
 * Parses a request head in buf[0..len) and writes the head to forward upstream into `out` (capacity `cap`): the
 * request line and fields as received, minus hop-by-hop fields and an empty x-request-id, with the client address
 * appended to X-Forwarded-For/-Proto/-Host and an x-request-id added when absent or empty: `rid` holds the id
 * to add (129 bytes); when the request has its own, it is copied there instead.
 * P_DONE (out_len set), or P_UNSUPPORTED for anything the native engine leaves to the net engine: a head not
 * complete in buf, any body when limits->bodies is 0, a transfer coding other than chunked alone (or one beside a
 * Content-Length), an upgrade, HTTP/1.0, an unusual field, Host or target, a head past the limits, a malformed
 * head. r->content_length and r->chunked say what body follows the head.
 */
/* The listener's own limits (the net engine answers 414/431 past them, so the native path leaves such heads to it). */
typedef struct h1_limits {
  uint32_t max_head;   /* request line plus fields, at most H1_MAX_REQUEST_HEAD */
  uint32_t max_target;
  uint32_t max_fields; /* at most H1_MAX_HEADERS */
  uint8_t bodies;      /* request bodies are relayed here (else a request with one is the net engine's) */
} h1_limits;

int h1_parse_request(const char *buf, uint32_t len, const h1_limits *limits, h1_request *r, const char *client_addr, char *rid, char *out,
                     uint32_t cap, uint32_t *out_len);

typedef struct h1_response {
  uint32_t head_len;
  int status;
  int64_t content_length; /* -1 none */
  uint8_t chunked;
  uint8_t close;          /* the upstream will close (Connection: close, or HTTP/1.0 without keep-alive) */
  uint8_t has_date;
  /* Connection names fields besides close and keep-alive: hop-by-hop, not passed on (h1_client_head finds them
     in the head again, so there is no limit to how many). */
  uint8_t lists_fields;
} h1_response;

/* Parses a response head; P_DONE, P_INCOMPLETE or P_BAD. */
int h1_parse_response(const char *buf, uint32_t len, h1_response *r);

/*
 * Writes the head the client gets for response `r` (head bytes in `buf`): status line as HTTP/1.1, fields minus the
 * hop-by-hop ones, plus `extra` (Date, framing, Connection: close). Returns the length, or 0 when `cap` is short.
 */
uint32_t h1_client_head(const char *buf, const h1_response *r, const char *extra, uint32_t extra_len, char *out, uint32_t cap);

/* Where a chunked body ends: feed it bytes; it says how many belong to the body, and when the body is complete. */
typedef struct h1_chunks {
  uint8_t state;
  uint8_t digits;
  uint64_t remaining;
} h1_chunks;

/* Returns bytes of buf that belong to the body (all of them until the end); *done once it is complete; -1 if malformed. */
int64_t h1_chunks_feed(h1_chunks *c, const char *buf, uint64_t len, int *done);

/*
 * A chunked request body, decoded as the net engine decodes one (core/http/chunked-decoder.ts): the same limits
 * (13 size digits, 4 KiB of extension per chunk, trailers up to the listener's head limit) and the same errors, so
 * a client gets the same 400 from either engine. Extensions and trailers are validated and dropped.
 */
typedef struct h1_req_chunks {
  uint8_t step;
  uint8_t digits;
  uint8_t error; /* enum h1_chunk_error, once feed returned H1_CHUNKS_BAD */
  uint64_t remaining;
  uint32_t ext_bytes, trailer_bytes, max_trailer_bytes;
} h1_req_chunks;

enum { H1_CHUNKS_MORE, H1_CHUNKS_DATA, H1_CHUNKS_DONE, H1_CHUNKS_BAD };
/* The net engine's details for them, in this order (CHUNK_ERRORS in core/http/native-listener.ts). */
enum h1_chunk_error {
  CE_NONE,
  CE_SIZE_TOO_LARGE,
  CE_INVALID_SIZE,
  CE_EXTENSION_BYTE,
  CE_EXTENSION_TOO_LONG,
  CE_CR_AFTER_SIZE,
  CE_NO_CRLF_AFTER_DATA,
  CE_TRAILERS_TOO_LARGE,
  CE_INVALID_TRAILER,
  CE_TRAILER_BYTE,
  CE_CR_IN_TRAILERS,
};

void h1_req_chunks_reset(h1_req_chunks *c, uint32_t max_trailer_bytes);
/* Decodes from buf[*pos]: H1_CHUNKS_DATA with a run of body bytes in (*data, *data_len) and *pos past it;
   H1_CHUNKS_DONE with *pos past the body's last CRLF; H1_CHUNKS_MORE when all of buf was taken; H1_CHUNKS_BAD
   (c->error says why). */
int h1_req_chunks_feed(h1_req_chunks *c, const char *buf, uint32_t len, uint32_t *pos, const char **data, uint32_t *data_len);

/* ---- h1-exchange.c ---- */

typedef struct h1_listener h1_listener;
typedef struct dconn dconn;
typedef struct uconn uconn;

typedef struct h1_target {
  struct sockaddr_storage addr;
  uint32_t connect_timeout_ms;
  uint32_t idle_timeout_ms;
  uint32_t max_head_bytes; /* of a response */
  int max_conns;
  int max_pending;
  int open;                /* connections open or opening */
  uconn *idle;             /* most recently used first */
  dconn *waiting_head, *waiting_tail;
  int nwaiting;
} h1_target;

enum body_mode { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };
enum dstate { D_HEAD, D_EXCHANGE, D_CLOSING };

struct dconn {
  uv_tcp_t tcp;
  h1_listener *l;
  dconn *prev, *next;
  dconn *next_waiting;
  /* Client bytes read past the request being served (pipelining), kept until its exchange is done. */
  char *in;
  uint32_t in_len;
  char *req;             /* the upstream request head (H1_REQ_CAP bytes, the connection's own), kept until the
                            response starts: the one retry sends it again */
  uint32_t req_len;
  uint8_t state;
  uint8_t handle;
  uint8_t reading;
  uint8_t last;        /* the exchange in progress is the connection's last (close after it) */
  uint8_t client_eof;
  uint8_t shut;        /* our FIN was asked for */
  uint8_t waiting;     /* in its target's queue */
  int pending_writes;
  uint32_t served;        /* exchanges done on it */
  /* Handed back by the net engine (h1_adopt) and no exchange served here since: a handoff now bounces. */
  uint8_t adopted;
  /* Handbacks of this connection in a row that bounced (the net engine waits 2^bounces requests before the next). */
  uint8_t bounces;
  nl_turn_mark full_reads; /* fairness (listener-base.h): its full reads of a body in this turn of the loop */
  uint64_t deadline_ms;   /* head or keep-alive idle (D_HEAD), the response timeout (D_EXCHANGE) */
  char addr[INET6_ADDRSTRLEN];
  /* The exchange. */
  uconn *u;
  double decision;
  int target;
  char rid[129];         /* the request id: the client's, or one made here (UUID v4) */
  uint8_t is_head;
  uint8_t retried;
  uint8_t started;       /* response bytes went to the client */
  uint8_t body;          /* enum body_mode */
  uint8_t upstream_close;
  int status;
  uint64_t remaining;
  h1_chunks chunks;
  /* The request body (Content-Length): bytes not yet read from the client, and when it counts as stalled (while
     it is read). A request with a body is never sent again on a fresh connection (as on the net engine): the
     server may have consumed some of it. */
  uint64_t body_left;      /* a chunked body: 1 until its end is read */
  uint64_t body_deadline_ms;
  uint8_t has_body;
  uint8_t body_chunked;
  h1_req_chunks rchunks;
  /* Held for JavaScript (h1-park.c): 0 not, P_WAITING while its filters run, P_GATHERING while its body is read into
     gbuf (JavaScript's memory, kept alive there until the exchange's end is reported). */
  uint8_t parked;
  uint8_t expect_continue; /* a parked request's Expect: 100-continue, answered when its body is first wanted */
  /* Forwarded with its route's response filters to run (h1-response.c filtered_head): the exchange keeps its id
     until its end, and its response head (or local reply) goes through JavaScript before the client gets it. */
  uint8_t hook_response;
  uint16_t exid;
  char *gbuf;
  uint32_t glen, gfill;
  /* A gathered (or replaced) body to send after the head, from JavaScript's memory: at most two slices of
     H1_READ_BYTES a turn (h1_send_gathered), as a relayed body is read, so one megabyte is not one long write. */
  const char *gbody;
  uint32_t gbody_len, gbody_sent;
  uint8_t pacing; /* on the listener's list of bodies to go on with in the next turn */
  dconn *next_pacing;
};

enum { P_NOT, P_WAITING, P_GATHERING };

/* A kept decision (h1-cache.c). */
typedef struct h1_cached {
  uint32_t hash;
  uint16_t key_len; /* 0: empty */
  char key[H1_CACHE_KEY];
  double decision;
  double timeout_ms;
} h1_cached;

enum ustate { U_CONNECTING, U_BUSY, U_IDLE, U_CLOSING };

struct uconn {
  uv_tcp_t tcp;
  uv_connect_t connect;
  h1_listener *l;
  uconn *prev, *next;           /* every connection of the listener */
  uconn *idle_prev, *idle_next; /* its target's idle list */
  dconn *d;
  int target;
  uint8_t state;
  uint8_t handle;
  uint8_t reading;
  uint8_t got_bytes;            /* response bytes arrived for the current exchange */
  nl_turn_mark full_reads;      /* as dconn's */
  uint32_t requests;
  int writes;                   /* writes queued on it (request bytes its socket did not take at once) */
  uint64_t deadline_ms;         /* connect timeout (U_CONNECTING) or idle expiry (U_IDLE) */
  char *head;                   /* a response head begun in one read, joined by the next (max + one read bytes) */
  uint32_t head_len;
};

/* The JavaScript values a listener holds, by their place in its base's refs (listen()'s arguments 3..7). */
enum h1_ref { H1_REF_IO, H1_REF_DECIDE, H1_REF_DONE, H1_REF_FAILURE, H1_REF_HANDOFF, H1_REF_GATHERED, H1_REF_RESPONSE, H1_NREFS };

struct h1_listener {
  nlistener base; /* first: the listen socket, the sweep, the JavaScript values, the handle */
  uint8_t stopping;  /* draining: no new requests after the ones in progress */
  uint8_t pass_head; /* decide() gets the head, the request id and the client's address (fields, filters) */
  uint8_t keep_decisions; /* decisions may be kept (h1-cache.c): no route matches on header fields */
  uint32_t header_timeout_ms, idle_timeout_ms, body_timeout_ms;
  uint32_t max_trailer_bytes; /* a chunked request body's trailers: the listener's head limit, as on net */
  h1_limits limits;
  /* Shared with JavaScript: [0] the decided route's timeout (ms); [1 + 2i], [2 + 2i]: the ended exchanges not yet
     reported (decision, failure), `nends` of them; then H1_IO_CACHEABLE, H1_IO_CACHED_STARTS, H1_IO_QUIET_SLOT and
     H1_IO_QUIET_ENDS. */
  double *io;
  h1_cached *cache; /* H1_CACHE_SLOTS entries (NULL if the allocation failed: nothing is kept) */
  dconn **parked;   /* by exchange id (H1_EXCHANGE_IDS entries, made on the first park) */
  /* Gathered bodies with slices left for the next turn, and the zero-delay timer that runs that turn (h1-park.c). */
  dconn *pacing;
  uv_timer_t pace;
  uint8_t pace_state;
  int nends;
  h1_target *targets;
  int ntargets, captargets;
  dconn *dconns;
  int ndconns;
  uconn *uconns;
  int nuconns;
  char date[40]; /* "date: <IMF-fixdate>\r\n", refreshed when a response needs it */
  uint64_t date_s;
};

/* h1-exchange.c */
void h1_on_connection(uv_stream_t *server, int status);
/* A connection the net engine hands back between requests: a copy of its descriptor, and the bytes it read of the
   next request (pipelined) if any. 0, or an errno (the net engine then keeps it). */
int h1_adopt(h1_listener *l, int fd, const char *bytes, uint32_t len, uint32_t bounces);
uint64_t h1_now_ms(h1_listener *l);
/* Every deadline of a connection or an upstream connection is set through this (it returns `at`): the listener's
   one sweep runs when the earliest of them is due, rather than on a fixed tick. */
uint64_t h1_deadline(h1_listener *l, uint64_t at);
/* A write the socket did not take at once: its own copy of the bytes left, and the connection it is for. */
typedef struct h1_queued_write {
  uv_write_t req;
  void *owner;
  char data[];
} h1_queued_write;
/* Writes bufs on s at once when nothing is queued on it (`queued`: writes still pending); what it does not take is
   copied into an h1_queued_write for `owner` and queued, `cb` called when written. 0 (all written), 1 (queued), or
   a libuv error. Both directions write this way: h1_client_write, h1_upstream_write. `borrowed` (one buffer only):
   the rest is written from bufs[0]'s own memory instead of a copy, which the caller keeps until the exchange's end
   is reported (a gathered body, h1-park.c: a slice of it is not copied again). */
int h1_write(uv_stream_t *s, int queued, uv_buf_t *bufs, unsigned n, void *owner, uv_write_cb cb, int borrowed);
/* Writes bufs to the client; what its socket does not take now is copied and queued. 0, or -1 if it failed. */
int h1_client_write(dconn *d, uv_buf_t *bufs, unsigned n);
/* A whole response JavaScript rendered (latin1 "HTTP/1.1 NNN …", more than the status line's start): a malloc'd copy
   of its bytes and their count, or NULL when v is not one. */
char *h1_response_bytes(napi_env env, napi_value v, uint32_t *len);
/* A latin1 JavaScript string of s's len bytes. */
static inline napi_value h1_js_latin1(napi_env env, const char *s, size_t len) {
  napi_value out;
  napi_create_string_latin1(env, s, len, &out);
  return out;
}
/* Writes such a response to the client, its status kept in d->status: as h1_client_write. */
int h1_client_write_response(dconn *d, const char *bytes, uint32_t len);
/* Starts or stops reading the client. */
void h1_client_reading(dconn *d, int on);
/* d's upstream takes request body bytes (again): what was kept of the body goes first, then the client is read. */
void h1_body_resume(dconn *d);
/* The exchange is over: its upstream connection goes back to the pool (when reusable) or away, JavaScript is told,
   and the client connection waits for its next request (or closes). */
void h1_end_exchange(dconn *d, int failure, int upstream_reusable);
/* The exchange failed: a local reply when nothing of the response went out yet, else the client is reset. */
void h1_fail(dconn *d, int failure);
/* h1-response.c: response bytes for the exchange of u's client. */
void h1_on_response_bytes(uconn *u, const char *buf, uint32_t len);
/* h1-upstream.c */
/* Gets d a connection to its target (fresh: not a pooled one) and sends its request, or queues it, or answers 503. */
void h1_acquire(dconn *d, int fresh);
void h1_upstream_release(uconn *u);
/* Writes bufs on u; what its socket does not take now is copied (or, `borrowed`, written from their own memory:
   h1_write) and queued, and the client's body is not read until it is written. 0, or a libuv error: the caller
   calls h1_upstream_write_failed. */
int h1_upstream_write(uconn *u, uv_buf_t *bufs, unsigned n, int borrowed);
/* A write on u (serving d) failed: before any response byte that is a failed (or retried) exchange; after, the
   read side reports what happened. */
void h1_upstream_write_failed(uconn *u, dconn *d);
void h1_upstream_close(uconn *u);
/* Closes u, cut loose from the exchange it served: the exchange goes on without it (a retry, a failure). */
void h1_upstream_drop(uconn *u);
void h1_upstream_resume(uconn *u);
/* Takes d out of its target's queue of exchanges waiting for a connection, if it is in it. */
void h1_queue_remove(h1_listener *l, dconn *d);
void h1_on_sweep(uv_timer_t *timer);
/* Tells JavaScript of the exchanges ended since the last report (one call for all of them). */
void h1_report_ends(h1_listener *l);
void h1_refresh_date(h1_listener *l);
/* Stops new requests: idle client connections close now, busy ones after their response. */
void h1_drain(h1_listener *l);
/* Closes every connection (in flight ones are reset). */
void h1_close_all(h1_listener *l);

/* h1-park.c: exchanges held while JavaScript runs their route's filters. */
/* Holds d (its head parsed, nothing sent upstream) under the id in `decision`: 0, or -1 (the id is taken). */
int h1_park(dconn *d, double decision);
/* The exchange is over: its id is free. */
void h1_unpark(dconn *d);
dconn *h1_parked(h1_listener *l, double exid);
/* Reads the request body into buf (len: the whole body): 1 when it was all here already, 0 when reading, -1. */
int h1_gather(dconn *d, char *buf, uint32_t len);
/* Sends the next slices of d's gathered body (after its head): two a turn, the rest in the next turn or once the
   upstream took what is queued (h1_body_resume). */
void h1_send_gathered(dconn *d);
/* d's gathered body goes on in the loop's timer phase (libuv runs timers at the end of each turn, after the poll's
   callbacks and the check phase; a timer started in the timer phase waits for the next turn). */
void h1_pace_gathered(dconn *d);
/* d is closing: off the list of bodies to go on with. */
void h1_stop_pacing(dconn *d);
/* The pace timer: opened with the listener, closed with its handles. */
void h1_pace_open(h1_listener *l);
void h1_pace_close(h1_listener *l);
/* While gathering: the read lands in the body's memory (or nowhere, for fairness). */
void h1_gather_alloc(dconn *d, uv_buf_t *buf);
/* n bytes landed; JavaScript hears when the body is complete. */
void h1_gather_read(dconn *d, ssize_t n);
/* Room for an upstream request head of len bytes (and a NUL) in d->req: it, or NULL. */
char *h1_request_buffer(dconn *d, uint32_t len);
/* The filters let the request go: to the decision's target, with the head now in d->req (head_len bytes), then
   `body` (the gathered or replaced body; NULL: the body, if any, relayed from the client). `hook_response`: the
   response head, or a local reply, goes through JavaScript first (the route has response filters). 0, or -1. */
int h1_forward(dconn *d, double decision, double timeout_ms, uint32_t head_len, const char *body, uint32_t body_len, int hook_response);
/* A filter answered: the whole response (from h1_response_bytes; NULL when JavaScript passed something else: a 500),
   then the exchange ends (the connection closes after it when `close`). */
int h1_respond(dconn *d, const char *bytes, uint32_t len, int close);

/* h1-cache.c */
/* A kept decision for r's method, host and path: 1 (decision and timeout set), or 0. */
int h1_cache_lookup(h1_listener *l, const h1_request *r, double *decision, double *timeout_ms);
void h1_cache_store(h1_listener *l, const h1_request *r, double decision, double timeout_ms);
void h1_cache_clear(h1_listener *l);

/* ---- h1-listener.c ---- */
void h1_maybe_free_listener(h1_listener *l);

#endif
