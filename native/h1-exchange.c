// The native HTTP/1.1 engine (`engine: native`): client connections, one exchange at a time, and keep-alive
// upstream connections pooled per target, on the worker's own libuv loop.
//
// Why: through Node, a proxied request costs about 60 µs of CPU, of which the kernel is under half; a bare
// node:net byte pipe already costs about 40 µs (README: the native engine). Here a request costs its system calls
// plus one call into JavaScript, decide() (the router, the cluster's load balancer, the request counters:
// everything that is policy stays in core/http/native-listener.ts), or none when a kept decision serves
// (h1-cache.c); done() (counters, the generation's drain) is called once per turn of the event loop for every
// exchange that ended in it.
//
// What stays native is the common case: an HTTP/1.1 request head complete in one read, with no body, a
// Content-Length one or a chunked one, on a route with no filters (or request-side ones only: JavaScript runs them
// while the exchange is held here, h1-park.c). Anything else — another transfer coding, an upgrade, HTTP/1.0, a
// head split across reads or over 8 KiB, an unusual field, a route with response-side filters or rewrites,
// any body when the listener has a whole-request timeout — is handed to the net engine: the connection's
// descriptor and the bytes read so far, at a request boundary, so it serves that request with everything it does;
// it hands the connection back between requests (h1_adopt; core/http/net-connection.ts says when). Nothing is
// answered twice or lost: a handoff happens only with no exchange in flight and every response byte written, a
// handback only with the response in the kernel and nothing of the next request parsed.
//
// An exchange: the request head is rewritten once (hop-by-hop fields out, X-Forwarded-*, x-request-id in) and sent
// on an idle pooled connection or a new one (at most max_conns per target, then a bounded queue, then 503). A
// request body follows it as the client sends it, one read at a time: the client is not read again until the
// upstream took the last one (backpressure), and a client silent for the listener's body timeout gets 408. The
// response head is parsed and rewritten (HTTP/1.1, hop-by-hop out, Date added when missing), the body passed on as
// it comes from one per-thread read buffer; only what the client's socket does not take is copied, and the
// upstream is not read again until that is written (backpressure). A body is relayed at most two full reads
// (a response's) or one (a request's) per connection per turn of the loop (listener-base.h), so a large one never
// holds up the thread's other connections. A close-delimited body is sent chunked, so the client can tell a
// complete response from a cut one. Failures before the response starts become the same local replies the other
// engines send (JavaScript renders them); after it starts, the client is reset.

#include "h1.h"

static void d_on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf);
static void process_input(dconn *d);
static void d_close(dconn *d, int reset);
static void relay_body(dconn *d, const char *buf, uint32_t len);
static int keep_input(dconn *d, const char *buf, uint32_t len);

/* ---- small things ---- */

uint64_t h1_now_ms(h1_listener *l) {
  return uv_now(l->base.server.loop);
}

/* Deadlines: one sweep per listener, due at the earliest (nl_sweep_by). */
uint64_t h1_deadline(h1_listener *l, uint64_t at) {
  if (at < l->base.sweep_at_ms) nl_sweep_by(&l->base, at, H1_SWEEP_MS, h1_on_sweep);
  return at;
}

/* A UUID v4 from the thread's pool of kernel randomness (refilled 4 KiB at a time, as Node's randomUUID does). */
static void make_request_id(addon_instance *inst, char *out) {
  static const char hexdigits[] = "0123456789abcdef";
  if (inst->random_used + 16 > sizeof inst->random) {
    uv_random(NULL, NULL, inst->random, sizeof inst->random, 0, NULL);
    inst->random_used = 0;
  }
  uint8_t *b = inst->random + inst->random_used;
  inst->random_used += 16;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hexdigits[b[i] >> 4];
    out[o++] = hexdigits[b[i] & 15];
  }
  out[o] = 0;
}

void h1_refresh_date(h1_listener *l) {
  static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  uv_timeval64_t tv;
  uv_gettimeofday(&tv);
  if ((uint64_t)tv.tv_sec == l->date_s) return;
  l->date_s = (uint64_t)tv.tv_sec;
  time_t t = (time_t)tv.tv_sec;
  struct tm g;
  gmtime_r(&t, &g);
  snprintf(l->date, sizeof l->date, "date: %s, %02d %s %d %02d:%02d:%02d GMT\r\n", days[g.tm_wday], g.tm_mday, months[g.tm_mon], g.tm_year + 1900,
           g.tm_hour, g.tm_min, g.tm_sec);
}

/* ---- writes (h1_write serves both directions) and the client's ---- */

static void d_close_gracefully(dconn *d);

