// The native TCP relay: accept, upstream connect, byte relay and close for `protocol: tcp` listeners, on the
// worker's own libuv loop, through Node-API. Why native: a session through node:net costs about 250 µs of CPU, of
// which Node's per-socket JavaScript (Socket objects, streams, events, nextTicks) is more than half; a 10-line
// node:net relay was no faster. Here a session costs what its system calls cost, plus two calls into JavaScript:
// one at accept (which decides: the current generation's cluster and endpoint, or "give the connection to the
// JavaScript session" when filters must see it) and one at the end (counters, access log, generation drain).
// Everything that is policy stays in TypeScript (core/tcp/native-relay.ts); this file only moves bytes.
//
// A session: the client is accepted and not read until the upstream is connected (its bytes wait in the kernel).
// Connect failures and timeouts ask JavaScript for another endpoint. Then each read is written on at once from
// one scratch buffer per thread (no copy); only what the kernel does not take is copied into a queued write, and
// the side that produced it stops being read until that write is done (backpressure: at most one read's worth
// held per direction). A FIN is passed on with shutdown() (half-close); when both sides have sent theirs and
// every write is done, both sockets are closed. Failures reset both sides, so a cut stream never looks complete.

#define NAPI_VERSION 8
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

#define READ_BYTES 65536
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

/* Per thread (per Node environment). */
typedef struct listener listener;

typedef struct instance {
  char scratch[READ_BYTES];
  int alive; /* 0 once the environment is being torn down: no more calls into JavaScript */
  listener *listeners;
  napi_async_cleanup_hook_handle cleanup;
} instance;

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

struct listener {
  listener *next_in_instance;
  napi_env env;
  instance *inst;
  uv_tcp_t server;
  uv_timer_t sweep;
  uint8_t server_state;
  uint8_t sweep_state;
  uint8_t closed;      /* close() was called: new work is refused */
  uint8_t js_released; /* JavaScript dropped its handle (finalizer ran) */
  uint8_t addresses;   /* read the peer address at accept (the access log wants it) */
  uint64_t idle_ms, max_session_ms;
  double *totals;      /* [bytes from clients, bytes from upstreams] in a JS Float64Array */
  double *session_ids; /* [last session id given in this thread] (core/tcp/session-ids.ts), shared with TcpSession */
  napi_ref totals_ref, session_ids_ref, on_accept, on_connect_failed, on_end, on_handoff;
  napi_async_context async;
  target *targets;
  int ntargets, captargets;
  session *sessions;
  int nsessions;
};

static void maybe_free_listener(listener *l);
static void close_session(session *s, int reason, int reset);
static void start_attempt(session *s);
static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);
static void on_sweep(uv_timer_t *timer);

/* ---- calls into JavaScript ---- */

