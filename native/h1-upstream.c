// The native HTTP/1.1 engine's upstream connections: a keep-alive pool per target (most recently used first, read
// while idle so a server's close is seen before reuse), at most max_conns per target and then a bounded queue,
// connecting with a deadline, sending a request head, and what a connection's failure means for its exchange
// (the one retry on a fresh connection). h1-exchange.c says what the engine is for.

#include "h1.h"

static void u_on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);

/* ---- a target's queue of exchanges waiting for a connection ---- */

static void queue_push(h1_target *t, dconn *d) {
  d->waiting = 1;
  d->next_waiting = NULL;
  if (t->waiting_tail) t->waiting_tail->next_waiting = d;
  else t->waiting_head = d;
  t->waiting_tail = d;
  t->nwaiting++;
}

static dconn *queue_pop(h1_target *t) {
  dconn *d = t->waiting_head;
  if (d == NULL) return NULL;
  t->waiting_head = d->next_waiting;
  if (t->waiting_head == NULL) t->waiting_tail = NULL;
  t->nwaiting--;
  d->waiting = 0;
  return d;
}

void h1_queue_remove(h1_listener *l, dconn *d) {
  if (!d->waiting) return;
  h1_target *t = &l->targets[d->target];
  dconn *prev = NULL;
  for (dconn *w = t->waiting_head; w != NULL; prev = w, w = w->next_waiting) {
    if (w != d) continue;
    if (prev) prev->next_waiting = d->next_waiting;
    else t->waiting_head = d->next_waiting;
    if (t->waiting_tail == d) t->waiting_tail = prev;
    t->nwaiting--;
    break;
  }
  d->waiting = 0;
}

/* ---- connections ---- */

static void u_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  uconn *u = (uconn *)h;
  nl_read_buffer(&u->l->base, &u->full_reads, NL_FULL_READS_PER_TURN, buf);
}

static void u_on_closed(uv_handle_t *h) {
  uconn *u = (uconn *)h;
  h1_listener *l = u->l;
  /* Its place is free: an exchange queued for the target gets a new connection. */
  h1_target *t = &l->targets[u->target];
  while (t->waiting_head != NULL && t->open < t->max_conns && !l->base.closed) h1_acquire(queue_pop(t), 1);
  if (u->prev) u->prev->next = u->next;
  else l->uconns = u->next;
  if (u->next) u->next->prev = u->prev;
  l->nuconns--;
  free(u->head);
  free(u);
  h1_maybe_free_listener(l);
}

static void idle_unlink(uconn *u) {
  h1_target *t = &u->l->targets[u->target];
  if (u->idle_prev) u->idle_prev->idle_next = u->idle_next;
  else if (t->idle == u) t->idle = u->idle_next;
  if (u->idle_next) u->idle_next->idle_prev = u->idle_prev;
  u->idle_prev = u->idle_next = NULL;
}

void h1_upstream_close(uconn *u) {
  if (u->handle != HS_OPEN) return;
  if (u->state == U_IDLE) idle_unlink(u);
  u->state = U_CLOSING;
  u->handle = HS_CLOSING;
  u->l->targets[u->target].open--;
  uv_close((uv_handle_t *)&u->tcp, u_on_closed);
}

/* Closes u, cut loose from the exchange it served (if any): the exchange goes on without it (retry, failure). */
void h1_upstream_drop(uconn *u) {
  if (u->d != NULL) u->d->u = NULL;
  u->d = NULL;
  h1_upstream_close(u);
}

/* The connection failed before any of the response came. A reused one the server had just closed gets one retry
   on a fresh connection, as the other engines do, for a request without a body; otherwise 502. */
static void no_response(uconn *u, dconn *d) {
  if (u->requests > 1 && !d->retried && !d->has_body) {
    d->retried = 1;
    h1_upstream_drop(u);
    h1_acquire(d, 1);
    return;
  }
  h1_fail(d, F_RESET_BEFORE_RESPONSE);
}

static void on_upstream_written(uv_write_t *req, int status) {
  h1_queued_write *w = (h1_queued_write *)req;
  uconn *u = w->owner;
  free(w);
  u->writes--;
  dconn *d = u->d;
  if (u->handle != HS_OPEN || d == NULL) return;
  if (status < 0) {
    if (status != UV_ECANCELED) h1_upstream_write_failed(u, d);
    return;
  }
  /* Everything queued went: the client's body is read again. */
  if (u->writes == 0) h1_body_resume(d);
}

int h1_upstream_write(uconn *u, uv_buf_t *bufs, unsigned n, int borrowed) {
  int queued = h1_write((uv_stream_t *)&u->tcp, u->writes, bufs, n, u, on_upstream_written, borrowed);
  if (queued < 0) return queued;
  u->writes += queued;
  return 0;
}

void h1_upstream_write_failed(uconn *u, dconn *d) {
  /* After response bytes, the read side reports what happened. */
  if (!u->got_bytes) no_response(u, d);
}

/* Sends the client's request on u (attached to d): the head (with the body when it came whole with it), then what
   is here of a longer body, then the client is read for the rest. */