static void on_client_written(uv_write_t *req, int status) {
  h1_queued_write *w = (h1_queued_write *)req;
  dconn *d = w->owner;
  free(w);
  d->pending_writes--;
  if (d->handle != HS_OPEN) return;
  if (status < 0) {
    d_close(d, 1);
    return;
  }
  if (d->pending_writes > 0) return;
  /* Everything is written: the upstream may be read again, a waiting close or next request may go on. */
  if (d->state == D_EXCHANGE && d->u != NULL) h1_upstream_resume(d->u);
  if (d->state == D_CLOSING) d_close_gracefully(d);
  else if (d->state == D_HEAD) process_input(d);
}

/* Copies bufs, minus their first `skip` bytes, to dst: the bytes copied. */
static size_t gather(char *dst, const uv_buf_t *bufs, unsigned n, size_t skip) {
  size_t o = 0;
  for (unsigned i = 0; i < n; i++) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    memcpy(dst + o, bufs[i].base + skip, len - skip);
    o += len - skip;
    skip = 0;
  }
  return o;
}

int h1_write(uv_stream_t *s, int queued, uv_buf_t *bufs, unsigned n, void *owner, uv_write_cb cb, int borrowed) {
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) total += bufs[i].len;
  /* Behind queued writes nothing may go first (libuv would refuse anyway). */
  int done = queued > 0 ? UV_EAGAIN : uv_try_write(s, bufs, n);
  if (done == (int)total) return 0;
  if (done < 0 && done != UV_EAGAIN) return done;
  size_t skip = done < 0 ? 0 : (size_t)done;
  h1_queued_write *w = malloc(sizeof *w + (borrowed ? 0 : total - skip));
  if (w == NULL) return UV_ENOMEM;
  w->owner = owner;
  /* Borrowed (one buffer): the rest is written from the caller's memory; else from a copy of it. */
  uv_buf_t rest = borrowed ? uv_buf_init(bufs[0].base + skip, (unsigned)(total - skip)) : uv_buf_init(w->data, (unsigned)gather(w->data, bufs, n, skip));
  int err = uv_write(&w->req, s, &rest, 1, cb);
  if (err != 0) {
    free(w);
    return err;
  }
  return 1;
}

/* Writes bufs to the client; what the socket does not take now is copied and queued. 0, or -1 if it failed. */
int h1_client_write(dconn *d, uv_buf_t *bufs, unsigned n) {
  int queued = h1_write((uv_stream_t *)&d->tcp, d->pending_writes, bufs, n, d, on_client_written, 0);
  if (queued < 0) return -1;
  if (queued == 0) return 0;
  d->pending_writes++;
  /* Backpressure: the upstream is read again once this is written. */
  if (d->u != NULL && d->u->reading) {
    d->u->reading = 0;
    uv_read_stop((uv_stream_t *)&d->u->tcp);
  }
  return 0;
}

/* ---- calls into JavaScript ---- */

/* done(count): the `count` exchanges in io[1..] are over. */
void h1_report_ends(h1_listener *l) {
  int n = l->nends;
  if (n == 0) return;
  l->nends = 0;
  if (!l->base.inst->alive) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->base.env, &scope) != napi_ok) return;
  napi_value argv[1] = {addon_num(l->base.env, n)};
  addon_call(l->base.env, l->base.async, l->base.refs[H1_REF_DONE], 1, argv, 0, NULL);
  napi_close_handle_scope(l->base.env, scope);
}

/* An exchange of the slot JavaScript named, that no filter held: its end needs nothing of JavaScript but a count. */
static int ends_quietly(const h1_listener *l, double decision) {
  double slot = l->io[H1_IO_QUIET_SLOT];
  if (slot <= 0 || decision < 0) return 0;
  uint64_t bits = (uint64_t)decision;
  return (double)(bits >> 32) == slot && (bits & 0xffffffffu) < H1_PARKED_TARGET;
}

/* An exchange is over: JavaScript hears of it after this turn of the loop, with the others that ended in it (one
   call instead of one per request; nothing waits on it but counters, a reloaded generation's drain and the onDone
   hooks of a held exchange's filters). Its failure and the status sent (0: none) share a number:
   failure + H1_STATUS_UNIT·status. One that ends well on the current generation's plain routes is only counted
   (ends_quietly): JavaScript reads the count when it next needs it (its stats, a reload, a drain), so a worker
   serving kept decisions calls no JavaScript at all — the call cost 10–12 µs of CPU at 1,000 req/s, where each
   turn ends one exchange on cold caches: about 8 µs a request, a sixth of the hop's CPU in a quiet hour. */
static void report_done(dconn *d, int failure) {
  h1_listener *l = d->l;
  if (failure == F_NONE && ends_quietly(l, d->decision)) {
    l->io[H1_IO_QUIET_ENDS] += 1;
    return;
  }
  l->io[1 + 2 * l->nends] = d->decision;
  l->io[2 + 2 * l->nends] = failure + H1_STATUS_UNIT * (double)d->status;
  if (++l->nends == H1_ENDS_BATCH) h1_report_ends(l);
  else nl_end_of_turn(&l->base);
}

