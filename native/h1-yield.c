// Fairness between the connections of one thread. libuv reads a ready socket up to 32 times in a row while reads
// come back full, so one large body (a 1 MiB upload, a 1 MiB response) would be relayed up to 2 MiB at a time —
// a millisecond of this VM's time — while every other connection of the thread waits for its turn. After a full
// read of a body, a connection stops reading for the rest of this turn of the loop: the check phase (after the
// poll phase has served every socket that was ready) starts it again, and the next poll finds its bytes still
// there. Its `reading` flag is left as it was, so backpressure and the yield never undo each other: a connection
// the other side paused meanwhile is not started again. The check runs before the closing phase of the same turn,
// so a connection closed after it yielded is still in memory (its handle no longer open) when the list is walked.

#include "h1.h"

static int can_yield(h1_listener *l) {
  return l->check_state == HS_OPEN;
}

static void arm(h1_listener *l) {
  if (!uv_is_active((uv_handle_t *)&l->ends_check)) uv_check_start(&l->ends_check, h1_on_ends_check);
}

void h1_yield_client(dconn *d) {
  h1_listener *l = d->l;
  if (d->yielded || !d->reading || d->handle != HS_OPEN || !can_yield(l)) return;
  uv_read_stop((uv_stream_t *)&d->tcp);
  d->yielded = 1;
  d->next_yielded = l->yielded_clients;
  l->yielded_clients = d;
  arm(l);
}

void h1_yield_upstream(uconn *u) {
  h1_listener *l = u->l;
  if (u->yielded || !u->reading || u->handle != HS_OPEN || !can_yield(l)) return;
  uv_read_stop((uv_stream_t *)&u->tcp);
  u->yielded = 1;
  u->next_yielded = l->yielded_upstreams;
  l->yielded_upstreams = u;
  arm(l);
}

void h1_resume_yielded(h1_listener *l) {
  dconn *d = l->yielded_clients;
  uconn *u = l->yielded_upstreams;
  l->yielded_clients = NULL;
  l->yielded_upstreams = NULL;
  while (d != NULL) {
    dconn *next = d->next_yielded;
    d->yielded = 0;
    d->next_yielded = NULL;
    h1_client_read_again(d);
    d = next;
  }
  while (u != NULL) {
    uconn *next = u->next_yielded;
    u->yielded = 0;
    u->next_yielded = NULL;
    h1_upstream_read_again(u);
    u = next;
  }
}
