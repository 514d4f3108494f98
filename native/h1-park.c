// Exchanges the native engine holds while JavaScript runs their route's filters (core/http/native-filtered.ts):
// the client's connection stays here, so a filtered request costs its filters and nothing of the net engine.
//
// decide() answers a decision whose target bits are H1_PARKED_TARGET: the request head is parsed, nothing went
// upstream, and the client is not read. JavaScript then calls, by the exchange's id (bits 16..31 of the decision):
//   gather(buf)   read the whole Content-Length body into buf (its memory: shared memory from the body pool, so
//                 an offload thread reads it in place); gathered(id) is called when it is complete;
//   forward(...)  send it upstream with the head JavaScript wrote (the filters may have changed it), the gathered
//                 (or replaced) body after it, or the body relayed from the client as it comes; for a route with
//                 response filters, the response head (or a local reply) then goes through response(id, head)
//                 (h1-response.c) before the client gets it;
//   respond(...)  a filter answered: write the response and end the exchange.
// A gathered body goes upstream in slices, two a turn, as a relayed body is read (listener-base.h, fairness): written
// at once, a megabyte was one 0.2–0.4 ms system call (strace) that every other request of the thread waited for.
// An exchange held here ends like any other (a client gone, a stalled body, the listener closed): done() reports
// it with its decision, and JavaScript forgets it then. Until then JavaScript keeps the gathered body's memory.

#include "h1.h"

int h1_park(dconn *d, double decision) {
  h1_listener *l = d->l;
  uint32_t id = (uint32_t)(((uint64_t)decision >> 16) & 0xffff);
  if (l->parked == NULL && (l->parked = calloc(H1_EXCHANGE_IDS, sizeof *l->parked)) == NULL) return -1;
  if (id == 0 || l->parked[id] != NULL) return -1;
  l->parked[id] = d;
  d->exid = (uint16_t)id;
  d->parked = P_WAITING;
  return 0;
}

void h1_unpark(dconn *d) {
  if (d->exid != 0 && d->l->parked != NULL && d->l->parked[d->exid] == d) d->l->parked[d->exid] = NULL;
  d->exid = 0;
  d->parked = P_NOT;
  d->hook_response = 0;
  d->gbuf = NULL;
  d->glen = d->gfill = 0;
}

dconn *h1_parked(h1_listener *l, double exid) {
  if (l->parked == NULL || !(exid > 0 && exid < H1_EXCHANGE_IDS)) return NULL;
  dconn *d = l->parked[(uint32_t)exid];
  return d != NULL && d->handle == HS_OPEN && d->state == D_EXCHANGE ? d : NULL;
}

/* Expect: 100-continue is answered when the body is first wanted (as the net engine does, not on a local reply). */
static int answer_expect(dconn *d) {
  if (!d->expect_continue || d->body_left == 0) return 0;
  d->expect_continue = 0;
  uv_buf_t cont = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
  return h1_client_write(d, &cont, 1);
}

/* A call JavaScript should not have made of a held exchange: it ends with a 500 rather than stay held. */
static int broken_contract(dconn *d) {
  h1_unpark(d);
  d->last = 1;
  h1_fail(d, F_INTERNAL);
  return -1;
}

int h1_gather(dconn *d, char *buf, uint32_t len) {
  if (d->parked != P_WAITING) return -1;
  if (d->body_chunked || (uint64_t)len != d->body_left) return broken_contract(d);
  /* Body bytes read with the head (or after it) first; what follows the body is a pipelined request, kept. */
  uint32_t have = d->in_len < len ? d->in_len : len;
  if (have > 0) {
    memcpy(buf, d->in, have);
    if (have == d->in_len) {
      free(d->in);
      d->in = NULL;
      d->in_len = 0;
    } else {
      memmove(d->in, d->in + have, d->in_len - have);
      d->in_len -= have;
    }
  }
  d->gbuf = buf;
  d->glen = len;
  d->gfill = have;
  d->body_left -= have;
  if (d->body_left == 0) return 1;
  if (answer_expect(d) != 0) {
    h1_fail(d, F_DOWNSTREAM_ABORTED);
    return -1;
  }
  d->parked = P_GATHERING;
  h1_client_reading(d, 1);
  d->body_deadline_ms = h1_deadline(d->l, h1_now_ms(d->l) + d->l->body_timeout_ms);
  return 0;
}

void h1_gather_alloc(dconn *d, uv_buf_t *buf) {
  uint32_t left = d->glen - d->gfill;
  *buf = nl_turn_spent(&d->l->base, &d->full_reads, NL_BODY_READS_PER_TURN) ? uv_buf_init(NULL, 0) : uv_buf_init(d->gbuf + d->gfill, left < H1_READ_BYTES ? left : H1_READ_BYTES);
}

void h1_gather_read(dconn *d, ssize_t n) {
  h1_listener *l = d->l;
  d->gfill += (uint32_t)n;
  d->body_left -= (uint64_t)n;
  if (n == H1_READ_BYTES) nl_full_read(&l->base, &d->full_reads);
  if (d->body_left > 0) {
    d->body_deadline_ms = h1_deadline(l, h1_now_ms(l) + l->body_timeout_ms);
    return;
  }
  h1_client_reading(d, 0);
  d->parked = P_WAITING;
  d->body_deadline_ms = UINT64_MAX;
  if (!l->base.inst->alive) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(l->base.env, &scope) != napi_ok) return;
  napi_value argv[1] = {addon_num(l->base.env, d->exid)};
  addon_call(l->base.env, l->base.async, l->base.refs[H1_REF_GATHERED], 1, argv, 0, NULL);
  napi_close_handle_scope(l->base.env, scope);
}

