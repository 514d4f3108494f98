// The native TCP relay's sessions: accept, upstream connect, byte relay and close for `protocol: tcp` listeners,
// on the worker's own libuv loop, through Node-API (l4-listener.c has the listeners and the functions TypeScript
// calls; l4-relay.h the types). Why native: a session through node:net costs about 250 µs of CPU, of
// which Node's per-socket JavaScript (Socket objects, streams, events, nextTicks) is more than half; a 10-line
// node:net relay was no faster. Here a session costs what its system calls cost, plus two calls into JavaScript:
// one at accept (which decides: the current generation's cluster and endpoint, or "give the connection to the
// JavaScript session" when filters must see it) and one at the end (counters, access log, generation drain).
// Everything that is policy stays in TypeScript (core/tcp/native-relay.ts); this code only moves bytes.
//
// A session: the client is accepted and not read until the upstream is connected (its bytes wait in the kernel).
// Connect failures and timeouts ask JavaScript for another endpoint. Then each read is written on at once from
// one scratch buffer per thread (no copy); only what the kernel does not take is copied into a queued write, and
// the side that produced it stops being read until that write is done (backpressure: at most one read's worth
// held per direction); after two full reads a side lets the thread's other connections go first for the rest of
// the turn of the loop (listener-base.h, "fairness"). A FIN is passed on with shutdown() (half-close); when both
// sides have sent theirs and every write is done, both sockets are closed. Failures reset both sides, so a cut
// stream never looks complete.

#include "l4-relay.h"

static void start_attempt(session *s);
static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

/* ---- calls into JavaScript ---- */

static double call_js(listener *l, int ref, size_t argc, napi_value *argv, double fallback) {
  return addon_call(l->base.env, l->base.async, l->base.refs[ref], argc, argv, fallback, NULL);
}

static napi_value num(napi_env env, double v) {
  return addon_num(env, v);
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
  if (l->base.inst->alive) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(l->base.env, &scope) == napi_ok) {
      napi_value argv[9] = {
        num(l->base.env, s->token),
        num(l->base.env, s->connected),
        num(l->base.env, s->bytes_from_client),
        num(l->base.env, s->bytes_from_upstream),
        num(l->base.env, (double)(uv_hrtime() - s->start_ns) / 1e6),
        num(l->base.env, s->reason),
        num(l->base.env, s->id),
        str(l->base.env, s->client_addr),
        num(l->base.env, s->client_port),
      };
      call_js(l, L4_ON_END, 9, argv, 0);
      napi_close_handle_scope(l->base.env, scope);
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
void close_session(session *s, int reason, int reset) {
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
  nl_read_buffer(&x->s->l->base, &x->full_reads, NL_FULL_READS_PER_TURN, buf);
}

static void both_done_if_flushed(session *s) {
  if (s->client.eof && s->upstream.eof && s->pending == 0 && s->stage == S_RELAYING) close_session(s, s->reason, 0);
}

/* A write or shutdown request of the session finished: 1 while it still relays; 0 once it is closing (and then
   maybe freed here, so the caller must not touch it). */
static int request_done(session *s) {
  s->pending--;
  if (s->stage == S_RELAYING) return 1;
  maybe_finish(s);
  return 0;
}

static void on_written(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  side *from = w->from;
  session *s = from->s;
  free(w);
  if (!request_done(s)) return;
  if (status < 0) {
    close_session(s, side_error(s, from->peer, status), 1);
    return;
  }
  if (!from->eof && !from->reading) {
    from->reading = 1;
    s->last_active_ms = uv_now(s->l->base.server.loop);
    uv_read_start((uv_stream_t *)&from->tcp, on_alloc, on_read);
  }
  both_done_if_flushed(s);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  side *to = req->data;
  session *s = to->s;
  free(req);
  if (!request_done(s)) return;
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
    if (done == n) {
      if (n == READ_BYTES) nl_full_read(&s->l->base, &from->full_reads);
      return;
    }
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
  /* UV_ENOBUFS: on_alloc gave no buffer, this side's full reads of the turn done (fairness): read on in the next. */
  if (n == 0 || n == UV_ENOBUFS) return;
  if (n == UV_EOF) on_eof(from);
  else close_session(s, side_error(s, from, (int)n), 1);
}

/* ---- upstream connect ---- */

static void attempt_failed(session *s, int err, int timed_out) {
  listener *l = s->l;
  s->reason = timed_out ? R_CONNECT_TIMEOUT : R_CONNECT_FAILED;
  s->retry_token = -1;
  if (!l->base.closed && l->base.inst->alive) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(l->base.env, &scope) == napi_ok) {
      napi_value argv[3] = {num(l->base.env, s->token), num(l->base.env, s->attempts), num(l->base.env, err)};
      s->retry_token = call_js(l, L4_ON_CONNECT_FAILED, 3, argv, -1);
      napi_close_handle_scope(l->base.env, scope);
    }
  }
  /* The next attempt (or the end) comes when this socket is closed: on_side_closed. */
  close_side(&s->upstream, 0);
}

