// Shared by the native TCP relay's two files: l4-session.c (a session: accept, connect, relay, close, deadlines)
// and l4-listener.c (a listener's life, and the Node-API functions TypeScript calls). See l4-session.c for what the
// relay does and why it is native.

#ifndef MANTOU_L4_RELAY_H
#define MANTOU_L4_RELAY_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "listener-base.h"

#define READ_BYTES ADDON_READ_BYTES
#define SWEEP_MS 250
/* JavaScript's answers at accept (core/tcp/native-relay.ts keeps the same numbers). */
#define ACCEPT_HANDOFF (-1)
#define ACCEPT_REFUSE (-2)

/* Close reasons, in the order of REASONS in core/tcp/native-relay.ts. */
enum reason {
  R_NONE,
  R_CLIENT_CLOSED,
  R_UPSTREAM_CLOSED,
  R_CLIENT_RESET,
  R_CLIENT_ERROR,
  R_UPSTREAM_RESET,
  R_UPSTREAM_ERROR,
  R_CONNECT_FAILED,
  R_CONNECT_TIMEOUT,
  R_IDLE_TIMEOUT,
  R_MAX_DURATION,
  R_LISTENER_CLOSED,
};

enum stage { S_CONNECTING, S_RELAYING, S_CLOSING };
enum handle_state { H_NONE, H_OPEN, H_CLOSING };

typedef struct listener listener;

typedef struct target {
  struct sockaddr_storage addr;
  uint32_t connect_timeout_ms;
} target;

typedef struct session session;

typedef struct side {
  uv_tcp_t tcp;
  session *s;
  struct side *peer;
  uint8_t state;   /* enum handle_state */
  uint8_t eof;     /* its FIN arrived */
  uint8_t shut;    /* our FIN to it was asked for */
  uint8_t reading;
  nl_turn_mark full_reads; /* fairness (listener-base.h): its full reads in this turn of the loop */
} side;

struct session {
  side client, upstream;
  uv_connect_t connect;
  listener *l;
  session *prev, *next;
  double id;
  double token;          /* JavaScript's name for (generation context, endpoint, target) */
  uint64_t start_ns;
  uint64_t last_active_ms;
  uint64_t connect_deadline_ms;
  uint64_t end_deadline_ms;
  double bytes_from_client, bytes_from_upstream;
  double retry_token;    /* after a failed attempt: the next one, or < 0 to give up */
  int pending;           /* queued writes and shutdowns */
  int attempts;
  uint8_t stage;
  uint8_t connected;
  uint8_t reason;
  uint8_t reset;         /* the close is a reset */
  char client_addr[INET6_ADDRSTRLEN];
  int client_port;
};

typedef struct write_req {
  uv_write_t req;
  side *from; /* the side whose bytes these are: read again once they are written */
  char data[];
} write_req;

/* The JavaScript values a listener holds, by their place in its base's refs (listen()'s arguments 3..8). */
enum l4_ref { L4_TOTALS, L4_SESSION_IDS, L4_ON_ACCEPT, L4_ON_CONNECT_FAILED, L4_ON_END, L4_ON_HANDOFF, L4_NREFS };

struct listener {
  nlistener base; /* first: the listen socket, the sweep, the JavaScript values, the handle */
  uint8_t addresses;   /* read the peer address at accept (the access log wants it) */
  uint64_t idle_ms, max_session_ms;
  double *totals;      /* [bytes from clients, bytes from upstreams] in a JS Float64Array */
  double *session_ids; /* [last session id given in this thread] (core/tcp/session-ids.ts), shared with TcpSession */
  target *targets;
  int ntargets, captargets;
  session *sessions;
  int nsessions;
};

/* l4-session.c */
void on_connection(uv_stream_t *server, int status);
void on_sweep(uv_timer_t *timer);
void close_session(session *s, int reason, int reset);

/* l4-listener.c */
void maybe_free_listener(listener *l);

#endif