/* Calls `fn` with argv; the result's number, or `fallback` when JavaScript cannot be called or threw. */
static double call_js(listener *l, napi_ref fn, size_t argc, napi_value *argv, double fallback) {
  napi_value f, recv, result;
  double out = fallback;
  if (napi_get_reference_value(l->env, fn, &f) != napi_ok || napi_get_global(l->env, &recv) != napi_ok) return fallback;
  napi_status st = napi_make_callback(l->env, l->async, recv, f, argc, argv, &result);
  if (st == napi_ok) {
    napi_valuetype t;
    if (napi_typeof(l->env, result, &t) == napi_ok && t == napi_number) napi_get_value_double(l->env, result, &out);
  } else {
    bool pending = false;
    napi_is_exception_pending(l->env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(l->env, &err);
      napi_fatal_exception(l->env, err);
    }
  }
  return out;
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value str(napi_env env, const char *v) {
  napi_value out;
  napi_create_string_latin1(env, v, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* ---- session end ---- */

static void unlink_session(session *s) {
  listener *l = s->l;
  if (s->prev) s->prev->next = s->next;
  else l->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  l->nsessions--;
}

/* Both sockets are closed: tell JavaScript once, free the session. */
static void finish(session *s) {
  listener *l = s->l;
  unlink_session(s);
  if (l->inst->alive) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(l->env, &scope) == napi_ok) {
      napi_value argv[9] = {
        num(l->env, s->token),
        num(l->env, s->connected),
        num(l->env, s->bytes_from_client),
        num(l->env, s->bytes_from_upstream),
        num(l->env, (double)(uv_hrtime() - s->start_ns) / 1e6),
        num(l->env, s->reason),
        num(l->env, s->id),
        str(l->env, s->client_addr),
        num(l->env, s->client_port),
      };
      call_js(l, l->on_end, 9, argv, 0);
      napi_close_handle_scope(l->env, scope);
    }
  }
  free(s);
  maybe_free_listener(l);
}

static void maybe_finish(session *s) {
  if (s->stage == S_CLOSING && s->client.state == H_NONE && s->upstream.state == H_NONE) finish(s);
}

static void on_side_closed(uv_handle_t *h) {
  side *x = (side *)h;
  session *s = x->s;
  x->state = H_NONE;
  if (x == &s->upstream && s->stage == S_CONNECTING) {
    /* A failed attempt's socket is gone: try the next endpoint, or give up (the client is reset). */
    if (s->retry_token >= 0) {
      s->token = s->retry_token;
      start_attempt(s);
    } else close_session(s, s->reason, 1);
    return;
  }
  maybe_finish(s);
}

static void close_side(side *x, int reset) {
  if (x->state != H_OPEN) return;
  x->state = H_CLOSING;
  /* A reset is impossible (and pointless) after our FIN was asked for. */
  if (reset && !x->shut && uv_tcp_close_reset(&x->tcp, on_side_closed) == 0) return;
  uv_close((uv_handle_t *)&x->tcp, on_side_closed);
}

/* Ends the session: the first reason given is kept, but a FIN-named one gives way to what ends it (as TcpSession). */
static void close_session(session *s, int reason, int reset) {
  if (s->reason == R_NONE || s->reason == R_CLIENT_CLOSED || s->reason == R_UPSTREAM_CLOSED) s->reason = reason;
  s->stage = S_CLOSING;
  close_side(&s->client, reset);
  close_side(&s->upstream, reset);
  maybe_finish(s);
}

static int side_error(session *s, side *x, int err) {
  (void)s;
  int client = x == &x->s->client;
  if (err == UV_ECONNRESET || err == UV_EPIPE) return client ? R_CLIENT_RESET : R_UPSTREAM_RESET;
  return client ? R_CLIENT_ERROR : R_UPSTREAM_ERROR;
}

/* ---- relay ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  side *x = (side *)h;
  /* Every read is written on (or copied) before the next read: one buffer serves the whole thread. */
  buf->base = x->s->l->inst->scratch;
  buf->len = READ_BYTES;
}

static void both_done_if_flushed(session *s) {
  if (s->client.eof && s->upstream.eof && s->pending == 0 && s->stage == S_RELAYING) close_session(s, s->reason, 0);
}

static void on_written(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  side *from = w->from;
  session *s = from->s;
  free(w);
  s->pending--;
  if (s->stage != S_RELAYING) {
    maybe_finish(s);
    return;
  }
  if (status < 0) {
    close_session(s, side_error(s, from->peer, status), 1);
    return;
  }
  if (!from->eof && !from->reading) {
    from->reading = 1;
    s->last_active_ms = uv_now(s->l->server.loop);
    uv_read_start((uv_stream_t *)&from->tcp, on_alloc, on_read);
  }
  both_done_if_flushed(s);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  side *to = req->data;
  session *s = to->s;
  free(req);
  s->pending--;
  if (s->stage != S_RELAYING) {
    maybe_finish(s);
    return;
  }
  if (status < 0 && status != UV_ENOTCONN) {
    close_session(s, side_error(s, to, status), 1);
    return;
  }
  both_done_if_flushed(s);
}