/* The local reply for a failure, as JavaScript renders it (the same bytes the other engines send); sent, or not. */
static int send_local_reply(dconn *d, int failure) {
  h1_listener *l = d->l;
  if (!l->base.inst->alive) return -1;
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->base.env, &scope) != napi_ok) return -1;
  int close = d->last || l->stopping || d->client_eof;
  /* An exchange whose route has response filters: they see the reply too (the exchange's id says whose). */
  napi_value argv[5] = {addon_num(l->base.env, failure), h1_js_latin1(l->base.env, d->rid, strlen(d->rid)), addon_num(l->base.env, d->is_head),
                        addon_num(l->base.env, close), addon_num(l->base.env, d->hook_response ? d->exid : 0)};
  napi_value reply = NULL;
  addon_call(l->base.env, l->base.async, l->base.refs[H1_REF_FAILURE], 5, argv, 0, &reply);
  int sent = -1;
  uint32_t len = 0;
  char *bytes = reply != NULL ? h1_response_bytes(l->base.env, reply, &len) : NULL;
  if (bytes != NULL) {
    sent = h1_client_write_response(d, bytes, len);
    free(bytes);
  }
  napi_close_handle_scope(l->base.env, scope);
  return sent;
}

char *h1_response_bytes(napi_env env, napi_value v, uint32_t *len) {
  size_t n = 0;
  if (napi_get_value_string_latin1(env, v, NULL, 0, &n) != napi_ok || n <= 12 || n > UINT32_MAX - 1) return NULL;
  char *bytes = malloc(n + 1);
  if (bytes == NULL) return NULL;
  napi_get_value_string_latin1(env, v, bytes, n + 1, &n);
  if (memcmp(bytes, "HTTP/1.1 ", 9) != 0) {
    free(bytes);
    return NULL;
  }
  *len = (uint32_t)n;
  return bytes;
}

int h1_client_write_response(dconn *d, const char *bytes, uint32_t len) {
  d->status = (bytes[9] - '0') * 100 + (bytes[10] - '0') * 10 + (bytes[11] - '0');
  uv_buf_t b = uv_buf_init((char *)bytes, len);
  return h1_client_write(d, &b, 1);
}

/* ---- the end of an exchange ---- */

/* The exchange is over (response complete, or failed): the upstream connection goes back or away, JavaScript is
   told, and the client connection waits for its next request (or closes). */
void h1_end_exchange(dconn *d, int failure, int upstream_reusable) {
  h1_listener *l = d->l;
  uconn *u = d->u;
  d->u = NULL;
  h1_unpark(d);
  d->gbody = NULL;
  h1_stop_pacing(d);
  if (d->body_left > 0) {
    /* The request body was not all read (an early response, a failure): the upstream connection is mid-request,
       and the rest of the client's bytes cannot be told from a next request. Both close. */
    upstream_reusable = 0;
    d->last = 1;
    d->body_left = 0;
    free(d->in);
    d->in = NULL;
    d->in_len = 0;
  }
  /* Request bytes still queued on it: it is not known to be at a request boundary. */
  if (u != NULL && u->writes > 0) upstream_reusable = 0;
  if (u != NULL) {
    u->d = NULL;
    if (upstream_reusable && !d->upstream_close) h1_upstream_release(u);
    else h1_upstream_close(u);
  }
  /* Still queued for a connection: out of the queue. */
  h1_queue_remove(l, d);
  d->state = D_HEAD;
  d->served++;
  report_done(d, failure);
  if (d->handle != HS_OPEN) return;
  if (failure == F_MID_RESPONSE || failure == F_DOWNSTREAM_ABORTED) {
    /* A cut response is reset, so no client can take it for a complete one. */
    d_close(d, failure == F_MID_RESPONSE);
    return;
  }
  if (d->last || d->client_eof || l->stopping) {
    d->state = D_CLOSING;
    d->deadline_ms = h1_deadline(l, h1_now_ms(l) + H1_LINGER_MS);
    d_close_gracefully(d);
    return;
  }
  d->deadline_ms = h1_deadline(l, h1_now_ms(l) + l->idle_timeout_ms);
  if (d->pending_writes == 0) process_input(d);
}

/* The exchange failed: a local reply when nothing of the response went out yet, else the client is reset. */
void h1_fail(dconn *d, int failure) {
  if (d->state != D_EXCHANGE) return;
  if (d->started || failure == F_DOWNSTREAM_ABORTED) {
    h1_end_exchange(d, d->started && failure != F_DOWNSTREAM_ABORTED ? F_MID_RESPONSE : failure, 0);
    return;
  }
  d->started = 1;
  /* The rest of the request body will not be read: the reply says the connection closes. */
  if (d->body_left > 0) d->last = 1;
  if (send_local_reply(d, failure) != 0) d->last = 1;
  h1_end_exchange(d, failure, 0);
}

/* ---- client connections ---- */