static void send_request(dconn *d, uconn *u) {
  d->u = u;
  u->d = d;
  u->state = U_BUSY;
  u->got_bytes = 0;
  u->head_len = 0;
  u->requests++;
  h1_upstream_resume(u);
  uv_buf_t b = uv_buf_init(d->req, d->req_len);
  if (h1_upstream_write(u, &b, 1, 0) != 0) {
    h1_upstream_write_failed(u, d);
    return;
  }
  /* A body gathered for the route's filters follows from its own memory, in slices from the timer phase on
     (JavaScript keeps it until the end is reported; a write still queued then is on a connection that closes, as it
     is not at a boundary). Not from here: libuv runs timers at the end of every turn, so two slices sent now would
     be followed by two more before the next poll, after the filters' verdict that sent this head. */
  if (d->gbody != NULL) {
    d->gbody_sent = 0;
    h1_pace_gathered(d);
    return;
  }
  if (d->body_left > 0) h1_body_resume(d);
}

/* A connection is free: the first queued exchange takes it, or it waits in the pool. */
void h1_upstream_release(uconn *u) {
  h1_listener *l = u->l;
  h1_target *t = &l->targets[u->target];
  if (u->handle != HS_OPEN) return;
  dconn *w = queue_pop(t);
  if (w != NULL) {
    send_request(w, u);
    return;
  }
  u->state = U_IDLE;
  u->d = NULL;
  u->deadline_ms = h1_deadline(l, h1_now_ms(l) + t->idle_timeout_ms);
  /* Idle, it is still read: a close by the server is seen (and the connection dropped) before it is reused. */
  h1_upstream_resume(u);
  u->idle_prev = NULL;
  u->idle_next = t->idle;
  if (t->idle) t->idle->idle_prev = u;
  t->idle = u;
}

static void on_upstream_connected(uv_connect_t *req, int status) {
  uconn *u = req->data;
  if (status == UV_ECANCELED || u->handle != HS_OPEN || u->state != U_CONNECTING) return;
  dconn *d = u->d;
  if (status < 0) {
    h1_upstream_drop(u);
    if (d != NULL) h1_fail(d, status == UV_ECONNREFUSED ? F_CONNECT_REFUSED : F_CONNECT_FAILED);
    return;
  }
  uv_tcp_nodelay(&u->tcp, 1);
  u->state = U_BUSY;
  if (d != NULL) send_request(d, u);
  else h1_upstream_release(u);
}

static void u_on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
  uconn *u = (uconn *)stream;
  /* UV_ENOBUFS: u_alloc gave no buffer, its full reads of this turn done (fairness): read on in the next. */
  if (u->handle != HS_OPEN || n == 0 || n == UV_ENOBUFS) return;
  dconn *d = u->d;
  if (u->state != U_BUSY || d == NULL) {
    /* Idle: the server closed it, or said something unasked. Either way it is done. */
    h1_upstream_close(u);
    return;
  }
  if (n > 0) {
    u->got_bytes = 1;
    h1_on_response_bytes(u, buf->base, (uint32_t)n);
    if (n == H1_READ_BYTES) nl_full_read(&u->l->base, &u->full_reads);
    return;
  }
  if (!u->got_bytes) {
    no_response(u, d);
    return;
  }
  if (n == UV_EOF && d->started && d->status >= 200 && d->body == B_CLOSE) {
    /* The end of a close-delimited body: the last chunk tells the client it is complete. */
    uv_buf_t last = uv_buf_init("0\r\n\r\n", 5);
    if (h1_client_write(d, &last, 1) != 0) h1_fail(d, F_DOWNSTREAM_ABORTED);
    else h1_end_exchange(d, F_NONE, 0);
    return;
  }
  h1_fail(d, d->started && d->status >= 200 ? F_MID_RESPONSE : F_RESET_BEFORE_RESPONSE);
}

/* Gets d a connection to its target: an idle one, a new one, or a place in the queue; or answers 503. */
void h1_acquire(dconn *d, int fresh) {
  h1_listener *l = d->l;
  h1_target *t = &l->targets[d->target];
  uint64_t now = h1_now_ms(l);
  while (!fresh && t->idle != NULL) {
    uconn *u = t->idle;
    idle_unlink(u);
    if (now >= u->deadline_ms) {
      u->state = U_BUSY;
      h1_upstream_close(u);
      continue;
    }
    send_request(d, u);
    return;
  }
  if (t->open >= t->max_conns) {
    if (t->nwaiting >= t->max_pending) {
      h1_fail(d, F_OVERFLOW);
      return;
    }
    queue_push(t, d);
    return;
  }
  uconn *u = calloc(1, sizeof *u);
  if (u == NULL) {
    h1_fail(d, F_CONNECT_FAILED);
    return;
  }
  u->l = l;
  u->target = d->target;
  u->state = U_CONNECTING;
  u->handle = HS_OPEN;
  u->d = d;
  u->deadline_ms = h1_deadline(l, now + t->connect_timeout_ms);
  u->connect.data = u;
  uv_tcp_init(l->base.server.loop, &u->tcp);
  u->next = l->uconns;
  if (l->uconns) l->uconns->prev = u;
  l->uconns = u;
  l->nuconns++;
  t->open++;
  d->u = u;
  int err = uv_tcp_connect(&u->connect, &u->tcp, (struct sockaddr *)&t->addr, on_upstream_connected);
  if (err != 0) {
    h1_upstream_drop(u);
    h1_fail(d, F_CONNECT_FAILED);
  }
}

/* Reads u (again): when it starts serving or waiting in the pool, and when the client took what was queued for it
   (backpressure released). */
void h1_upstream_resume(uconn *u) {
  if (u->reading || u->handle != HS_OPEN) return;
  u->reading = 1;
  uv_read_start((uv_stream_t *)&u->tcp, u_alloc, u_on_read);
}