static void on_eof(side *from) {
  session *s = from->s;
  side *to = from->peer;
  from->eof = 1;
  from->reading = 0;
  uv_read_stop((uv_stream_t *)&from->tcp);
  if (s->reason == R_NONE && !to->eof) s->reason = from == &s->client ? R_CLIENT_CLOSED : R_UPSTREAM_CLOSED;
  if (to->eof) {
    /* Both FINs are in: the close (once the writes are done) sends the last FIN, no shutdown() needed. */
    both_done_if_flushed(s);
    return;
  }
  uv_shutdown_t *req = malloc(sizeof *req);
  req->data = to;
  to->shut = 1;
  if (uv_shutdown(req, (uv_stream_t *)&to->tcp, on_shutdown) != 0) {
    free(req);
    close_session(s, side_error(s, to, UV_ENOTCONN), 1);
    return;
  }
  s->pending++;
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
  side *from = (side *)stream;
  session *s = from->s;
  if (s->stage != S_RELAYING) return;
  if (n > 0) {
    side *to = from->peer;
    listener *l = s->l;
    s->last_active_ms = uv_now(stream->loop);
    if (from == &s->client) {
      s->bytes_from_client += (double)n;
      l->totals[0] += (double)n;
    } else {
      s->bytes_from_upstream += (double)n;
      l->totals[1] += (double)n;
    }
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    int done = uv_try_write((uv_stream_t *)&to->tcp, &b, 1);
    if (done == n) return;
    if (done < 0 && done != UV_EAGAIN) {
      close_session(s, side_error(s, to, done), 1);
      return;
    }
    if (done < 0) done = 0;
    /* The kernel took only part: queue a copy of the rest and stop reading this side until it is written. */
    size_t rest = (size_t)n - (size_t)done;
    write_req *w = malloc(sizeof *w + rest);
    w->from = from;
    memcpy(w->data, buf->base + done, rest);
    uv_buf_t r = uv_buf_init(w->data, (unsigned)rest);
    int err = uv_write(&w->req, (uv_stream_t *)&to->tcp, &r, 1, on_written);
    if (err != 0) {
      free(w);
      close_session(s, side_error(s, to, err), 1);
      return;
    }
    s->pending++;
    from->reading = 0;
    uv_read_stop(stream);
    return;
  }
  if (n == 0) return;
  if (n == UV_EOF) on_eof(from);
  else close_session(s, side_error(s, from, (int)n), 1);
}

/* ---- upstream connect ---- */

static void attempt_failed(session *s, int err, int timed_out) {
  listener *l = s->l;
  s->reason = timed_out ? R_CONNECT_TIMEOUT : R_CONNECT_FAILED;
  s->retry_token = -1;
  if (!l->closed && l->inst->alive) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(l->env, &scope) == napi_ok) {
      napi_value argv[3] = {num(l->env, s->token), num(l->env, s->attempts), num(l->env, err)};
      s->retry_token = call_js(l, l->on_connect_failed, 3, argv, -1);
      napi_close_handle_scope(l->env, scope);
    }
  }
  /* The next attempt (or the end) comes when this socket is closed: on_side_closed. */
  close_side(&s->upstream, 0);
}

static void on_connect(uv_connect_t *req, int status) {
  session *s = req->data;
  if (status == UV_ECANCELED || s->stage != S_CONNECTING) return;
  if (status < 0) {
    attempt_failed(s, status, 0);
    return;
  }
  s->stage = S_RELAYING;
  s->connected = 1;
  s->reason = R_NONE;
  s->last_active_ms = uv_now(req->handle->loop);
  uv_tcp_nodelay(&s->upstream.tcp, 1);
  s->client.reading = s->upstream.reading = 1;
  uv_read_start((uv_stream_t *)&s->client.tcp, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&s->upstream.tcp, on_alloc, on_read);
}

static void start_attempt(session *s) {
  listener *l = s->l;
  uint64_t tokenbits = (uint64_t)s->token;
  int t = (int)(tokenbits & 0xffff);
  if (t >= l->ntargets) {
    close_session(s, R_CONNECT_FAILED, 1);
    return;
  }
  s->attempts++;
  uv_tcp_init(l->server.loop, &s->upstream.tcp);
  s->upstream.state = H_OPEN;
  s->upstream.shut = s->upstream.eof = 0;
  s->connect_deadline_ms = uv_now(l->server.loop) + l->targets[t].connect_timeout_ms;
  s->connect.data = s;
  int err = uv_tcp_connect(&s->connect, &s->upstream.tcp, (struct sockaddr *)&l->targets[t].addr, on_connect);
  if (err != 0) attempt_failed(s, err, 0);
}

/* ---- accept ---- */

static void addresses(session *s) {
  struct sockaddr_storage a;
  int len = sizeof a;
  if (uv_tcp_getpeername(&s->client.tcp, (struct sockaddr *)&a, &len) == 0) {
    if (a.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&a, s->client_addr, sizeof s->client_addr);
      s->client_port = ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&a, s->client_addr, sizeof s->client_addr);
      s->client_port = ntohs(((struct sockaddr_in *)&a)->sin_port);
    }
  }
}

/* A session that never started (handed to JavaScript or refused): only its client handle was opened. */
static void free_unstarted(uv_handle_t *h) {
  free(((side *)h)->s);
}