static void d_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  dconn *d = (dconn *)h;
  if (d->parked == P_GATHERING) h1_gather_alloc(d, buf);
  else nl_read_buffer(&d->l->base, &d->full_reads, NL_BODY_READS_PER_TURN, buf);
}

void h1_client_reading(dconn *d, int on) {
  if (d->handle != HS_OPEN || d->reading == on) return;
  d->reading = (uint8_t)on;
  if (on) uv_read_start((uv_stream_t *)&d->tcp, d_alloc, d_on_read);
  else uv_read_stop((uv_stream_t *)&d->tcp);
}

static void d_on_closed(uv_handle_t *h) {
  dconn *d = (dconn *)h;
  h1_listener *l = d->l;
  if (d->prev) d->prev->next = d->next;
  else l->dconns = d->next;
  if (d->next) d->next->prev = d->prev;
  l->ndconns--;
  h1_stop_pacing(d);
  free(d->in);
  free(d->req);
  free(d);
  h1_maybe_free_listener(l);
}

static void d_close(dconn *d, int reset) {
  if (d->handle != HS_OPEN) return;
  if (d->state == D_EXCHANGE) h1_fail(d, F_DOWNSTREAM_ABORTED);
  if (d->handle != HS_OPEN) return;
  d->handle = HS_CLOSING;
  if (reset && uv_tcp_close_reset(&d->tcp, d_on_closed) == 0) return;
  uv_close((uv_handle_t *)&d->tcp, d_on_closed);
}

static void on_client_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

/* After the last response: our FIN once it is written, then the client's (or the linger deadline) closes. Closing
   at once could reset the connection over unread client bytes and destroy the response in the client's buffers. */
static void d_close_gracefully(dconn *d) {
  if (d->handle != HS_OPEN || d->pending_writes > 0 || d->shut) return;
  if (d->client_eof) {
    d_close(d, 0);
    return;
  }
  uv_shutdown_t *req = malloc(sizeof *req);
  if (req == NULL || uv_shutdown(req, (uv_stream_t *)&d->tcp, on_client_shutdown) != 0) {
    free(req);
    d_close(d, 0);
    return;
  }
  d->shut = 1;
  h1_client_reading(d, 1);
}

/* ---- the request body: Content-Length bytes passed on as they come ---- */

/* Keeps client bytes for their turn (after what is kept already) and stops reading until then: a pipelined
   request waits for the exchange before it, body bytes for the upstream to take them. 0, or -1 (closed). */
static int keep_input(dconn *d, const char *buf, uint32_t len) {
  char *grown = realloc(d->in, d->in_len + (size_t)len);
  if (grown == NULL) {
    d_close(d, 1);
    return -1;
  }
  memcpy(grown + d->in_len, buf, len);
  d->in = grown;
  d->in_len += len;
  h1_client_reading(d, 0);
  return 0;
}

/* Size lines, data and CRLFs written in one go: up to this many chunks of a read, then another write. */
#define H1_CHUNKS_PER_WRITE 32

/* A read of a chunked body: its data goes upstream framed as the net engine frames it (a size line, the data, a
   CRLF; at the end the last chunk alone: extensions and trailers are dropped). The bytes of buf that were body,
   or -1 when the body is malformed (the exchange then failed with the net engine's 400). *write_failed: a write
   failed (decoding went on, so a pipelined request after the body is still found). */
static int64_t relay_chunks(dconn *d, uconn *u, const char *buf, uint32_t len, int *write_failed) {
  uv_buf_t bufs[3 * H1_CHUNKS_PER_WRITE + 1];
  char sizes[H1_CHUNKS_PER_WRITE][12];
  unsigned n = 0, nsizes = 0;
  uint32_t pos = 0;
  *write_failed = 0;
  for (;;) {
    const char *data = NULL;
    uint32_t data_len = 0;
    int got = h1_req_chunks_feed(&d->rchunks, buf, len, &pos, &data, &data_len);
    if (got == H1_CHUNKS_BAD) {
      if (d->u != NULL) h1_upstream_drop(d->u);
      h1_fail(d, F_BAD_CHUNK + d->rchunks.error - 1);
      return -1;
    }
    if (got == H1_CHUNKS_DATA) {
      int sl = snprintf(sizes[nsizes], sizeof sizes[nsizes], "%x\r\n", data_len);
      bufs[n++] = uv_buf_init(sizes[nsizes++], (unsigned)sl);
      bufs[n++] = uv_buf_init((char *)data, data_len);
      bufs[n++] = uv_buf_init("\r\n", 2);
    } else if (got == H1_CHUNKS_DONE) {
      bufs[n++] = uv_buf_init("0\r\n\r\n", 5);
      d->body_left = 0;
    }
    if (got != H1_CHUNKS_DATA || nsizes == H1_CHUNKS_PER_WRITE) {
      if (n > 0 && !*write_failed && h1_upstream_write(u, bufs, n, 0) != 0) *write_failed = 1;
      n = nsizes = 0;
      if (got != H1_CHUNKS_DATA) return pos;
    }
  }
}

