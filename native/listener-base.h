// What the addon's two kinds of listener share (the TCP relay's, l4-listener.c, and the HTTP engine's,
// h1-listener.c): the listen socket bound with SO_REUSEPORT, the sweep timer, the JavaScript values held, the
// handle JavaScript gets, and the rule for when the memory may go. Each kind's struct starts with an `nlistener`.

#ifndef MANTOU_LISTENER_BASE_H
#define MANTOU_LISTENER_BASE_H

#include <stdbool.h>

#include "addon.h"

#define NL_MAX_REFS 8

enum nl_handle { NL_NONE, NL_OPEN, NL_CLOSING };
enum nl_kind { NL_TCP = 1, NL_HTTP = 2 };

typedef struct nlistener nlistener;

struct nlistener {
  int kind; /* enum nl_kind: a handle of one kind is never taken for the other */
  nlistener *next_in_instance;
  napi_env env;
  addon_instance *inst;
  uv_tcp_t server;
  uv_timer_t sweep;
  /* When the sweep (one-shot) fires next (UINT64_MAX: it is not set), and when it last ran (nl_sweep_by). */
  uint64_t sweep_at_ms, swept_ms;
  uv_check_t turn_check; /* after the poll phase of a turn that asked for it (nl_end_of_turn): turn_end, fairness */
  napi_async_context async;
  napi_ref refs[NL_MAX_REFS]; /* the callbacks and shared arrays JavaScript gave */
  int nrefs;
  uint8_t server_state, sweep_state, check_state; /* enum nl_handle */
  uint32_t turn;                     /* turns of the loop that ran the turn check (fairness) */
  uint8_t closed;                    /* close() was called: new work is refused */
  uint8_t js_released;               /* JavaScript dropped its handle (finalizer ran) */
  uint8_t dropped;                   /* released: out of the instance's list, references deleted */
  /* The kind's own: whether a connection (or handle) is left, its close (every connection and handle), and the
     memory it releases before the listener is freed. */
  int (*has_work)(nlistener *);
  void (*close)(nlistener *);
  void (*release)(nlistener *);
  /* The kind's work at the end of a turn it asked for with nl_end_of_turn (NULL: none). */
  void (*turn_end)(nlistener *);
};

#define NL_THROW(env, code, msg)            \
  do {                                      \
    napi_throw_error((env), (code), (msg)); \
    return NULL;                            \
  } while (0)

/*
 * Binds (address, port, exclusive in argv[0..2]), listens with `on_connection`, and starts holding `nrefs` values
 * from `refs` (each must outlive the listener). `b` is the start of a calloc'ed listener of `kind`, with its hooks
 * set; it is freed here when listening fails. Returns { handle, port }, or NULL with a JS error thrown.
 */
napi_value nl_open(napi_env env, nlistener *b, int kind, napi_value *argv, uv_connection_cb on_connection, const char *resource, napi_value *refs,
                   int nrefs);
/* The listener a call is about (its first argument, of `kind`), with the call's `n` arguments in argv; NULL with a
   JS error thrown otherwise. */
nlistener *nl_from_call(napi_env env, napi_callback_info info, int kind, size_t n, napi_value *argv);
void nl_stop_accepting(nlistener *b);
/* Deadlines are met by one sweep per listener over its connections or sessions (no timer per connection, re-armed
   on every read): the sweep is armed for `at`, or kept when it is due sooner, but never sooner than `min_gap_ms`
   after the last one ran. Each kind's sweep starts with nl_swept and ends by arming itself for the earliest deadline
   it saw, so nothing ticks while nothing is due: a fixed tick woke a sidecar four times a second for as long as it
   held idle keep-alive connections or TCP sessions. */
void nl_sweep_by(nlistener *b, uint64_t at, uint64_t min_gap_ms, uv_timer_cb on_sweep);
/* The sweep runs now: nothing is armed, and the gap counts from here. */
void nl_swept(nlistener *b, uint64_t now);
/* Stops accepting and closes the sweep timer (the kind closes its connections). */
void nl_close_handles(nlistener *b);
/* Frees the listener once JavaScript has let go of it (or the thread is going) and nothing is open. */
void nl_maybe_free(nlistener *b);
uint32_t nl_u32(napi_env env, napi_value v);

/*
 * Fairness between the connections of one thread, for both kinds. libuv reads a ready socket up to 32 times in a
 * row while reads come back full, so one large body or bulk stream would be relayed 2 MiB at a time — a millisecond
 * of this VM's time — while every other connection of the thread waits. So a connection's full reads are counted
 * per turn of the loop (its listener's turn number), and after NL_FULL_READS_PER_TURN of them its alloc callback
 * gives libuv no buffer for the rest of that turn: libuv then stops reading that socket for now (the read callback
 * gets UV_ENOBUFS, which the kinds ignore), without a system call, and the next poll reports it again
 * (level-triggered), after every other socket that was ready has been served. The listener's turn check, armed by the mark, advances the turn after the poll phase.
 * Backpressure (reads stopped by the owner) is untouched by this.
 */
/*
 * Full reads a connection may do in one turn before the others get theirs. One read (64 KiB) took small GETs' p99
 * beside ten 1 MiB uploads a second from 935 to 530 µs, but 50 streams of 1 MiB responses then cost twice the CPU
 * per response (847 against 453 µs, `npm run bench`): the sockets were drained in small steps. Two: 862 → 557 µs
 * beside the uploads (7 rounds) and 540 µs per 1 MiB response, 1,459 req/s (1.56× nginx). Four kept the throughput
 * but the p99 barely moved (619 → 585 µs).
 */
#define NL_FULL_READS_PER_TURN 2
/*
 * Full reads a turn for what a client sends (request bodies, gathered or relayed): one. Responses keep two (the
 * CPU per 1 MiB response above). Uploads lost nothing by it (wrk, 10 connections, 9 alternating rounds: 1 MiB
 * POSTs 2,064 against 1,918 req/s, 462 against 494 µs CPU each; 64 KiB POSTs 20.6k against 19.6k), and the
 * worker's turns longer than 0.2 ms while relaying ten 1 MiB uploads a second fell from 39-74 to 17-30 in 5 s
 * (perf trace of its epoll_pwait calls, three runs each; docs/offload-measurements.md).
 */
#define NL_BODY_READS_PER_TURN 1
/* A connection's full reads in the turn numbered `turn - 1` (0: none yet). */
typedef struct nl_turn_mark {
  uint32_t turn;
  uint32_t reads;
} nl_turn_mark;
/* The alloc callback of every connection of both kinds: the thread's scratch buffer (every read is written on, or
   copied, before the next, so one buffer serves the whole thread), or none once the connection had its full reads
   this turn. */
/* The connection had its full reads this turn: its alloc callback gives libuv no buffer. */
static inline int nl_turn_spent(const nlistener *b, const nl_turn_mark *m, uint32_t reads_per_turn) {
  return m->turn == b->turn + 1 && m->reads >= reads_per_turn;
}
static inline void nl_read_buffer(const nlistener *b, const nl_turn_mark *m, uint32_t reads_per_turn, uv_buf_t *buf) {
  *buf = nl_turn_spent(b, m, reads_per_turn) ? uv_buf_init(NULL, 0) : uv_buf_init(b->inst->scratch, ADDON_READ_BYTES);
}
/* Runs the listener's turn check after this turn's poll phase (turn_end, and the next turn for fairness). */
void nl_end_of_turn(nlistener *b);
/* After a full read: counted for this turn (the turn check, armed here each time, is what moves the turn on). */
void nl_full_read(nlistener *b, nl_turn_mark *m);

#endif