static void on_connection(uv_stream_t *server, int status) {
  listener *l = server->data;
  if (status < 0 || l->closed || !l->inst->alive) return;
  session *s = calloc(1, sizeof *s);
  s->l = l;
  s->client.s = s->upstream.s = s;
  s->client.peer = &s->upstream;
  s->upstream.peer = &s->client;
  uv_tcp_init(server->loop, &s->client.tcp);
  if (uv_accept(server, (uv_stream_t *)&s->client.tcp) != 0) {
    uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->env, &scope) != napi_ok) {
    uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    return;
  }
  double token = call_js(l, l->on_accept, 0, NULL, ACCEPT_REFUSE);
  if (token == ACCEPT_HANDOFF) {
    /* Filters must see this one: JavaScript gets a descriptor of its own and makes a net.Socket of it. */
    uv_os_fd_t fd;
    int copy = uv_fileno((uv_handle_t *)&s->client.tcp, &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    napi_value argv[1] = {num(l->env, copy)};
    if (copy >= 0) call_js(l, l->on_handoff, 1, argv, 0);
    napi_close_handle_scope(l->env, scope);
    return;
  }
  napi_close_handle_scope(l->env, scope);
  if (token < 0) {
    if (uv_tcp_close_reset(&s->client.tcp, free_unstarted) != 0) uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    return;
  }
  s->client.state = H_OPEN;
  s->token = token;
  s->id = ++l->session_ids[0];
  s->start_ns = uv_hrtime();
  uint64_t now = uv_now(server->loop);
  s->last_active_ms = now;
  s->end_deadline_ms = l->max_session_ms > 0 ? now + l->max_session_ms : 0;
  s->next = l->sessions;
  if (l->sessions) l->sessions->prev = s;
  l->sessions = s;
  l->nsessions++;
  if (l->addresses) addresses(s);
  uv_tcp_nodelay(&s->client.tcp, 1);
  if (!uv_is_active((uv_handle_t *)&l->sweep)) uv_timer_start(&l->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
  start_attempt(s);
}

/* ---- deadlines ---- */

static void on_sweep(uv_timer_t *timer) {
  listener *l = timer->data;
  if (l->nsessions == 0) {
    uv_timer_stop(timer);
    return;
  }
  uint64_t now = uv_now(timer->loop);
  /* Nothing here frees a session synchronously (that happens in close callbacks), so `next` stays valid. */
  for (session *s = l->sessions, *next; s != NULL; s = next) {
    next = s->next;
    if (s->stage == S_CONNECTING) {
      if (s->upstream.state == H_OPEN && now >= s->connect_deadline_ms) attempt_failed(s, UV_ETIMEDOUT, 1);
    } else if (s->stage == S_RELAYING) {
      if (s->end_deadline_ms != 0 && now >= s->end_deadline_ms) close_session(s, R_MAX_DURATION, 0);
      else if (now - s->last_active_ms >= l->idle_ms) close_session(s, R_IDLE_TIMEOUT, 0);
    }
  }
}

/* ---- the listener's life ---- */

static void instance_drop(instance *inst, listener *l) {
  for (listener **p = &inst->listeners; *p != NULL; p = &(*p)->next_in_instance) {
    if (*p == l) {
      *p = l->next_in_instance;
      break;
    }
  }
  if (inst->listeners == NULL && inst->cleanup != NULL) {
    napi_async_cleanup_hook_handle h = inst->cleanup;
    inst->cleanup = NULL;
    napi_remove_async_cleanup_hook(h);
  }
}

/* Frees the listener once JavaScript has let go of it and it has no handle or session left. */
static void maybe_free_listener(listener *l) {
  if (l->server_state != H_NONE || l->sweep_state != H_NONE || l->nsessions != 0) return;
  instance *inst = l->inst;
  int alive = inst->alive;
  if (!l->js_released && alive) return;
  instance_drop(inst, l);
  if (alive) {
    napi_delete_reference(l->env, l->totals_ref);
    napi_delete_reference(l->env, l->session_ids_ref);
    napi_delete_reference(l->env, l->on_accept);
    napi_delete_reference(l->env, l->on_connect_failed);
    napi_delete_reference(l->env, l->on_end);
    napi_delete_reference(l->env, l->on_handoff);
    napi_async_destroy(l->env, l->async);
  }
  free(l->targets);
  l->targets = NULL;
  /* In a teardown the finalizer may still come: it must find the listener, so it is kept (a few hundred bytes). */
  if (l->js_released) free(l);
}

static void on_server_closed(uv_handle_t *h) {
  listener *l = h->data;
  l->server_state = H_NONE;
  maybe_free_listener(l);
}

static void on_sweep_closed(uv_handle_t *h) {
  listener *l = h->data;
  l->sweep_state = H_NONE;
  maybe_free_listener(l);
}

static void stop_accepting(listener *l) {
  if (l->server_state != H_OPEN) return;
  l->server_state = H_CLOSING;
  uv_close((uv_handle_t *)&l->server, on_server_closed);
}

/* Stops accepting and closes every session (reason listener_closed); frees once all is closed. */
static void close_listener(listener *l) {
  l->closed = 1;
  stop_accepting(l);
  for (session *s = l->sessions, *next; s != NULL; s = next) {
    next = s->next;
    close_session(s, R_LISTENER_CLOSED, 0);
  }
  if (l->sweep_state == H_OPEN) {
    l->sweep_state = H_CLOSING;
    uv_close((uv_handle_t *)&l->sweep, on_sweep_closed);
  }
}

static void on_environment_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  instance *inst = data;
  (void)handle;
  inst->alive = 0;
  if (inst->listeners == NULL) {
    inst->cleanup = NULL;
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  for (listener *l = inst->listeners, *next; l != NULL; l = next) {
    next = l->next_in_instance;
    close_listener(l);
    /* One already closed has nothing left to call back: it is freed (and the hook released) here. */
    maybe_free_listener(l);
  }
}

static void finalize_listener(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  listener *l = data;
  l->js_released = 1;
  if (l->server_state == H_NONE && l->sweep_state == H_NONE && l->nsessions == 0 && !l->inst->alive) free(l);
  else maybe_free_listener(l);
}

/* ---- Node-API ---- */

#define THROW(env, code, msg)                  \
  do {                                         \
    napi_throw_error((env), (code), (msg));    \
    return NULL;                               \
  } while (0)

/* An IP address (string) and a port (number) from JavaScript as a socket address: 0, or -1 when not an IP. */
static int address_args(napi_env env, napi_value ip_value, napi_value port_value, struct sockaddr_storage *out) {
  char ip[64];
  size_t iplen = 0;
  int32_t port = 0;
  if (napi_get_value_string_latin1(env, ip_value, ip, sizeof ip, &iplen) != napi_ok || iplen >= sizeof ip - 1) return -1;
  if (napi_get_value_int32(env, port_value, &port) != napi_ok) return -1;
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)out) == 0) return 0;
  return -1;
}