/* Client bytes while the upstream takes the body: its share goes upstream (copied only if the socket does not take
   it at once, and then the client is not read until it is written); what follows it is a pipelined request, kept. */
static void relay_body(dconn *d, const char *buf, uint32_t len) {
  uconn *u = d->u;
  uint32_t take;
  int write_failed = 0;
  if (d->body_chunked) {
    int64_t body = relay_chunks(d, u, buf, len, &write_failed);
    if (body < 0) return;
    take = (uint32_t)body;
  } else {
    take = (uint64_t)len < d->body_left ? len : (uint32_t)d->body_left;
    d->body_left -= take;
    uv_buf_t b = uv_buf_init((char *)buf, take);
    write_failed = h1_upstream_write(u, &b, 1, 0) != 0;
  }
  if (take < len && keep_input(d, buf + take, len - take) != 0) return;
  if (write_failed) {
    h1_upstream_write_failed(u, d);
    return;
  }
  if (d->body_left > 0 && u->writes > 0) h1_client_reading(d, 0);
  d->body_deadline_ms = d->body_left > 0 && d->reading ? h1_deadline(d->l, h1_now_ms(d->l) + d->l->body_timeout_ms) : UINT64_MAX;
}

void h1_body_resume(dconn *d) {
  if (d->gbody != NULL) {
    h1_send_gathered(d);
    return;
  }
  uconn *u = d->u;
  if (d->handle != HS_OPEN || d->state != D_EXCHANGE || d->body_left == 0 || u == NULL || u->state != U_BUSY || u->writes > 0) return;
  if (d->in_len > 0) {
    char *in = d->in;
    uint32_t len = d->in_len;
    d->in = NULL;
    d->in_len = 0;
    relay_body(d, in, len);
    free(in);
    if (d->handle != HS_OPEN || d->state != D_EXCHANGE || d->body_left == 0 || d->u != u || u->writes > 0) return;
  }
  h1_client_reading(d, 1);
  d->body_deadline_ms = h1_deadline(d->l, h1_now_ms(d->l) + d->l->body_timeout_ms);
}

