// The HTTP engine's side of the fairness rule in listener-base.h: after a full read of a body, a client or
// upstream connection stops reading for the rest of this turn of the loop; the listener's check (the one that
// reports ended exchanges) starts it again.

#include <stddef.h>

#include "h1.h"

static void client_again(nl_yield *node) {
  h1_client_read_again((dconn *)((char *)node - offsetof(dconn, yield)));
}

static void upstream_again(nl_yield *node) {
  h1_upstream_read_again((uconn *)((char *)node - offsetof(uconn, yield)));
}

static void yield_turn(h1_listener *l, uv_stream_t *stream, nl_yield *node, void (*again)(nl_yield *)) {
  if (l->check_state != HS_OPEN) return;
  node->again = again;
  nl_yield_turn(&l->yielded, node, stream);
  if (!uv_is_active((uv_handle_t *)&l->ends_check)) uv_check_start(&l->ends_check, h1_on_ends_check);
}

void h1_yield_client(dconn *d) {
  if (d->reading && d->handle == HS_OPEN) yield_turn(d->l, (uv_stream_t *)&d->tcp, &d->yield, client_again);
}

void h1_yield_upstream(uconn *u) {
  if (u->reading && u->handle == HS_OPEN) yield_turn(u->l, (uv_stream_t *)&u->tcp, &u->yield, upstream_again);
}