static void free_unopened_listener(uv_handle_t *h) {
  free(h->data);
}

static listener *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* A Float64Array's memory, or NULL when `v` is not one with at least `n` elements. */
static double *float64s(napi_env env, napi_value v, size_t n) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < n) return NULL;
  return data;
}

/*
 * listen(address, port, exclusive, totals: Float64Array(2), sessionIds: Float64Array(1), onAccept, onConnectFailed,
 *        onEnd, onHandoff) → { handle, port }. Binds with SO_REUSEPORT (every worker binds the port) unless exclusive.
 */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  instance *inst;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_instance_data(env, (void **)&inst);
  if (argc < 9) THROW(env, "ERR_INVALID_ARG", "listen: 9 arguments");
  bool exclusive;
  napi_get_value_bool(env, argv[2], &exclusive);
  struct sockaddr_storage addr;
  if (address_args(env, argv[0], argv[1], &addr) != 0) THROW(env, "ERR_INVALID_ADDRESS", "listen: not an IP address");
  double *totals = float64s(env, argv[3], 2);
  double *session_ids = float64s(env, argv[4], 1);
  if (totals == NULL || session_ids == NULL) THROW(env, "ERR_INVALID_ARG", "listen: totals and sessionIds must be Float64Arrays");

  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) THROW(env, uv_err_name(-errno), "socket() failed");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!exclusive) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t alen = addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (struct sockaddr *)&addr, alen) != 0) {
    int e = errno;
    close(fd);
    THROW(env, uv_err_name(-e), "bind() failed");
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  listener *l = calloc(1, sizeof *l);
  l->env = env;
  l->inst = inst;
  l->totals = totals;
  l->session_ids = session_ids;
  l->idle_ms = 300000;
  uv_tcp_init(loop, &l->server);
  l->server.data = l;
  int err = uv_tcp_open(&l->server, fd);
  if (err != 0) close(fd);
  else err = uv_listen((uv_stream_t *)&l->server, 4096, on_connection);
  if (err != 0) {
    uv_close((uv_handle_t *)&l->server, free_unopened_listener);
    THROW(env, uv_err_name(err), "listen() failed");
  }
  l->server_state = H_OPEN;
  uv_timer_init(loop, &l->sweep);
  l->sweep.data = l;
  uv_unref((uv_handle_t *)&l->sweep);
  l->sweep_state = H_OPEN;
  napi_create_reference(env, argv[3], 1, &l->totals_ref);
  napi_create_reference(env, argv[4], 1, &l->session_ids_ref);
  napi_create_reference(env, argv[5], 1, &l->on_accept);
  napi_create_reference(env, argv[6], 1, &l->on_connect_failed);
  napi_create_reference(env, argv[7], 1, &l->on_end);
  napi_create_reference(env, argv[8], 1, &l->on_handoff);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_latin1(env, "MantouTcpListener", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &l->async);
  l->next_in_instance = inst->listeners;
  inst->listeners = l;
  if (inst->cleanup == NULL) napi_add_async_cleanup_hook(env, on_environment_teardown, inst, &inst->cleanup);

  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&l->server, (struct sockaddr *)&bound, &blen);
  int bound_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
  napi_value out, handle;
  napi_create_object(env, &out);
  napi_create_external(env, l, finalize_listener, NULL, &handle);
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "port", num(env, bound_port));
  return out;
}