/* The connection goes to the net engine: its own descriptor, and the bytes read so far that it has not served. */
static void handoff(dconn *d, const char *bytes, uint32_t len) {
  h1_listener *l = d->l;
  uv_os_fd_t fd;
  int copy = uv_fileno((uv_handle_t *)&d->tcp, &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  napi_handle_scope scope;
  if (copy >= 0 && l->base.inst->alive && napi_open_handle_scope(l->base.env, &scope) == napi_ok) {
    napi_value data;
    void *dst = NULL;
    napi_create_buffer_copy(l->base.env, len, bytes, &dst, &data);
    /* A connection handed back and handed over again before serving anything here bounced once more. */
    uint32_t bounces = d->adopted ? (uint32_t)d->bounces + 1 : 0;
    napi_value argv[3] = {addon_num(l->base.env, copy), data, addon_num(l->base.env, bounces)};
    addon_call(l->base.env, l->base.async, l->base.refs[H1_REF_HANDOFF], 3, argv, 0, NULL);
    napi_close_handle_scope(l->base.env, scope);
  } else if (copy >= 0) {
    close(copy);
  }
  /* Our descriptor closes; the connection lives on in the copy (libuv takes ours out of epoll first). */
  d->handle = HS_CLOSING;
  uv_close((uv_handle_t *)&d->tcp, d_on_closed);
}

/* The exchange's state for request r, from decision (its target, when it is not held for JavaScript). */
static void begin_exchange(dconn *d, const h1_request *r, double decision) {
  d->state = D_EXCHANGE;
  d->adopted = 0;
  d->decision = decision;
  d->target = (int)((uint64_t)decision & 0xffff);
  d->body_left = r->chunked ? 1 : r->content_length;
  d->body_deadline_ms = UINT64_MAX;
  d->has_body = r->chunked || r->content_length > 0;
  d->body_chunked = r->chunked;
  if (r->chunked) h1_req_chunks_reset(&d->rchunks, d->l->max_trailer_bytes);
  d->is_head = r->is_head;
  /* Once set (by the client, or by draining) it stays: the connection closes after this exchange. */
  if (r->close) d->last = 1;
  d->retried = d->started = 0;
  d->status = 0;
  d->upstream_close = 0;
}

/* decide() holds the exchange for the route's filters (h1-park.c): everything after the head is kept (body bytes,
   a pipelined request), and JavaScript says what comes next. A request without a body whose head came alone is
   read on meanwhile, as an unheld one is, so a client that goes away (its FIN) ends the exchange, as on the other
   engines, rather than stay unseen while its filters run and its upstream answers; whatever it sends is kept and
   stops the reading (keep_input). Otherwise the client is not read until its body is wanted. */
static void park_request(dconn *d, const h1_request *r, const char *data, uint32_t len, double decision) {
  if (d->in != NULL) {
    free(d->in);
    d->in = NULL;
    d->in_len = 0;
  }
  begin_exchange(d, r, decision);
  d->deadline_ms = UINT64_MAX;
  d->expect_continue = r->expect_continue;
  if (d->body_left > 0) h1_client_reading(d, 0);
  if (d->handle != HS_OPEN) {
    h1_fail(d, F_DOWNSTREAM_ABORTED);
    return;
  }
  if (h1_park(d, decision) != 0) {
    h1_fail(d, F_OVERFLOW);
    return;
  }
  /* On failure keep_input closed the connection, which ended the exchange. */
  if (len > r->head_len) keep_input(d, data + r->head_len, len - r->head_len);
  else if (d->body_left == 0) h1_client_reading(d, 1); /* (it usually is already: then nothing is called) */
}

/* Starts the exchange for the request whose head is at the start of data (len bytes). */
static void start_exchange(dconn *d, const char *data, uint32_t len) {
  h1_listener *l = d->l;
  if (d->req == NULL) d->req = malloc(H1_REQ_CAP);
  h1_request r;
  make_request_id(l->base.inst, d->rid);
  int got = d->req == NULL ? P_UNSUPPORTED : h1_parse_request(data, len, &l->limits, &r, d->addr, d->rid, d->req, H1_REQ_CAP, &d->req_len);
  if (got != P_DONE || !l->base.inst->alive || l->base.closed) {
    handoff(d, data, len);
    return;
  }
  /* Body bytes read with the head go with it in d->req when they fit (one write for both). More of the body is
     passed on from this read after the head (below). A pipelined request behind a complete request is kept for
     its turn: that copy is made before the request is counted (by decide() or a kept decision), so that nothing
     counted can fail to start. */
  uint32_t rest = len - r.head_len;
  uint32_t body_here = r.content_length < rest ? (uint32_t)r.content_length : rest;
  uint32_t with_head = !r.chunked && d->req_len + body_here <= H1_REQ_CAP ? body_here : 0;
  rest -= with_head;
  /* Then the rest of this read starts with body bytes. */
  int body_follows = r.chunked || r.content_length > with_head;
  char *keep = NULL;
  if (!body_follows && rest > 0 && (keep = malloc(rest)) == NULL) {
    handoff(d, data, len);
    return;
  }
  double decision, timeout_ms;
  if (h1_cache_lookup(l, &r, &decision, &timeout_ms)) {
    l->io[H1_IO_CACHED_STARTS] += 1;
  } else {
    napi_handle_scope scope;
    if (napi_open_handle_scope(l->base.env, &scope) != napi_ok) {
      free(keep);
      handoff(d, data, len);
      return;
    }
    napi_value argv[6] = {h1_js_latin1(l->base.env, r.method, r.method_len), h1_js_latin1(l->base.env, r.path, r.path_len),
                          h1_js_latin1(l->base.env, r.host, r.host_len), NULL, NULL, NULL};
    if (l->pass_head) {
      argv[3] = h1_js_latin1(l->base.env, data, r.head_len);
      argv[4] = h1_js_latin1(l->base.env, d->rid, strlen(d->rid));
      argv[5] = h1_js_latin1(l->base.env, d->addr, strlen(d->addr));
    }
    l->io[H1_IO_CACHEABLE] = 0;
    decision = addon_call(l->base.env, l->base.async, l->base.refs[H1_REF_DECIDE], l->pass_head ? 6 : 3, argv, H1_HANDOFF, NULL);
    napi_close_handle_scope(l->base.env, scope);
    if (decision < 0) {
      free(keep);
      if (d->handle == HS_OPEN) handoff(d, data, len);
      return;
    }
    if (((uint64_t)decision & 0xffff) == H1_PARKED_TARGET) {
      free(keep);
      park_request(d, &r, data, len, decision);
      return;
    }
    /* The route's timeout, put where we read it by decide(). */
    timeout_ms = l->io[0];
    if (l->io[H1_IO_CACHEABLE] != 0) h1_cache_store(l, &r, decision, timeout_ms);
  }
  memcpy(d->req + d->req_len, data + r.head_len, with_head);
  d->req_len += with_head;
  begin_exchange(d, &r, decision);
  d->body_left -= with_head;
  if (keep != NULL) {
    memcpy(keep, data + r.head_len + with_head, rest);
    free(d->in);
    d->in = keep;
    d->in_len = rest;
  } else if (d->in != NULL) {
    free(d->in);
    d->in = NULL;
    d->in_len = 0;
  }
  /* The route's timeout (0: none). */
  d->deadline_ms = timeout_ms > 0 ? h1_deadline(l, h1_now_ms(l) + (uint64_t)timeout_ms) : UINT64_MAX;
  if (d->handle != HS_OPEN || d->target >= l->ntargets) {
    /* Closed under us by JavaScript, or a target it never added: the stream it counted still ends. */
    h1_fail(d, d->handle != HS_OPEN ? F_DOWNSTREAM_ABORTED : F_CONNECT_FAILED);
    return;
  }
  if (r.expect_continue && (r.chunked || body_here < r.content_length)) {
    /* Expect: 100-continue, answered here once the request goes upstream (as the net engine does), while the body
       is not all here yet. */
    uv_buf_t cont = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
    if (h1_client_write(d, &cont, 1) != 0) {
      h1_fail(d, F_DOWNSTREAM_ABORTED);
      return;
    }
  }
  h1_acquire(d, 0);
  if (!body_follows || rest == 0 || d->handle != HS_OPEN || d->state != D_EXCHANGE) return;
  /* The body bytes of this read: passed on from the read buffer when the request went out at once (a pooled
     connection, the common case), else kept until it does. */
  const char *more = data + r.head_len + with_head;
  if (d->u != NULL && d->u->state == U_BUSY) relay_body(d, more, rest);
  else keep_input(d, more, rest);
}

/* Serves what the client sent while its previous exchange ran, if anything. */
static void process_input(dconn *d) {
  if (d->state != D_HEAD || d->handle != HS_OPEN || d->pending_writes > 0) return;
  if (d->in_len > 0) {
    char *in = d->in;
    uint32_t len = d->in_len;
    d->in = NULL;
    d->in_len = 0;
    /* Parsed where it was kept: it can be longer than a read (the rest of one read, then one more), so it does
       not fit the thread's read buffer. start_exchange copies what it keeps, and writes or copies what it sends. */
    start_exchange(d, in, len);
    free(in);
    return;
  }
  if (d->client_eof) d_close(d, 0);
  else h1_client_reading(d, 1);
}

static void d_on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf) {
  dconn *d = (dconn *)stream;
  /* UV_ENOBUFS: d_alloc gave no buffer, its full reads of this turn done (fairness): read on in the next. */
  if (d->handle != HS_OPEN || n == 0 || n == UV_ENOBUFS) return;
  if (n < 0) {
    h1_client_reading(d, 0);
    if (n != UV_EOF) {
      d_close(d, 1);
      return;
    }
    d->client_eof = 1;
    /* Like the other engines (and nginx), a client that closes its side before its response is complete is taken
       as gone: the exchange is aborted and its upstream connection closed, rather than kept for a reader that may
       not exist. Between requests the connection ends once what was answered is written. */
    if (d->state == D_EXCHANGE) d_close(d, 0);
    else if (d->pending_writes == 0) d_close(d, 0);
    else d->state = D_CLOSING;
    return;
  }
  if (d->state == D_CLOSING) return; /* lingering: what the client still sends is dropped */
  if (d->parked == P_GATHERING) {
    h1_gather_read(d, n);
    return;
  }
  if (d->state == D_EXCHANGE && d->body_left > 0 && d->in_len == 0 && d->u != NULL && d->u->state == U_BUSY && d->u->writes == 0) {
    relay_body(d, buf->base, (uint32_t)n);
    if (n == H1_READ_BYTES) nl_full_read(&d->l->base, &d->full_reads);
    return;
  }
  if (d->state == D_EXCHANGE || d->in_len > 0 || d->pending_writes > 0) {
    /* Pipelined, or body bytes the upstream cannot take yet: kept (one read at most) until their turn. */
    keep_input(d, buf->base, (uint32_t)n);
    return;
  }
  start_exchange(d, buf->base, (uint32_t)n);
}