char *h1_request_buffer(dconn *d, uint32_t len) {
  if (len + 1 <= H1_REQ_CAP && d->req != NULL) return d->req;
  char *grown = realloc(d->req, len + 1 > H1_REQ_CAP ? len + 1 : H1_REQ_CAP);
  if (grown == NULL) return NULL;
  d->req = grown;
  return grown;
}

int h1_forward(dconn *d, double decision, double timeout_ms, uint32_t head_len, const char *body, uint32_t body_len, int hook_response) {
  h1_listener *l = d->l;
  int target = (int)((uint64_t)decision & 0xffff);
  if (d->parked != P_WAITING) return -1;
  if (target >= l->ntargets) return broken_contract(d);
  if (hook_response) {
    /* No longer held, but its id stays its own until its end (h1_end_exchange unparks it): the response filters
       are found by it. gather(), forward() and respond() refuse it from now on (it is not P_WAITING). */
    d->parked = P_NOT;
    d->hook_response = 1;
    d->gbuf = NULL;
    d->glen = d->gfill = 0;
  } else {
    h1_unpark(d);
  }
  d->req_len = head_len;
  d->gbody = body;
  d->gbody_len = body != NULL ? body_len : 0;
  d->decision = decision;
  d->target = target;
  d->deadline_ms = timeout_ms > 0 ? h1_deadline(l, h1_now_ms(l) + (uint64_t)timeout_ms) : UINT64_MAX;
  if (answer_expect(d) != 0) {
    h1_fail(d, F_DOWNSTREAM_ABORTED);
    return 0;
  }
  h1_acquire(d, 0);
  return 0;
}

int h1_respond(dconn *d, const char *bytes, uint32_t len, int close) {
  if (d->parked != P_WAITING) return -1;
  if (bytes == NULL) return broken_contract(d);
  h1_unpark(d);
  /* The rest of the request body will not be read: the connection closes after the reply. */
  if (close || d->body_left > 0) d->last = 1;
  d->started = 1;
  h1_end_exchange(d, h1_client_write_response(d, bytes, len) != 0 ? F_DOWNSTREAM_ABORTED : F_NONE, 0);
  return 0;
}

/* ---- a gathered body, sent in slices ---- */

/* Slices written a turn: as many as a relayed request body's reads, so a scanned upload holds the thread no longer a
   turn than a forwarded one. */
#define H1_GATHERED_SLICES_PER_TURN NL_BODY_READS_PER_TURN

static void on_pace(uv_timer_t *timer) {
  h1_listener *l = timer->data;
  dconn *list = l->pacing;
  l->pacing = NULL;
  while (list != NULL) {
    dconn *d = list;
    list = d->next_pacing;
    d->pacing = 0;
    d->next_pacing = NULL;
    h1_send_gathered(d);
  }
}

void h1_pace_gathered(dconn *d) {
  h1_listener *l = d->l;
  if (d->pacing || l->pace_state != HS_OPEN) return;
  d->pacing = 1;
  d->next_pacing = l->pacing;
  l->pacing = d;
  if (!uv_is_active((uv_handle_t *)&l->pace)) uv_timer_start(&l->pace, on_pace, 0, 0);
}

void h1_stop_pacing(dconn *d) {
  if (!d->pacing) return;
  for (dconn **p = &d->l->pacing; *p != NULL; p = &(*p)->next_pacing) {
    if (*p == d) {
      *p = d->next_pacing;
      break;
    }
  }
  d->pacing = 0;
  d->next_pacing = NULL;
}

void h1_send_gathered(dconn *d) {
  uconn *u = d->u;
  if (d->gbody == NULL || u == NULL || u->state != U_BUSY || d->handle != HS_OPEN) return;
  for (int i = 0; i < H1_GATHERED_SLICES_PER_TURN && d->gbody_sent < d->gbody_len; i++) {
    /* The socket is full: on_upstream_written goes on once it took what is queued. */
    if (u->writes > 0) return;
    uint32_t left = d->gbody_len - d->gbody_sent;
    uv_buf_t slice = uv_buf_init((char *)d->gbody + d->gbody_sent, left < H1_READ_BYTES ? left : H1_READ_BYTES);
    d->gbody_sent += slice.len;
    if (h1_upstream_write(u, &slice, 1, 1) != 0) {
      h1_upstream_write_failed(u, d);
      return;
    }
  }
  if (d->gbody_sent == d->gbody_len) d->gbody = NULL;
  else if (u->writes == 0) h1_pace_gathered(d);
}

static void on_pace_closed(uv_handle_t *h) {
  h1_listener *l = h->data;
  l->pace_state = HS_NONE;
  h1_maybe_free_listener(l);
}

void h1_pace_open(h1_listener *l) {
  uv_timer_init(l->base.server.loop, &l->pace);
  l->pace.data = l;
  l->pace_state = HS_OPEN;
}

void h1_pace_close(h1_listener *l) {
  l->pacing = NULL;
  if (l->pace_state != HS_OPEN) return;
  l->pace_state = HS_CLOSING;
  uv_close((uv_handle_t *)&l->pace, on_pace_closed);
}
