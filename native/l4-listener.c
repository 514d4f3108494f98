// The native TCP relay's listeners (l4-session.c has the sessions and what the relay is for): binding with
// SO_REUSEPORT, the sweep timer, closing and freeing, the thread's teardown, and the Node-API functions that
// core/tcp/native-relay.ts calls.

#include "l4-relay.h"

/* ---- the listener's life (the shared part is listener-base.c) ---- */

static int has_sessions(nlistener *b) {
  return ((listener *)b)->nsessions != 0;
}

static void release(nlistener *b) {
  listener *l = (listener *)b;
  free(l->targets);
  l->targets = NULL;
}

void maybe_free_listener(listener *l) {
  nl_maybe_free(&l->base);
}

/* Stops accepting and closes every session (reason listener_closed); frees once all is closed. */
static void close_listener(nlistener *b) {
  listener *l = (listener *)b;
  nl_close_handles(b);
  for (session *s = l->sessions, *next; s != NULL; s = next) {
    next = s->next;
    close_session(s, R_LISTENER_CLOSED, 0);
  }
}

/* ---- Node-API ---- */

/*
 * listen(address, port, exclusive, totals: Float64Array(2), sessionIds: Float64Array(1), onAccept, onConnectFailed,
 *        onEnd, onHandoff) → { handle, port }. Binds with SO_REUSEPORT (every worker binds the port) unless exclusive.
 */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 9) NL_THROW(env, "ERR_INVALID_ARG", "listen: 9 arguments");
  double *totals = addon_float64s(env, argv[3], 2);
  double *session_ids = addon_float64s(env, argv[4], 1);
  if (totals == NULL || session_ids == NULL) NL_THROW(env, "ERR_INVALID_ARG", "listen: totals and sessionIds must be Float64Arrays");
  listener *l = calloc(1, sizeof *l);
  if (l == NULL) NL_THROW(env, "ENOMEM", "listen: out of memory");
  l->base.has_work = has_sessions;
  l->base.close = close_listener;
  l->base.release = release;
  l->totals = totals;
  l->session_ids = session_ids;
  l->idle_ms = 300000;
  return nl_open(env, &l->base, NL_TCP, argv, on_connection, "MantouTcpListener", argv + 3, L4_NREFS);
}

static listener *listener_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  return (listener *)nl_from_call(env, info, NL_TCP, n, argv);
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
  /* A shorter idle timeout applies to open sessions too: the next sweep finds when. */
  if (l->nsessions > 0) nl_sweep_by(&l->base, 0, SWEEP_MS, on_sweep);
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
  if (addon_address(env, argv[1], argv[2], &addr) != 0 || l->ntargets >= 0xffff) return addon_num(env, -1);
  if (l->ntargets == l->captargets) {
    int cap = l->captargets == 0 ? 8 : l->captargets * 2;
    target *grown = realloc(l->targets, (size_t)cap * sizeof *grown);
    if (grown == NULL) return addon_num(env, -1);
    l->targets = grown;
    l->captargets = cap;
  }
  l->targets[l->ntargets].addr = addr;
  l->targets[l->ntargets].connect_timeout_ms = (uint32_t)timeout;
  return addon_num(env, l->ntargets++);
}

static napi_value StopAccepting(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) nl_stop_accepting(&l->base);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) close_listener(&l->base);
  return NULL;
}

napi_value l4_define(napi_env env, napi_value exports) {
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