/* A client connection whose handle is open (accepted, or adopted): on the listener's list, its address known. */
static void d_open(h1_listener *l, dconn *d) {
  d->handle = HS_OPEN;
  d->state = D_HEAD;
  d->next = l->dconns;
  if (l->dconns) l->dconns->prev = d;
  l->dconns = d;
  l->ndconns++;
  struct sockaddr_storage a;
  int alen = sizeof a;
  if (uv_tcp_getpeername(&d->tcp, (struct sockaddr *)&a, &alen) == 0) {
    if (a.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&a, d->addr, sizeof d->addr);
    else uv_ip4_name((struct sockaddr_in *)&a, d->addr, sizeof d->addr);
  }
  uv_tcp_nodelay(&d->tcp, 1);
  d->deadline_ms = h1_deadline(l, h1_now_ms(l) + l->header_timeout_ms);
}

void h1_on_connection(uv_stream_t *server, int status) {
  h1_listener *l = server->data;
  if (status < 0 || l->base.closed || !l->base.inst->alive) return;
  dconn *d = calloc(1, sizeof *d);
  if (d == NULL) return;
  d->l = l;
  uv_tcp_init(server->loop, &d->tcp);
  if (uv_accept(server, (uv_stream_t *)&d->tcp) != 0) {
    uv_close((uv_handle_t *)&d->tcp, (uv_close_cb)free);
    return;
  }
  d_open(l, d);
  h1_client_reading(d, 1);
}