/*
 * The listener a call is about (its first argument), with the call's `n` arguments in argv; NULL, with a JS
 * error thrown, when there are fewer or the first is not a listener handle.
 */
static listener *listener_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  listener *l = argc == n ? unwrap(env, argv[0]) : NULL;
  if (l == NULL) napi_throw_error(env, "ERR_INVALID_ARG", "not a listener handle");
  return l;
}

/* configure(handle, idleMs, maxSessionMs, addresses): applies to sessions accepted from now on (max) and all (idle). */
static napi_value Configure(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  listener *l = listener_call(env, info, 4, argv);
  if (l == NULL) return NULL;
  double idle, max;
  bool addrs;
  napi_get_value_double(env, argv[1], &idle);
  napi_get_value_double(env, argv[2], &max);
  napi_get_value_bool(env, argv[3], &addrs);
  l->idle_ms = (uint64_t)idle;
  l->max_session_ms = (uint64_t)max;
  l->addresses = addrs;
  return NULL;
}

/* addTarget(handle, ip, port, connectTimeoutMs) → the target's index, or -1 when ip is not an IP address. */
static napi_value AddTarget(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  listener *l = listener_call(env, info, 4, argv);
  if (l == NULL) return NULL;
  double timeout;
  napi_get_value_double(env, argv[3], &timeout);
  struct sockaddr_storage addr;
  if (address_args(env, argv[1], argv[2], &addr) != 0 || l->ntargets >= 0xffff) return num(env, -1);
  if (l->ntargets == l->captargets) {
    int cap = l->captargets == 0 ? 8 : l->captargets * 2;
    target *grown = realloc(l->targets, (size_t)cap * sizeof *grown);
    if (grown == NULL) return num(env, -1);
    l->targets = grown;
    l->captargets = cap;
  }
  l->targets[l->ntargets].addr = addr;
  l->targets[l->ntargets].connect_timeout_ms = (uint32_t)timeout;
  return num(env, l->ntargets++);
}

static napi_value StopAccepting(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) stop_accepting(l);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) close_listener(l);
  return NULL;
}

static void finalize_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  instance *inst = data;
  /* Listeners still listed belong to a torn-down environment; their memory goes with the thread. */
  if (inst->listeners == NULL) free(inst);
}

NAPI_MODULE_INIT() {
  instance *inst = calloc(1, sizeof *inst);
  inst->alive = 1;
  napi_set_instance_data(env, inst, finalize_instance, NULL);
  napi_property_descriptor props[] = {
    {"listen", NULL, Listen, NULL, NULL, NULL, napi_default, NULL},
    {"configure", NULL, Configure, NULL, NULL, NULL, napi_default, NULL},
    {"addTarget", NULL, AddTarget, NULL, NULL, NULL, napi_default, NULL},
    {"stopAccepting", NULL, StopAccepting, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