static void sweep_by(listener *l, uint64_t at);

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
  sweep_by(s->l, s->last_active_ms + s->l->idle_ms);
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
  uv_tcp_init(l->base.server.loop, &s->upstream.tcp);
  s->upstream.state = H_OPEN;
  s->upstream.shut = s->upstream.eof = 0;
  s->connect_deadline_ms = uv_now(l->base.server.loop) + l->targets[t].connect_timeout_ms;
  sweep_by(l, s->connect_deadline_ms);
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

void on_connection(uv_stream_t *server, int status) {
  listener *l = server->data;
  if (status < 0 || l->base.closed || !l->base.inst->alive) return;
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
  if (napi_open_handle_scope(l->base.env, &scope) != napi_ok) {
    uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    return;
  }
  double token = call_js(l, L4_ON_ACCEPT, 0, NULL, ACCEPT_REFUSE);
  if (token == ACCEPT_HANDOFF) {
    /* Filters must see this one: JavaScript gets a descriptor of its own and makes a net.Socket of it. */
    uv_os_fd_t fd;
    int copy = uv_fileno((uv_handle_t *)&s->client.tcp, &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    uv_close((uv_handle_t *)&s->client.tcp, free_unstarted);
    napi_value argv[1] = {num(l->base.env, copy)};
    if (copy >= 0) call_js(l, L4_ON_HANDOFF, 1, argv, 0);
    napi_close_handle_scope(l->base.env, scope);
    return;
  }
  napi_close_handle_scope(l->base.env, scope);
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
  if (s->end_deadline_ms != 0) sweep_by(l, s->end_deadline_ms);
  start_attempt(s);
}

/* ---- deadlines ---- */

/* One sweep per listener meets every session's deadlines (connect timeout, idle timeout from the last byte, the
   session's maximum), due at the earliest (nl_sweep_by). A read only moves an idle deadline later, so it re-arms
   nothing: a sweep that comes early finds the new one and re-arms for it. */
static void sweep_by(listener *l, uint64_t at) {
  nl_sweep_by(&l->base, at, SWEEP_MS, on_sweep);
}

void on_sweep(uv_timer_t *timer) {
  listener *l = timer->data;
  uint64_t now = uv_now(timer->loop);
  nl_swept(&l->base, now);
  uint64_t due = UINT64_MAX;
  /* Nothing here frees a session synchronously (that happens in close callbacks), so `next` stays valid. A retried
     connect arms its own deadline through start_attempt. */
  for (session *s = l->sessions, *next; s != NULL; s = next) {
    next = s->next;
    if (s->stage == S_CONNECTING) {
      if (s->upstream.state != H_OPEN) continue;
      if (now >= s->connect_deadline_ms) attempt_failed(s, UV_ETIMEDOUT, 1);
      else if (s->connect_deadline_ms < due) due = s->connect_deadline_ms;
    } else if (s->stage == S_RELAYING) {
      uint64_t idle_at = s->last_active_ms + l->idle_ms;
      if (s->end_deadline_ms != 0 && now >= s->end_deadline_ms) close_session(s, R_MAX_DURATION, 0);
      else if (now >= idle_at) close_session(s, R_IDLE_TIMEOUT, 0);
      else {
        if (idle_at < due) due = idle_at;
        if (s->end_deadline_ms != 0 && s->end_deadline_ms < due) due = s->end_deadline_ms;
      }
    }
  }
  if (due != UINT64_MAX) sweep_by(l, due);
}