/* The mirror of handoff(): the net engine closes its descriptor once this returns 0; ours is a copy of it. */
int h1_adopt(h1_listener *l, int fd, const char *bytes, uint32_t len, uint32_t bounces) {
  if (l->base.closed || l->stopping || !l->base.inst->alive) return ECANCELED;
  dconn *d = calloc(1, sizeof *d);
  char *in = len > 0 ? malloc(len) : NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d == NULL || (len > 0 && in == NULL) || copy < 0) {
    int err = copy < 0 ? errno : ENOMEM;
    if (copy >= 0) close(copy);
    free(d);
    free(in);
    return err;
  }
  d->l = l;
  uv_tcp_init(l->base.server.loop, &d->tcp);
  int rc = uv_tcp_open(&d->tcp, copy);
  if (rc != 0) {
    close(copy);
    free(in);
    uv_close((uv_handle_t *)&d->tcp, (uv_close_cb)free);
    return -rc;
  }
  d_open(l, d);
  /* Between requests of a keep-alive connection: idle, as after an exchange served here. */
  d->served = 1;
  d->adopted = 1;
  d->bounces = bounces > 250 ? 250 : (uint8_t)bounces;
  d->deadline_ms = h1_deadline(l, h1_now_ms(l) + l->idle_timeout_ms);
  if (in != NULL) {
    memcpy(in, bytes, len);
    d->in = in;
    d->in_len = len;
  }
  /* Serves the pipelined request (which may hand the connection over again at once), or reads. */
  process_input(d);
  return 0;
}

/* ---- deadlines, draining, closing ---- */

void h1_on_sweep(uv_timer_t *timer) {
  h1_listener *l = timer->data;
  uint64_t now = h1_now_ms(l);
  nl_swept(&l->base, now);
  /* The earliest deadline still ahead: the next sweep. Deadlines set while this one runs (a failure's linger) set
     it through h1_deadline as well. */
  uint64_t next = UINT64_MAX;
  for (dconn *d = l->dconns, *after; d != NULL; d = after) {
    after = d->next;
    if (d->handle != HS_OPEN) continue;
    if (d->state == D_EXCHANGE && d->body_left > 0 && d->reading && now >= d->body_deadline_ms) {
      /* The client stopped sending its body (not paused by us: then it is not read): 408, and both sides close. */
      d->last = 1;
      if (d->u != NULL) h1_upstream_drop(d->u);
      h1_fail(d, F_BODY_TIMEOUT);
      continue;
    }
    if (now < d->deadline_ms) {
      if (d->deadline_ms < next) next = d->deadline_ms;
      /* A body deadline counts only while the body is read; one past or paused is set again when reading resumes. */
      if (d->body_deadline_ms > now && d->body_deadline_ms < next) next = d->body_deadline_ms;
      continue;
    }
    if (d->state == D_EXCHANGE) {
      if (d->u != NULL) h1_upstream_drop(d->u);
      h1_fail(d, F_RESPONSE_TIMEOUT);
    } else {
      /* Idle keep-alive, a head that never came (nothing read: a head in progress went to the net engine), or the
         linger after our last response. */
      d_close(d, 0);
    }
  }
  for (uconn *u = l->uconns, *after; u != NULL; u = after) {
    after = u->next;
    if (u->handle != HS_OPEN) continue;
    if (now < u->deadline_ms) {
      if ((u->state == U_CONNECTING || u->state == U_IDLE) && u->deadline_ms < next) next = u->deadline_ms;
      continue;
    }
    if (u->state == U_CONNECTING) {
      dconn *d = u->d;
      h1_upstream_drop(u);
      if (d != NULL) h1_fail(d, F_CONNECT_TIMEOUT);
    } else if (u->state == U_IDLE) {
      h1_upstream_close(u);
    }
  }
  if (next != UINT64_MAX) nl_sweep_by(&l->base, next, H1_SWEEP_MS, h1_on_sweep);
}

void h1_drain(h1_listener *l) {
  l->stopping = 1;
  for (dconn *d = l->dconns, *next; d != NULL; d = next) {
    next = d->next;
    /* Idle between requests: closed. A fresh connection still gets its first request answered (its bytes may be
       on the way), with Connection: close, as the net engine does; so does one with a request in progress. */
    if (d->state == D_HEAD && d->served > 0 && d->pending_writes == 0 && d->in_len == 0) d_close(d, 0);
    else d->last = 1;
  }
}

void h1_close_all(h1_listener *l) {
  l->stopping = 1;
  for (dconn *d = l->dconns, *next; d != NULL; d = next) {
    next = d->next;
    d_close(d, d->state == D_EXCHANGE);
  }
  for (uconn *u = l->uconns, *next; u != NULL; u = next) {
    next = u->next;
    h1_upstream_close(u);
  }
}
