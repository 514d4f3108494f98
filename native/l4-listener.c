// The native TCP relay's listeners (l4-session.c has the sessions and what the relay is for): binding with
// SO_REUSEPORT, the sweep timer, closing and freeing, the thread's teardown, and the Node-API functions that
// core/tcp/native-relay.ts calls.

#include "l4-relay.h"

/* ---- the listener's life ---- */

static void instance_drop(instance *inst, listener *l) {
  for (listener **p = &inst->l4_listeners; *p != NULL; p = &(*p)->next_in_instance) {
    if (*p == l) {
      *p = l->next_in_instance;
      break;
    }
  }
  addon_release_teardown_if_unused(inst);
}

/* Frees the listener once JavaScript has let go of it and it has no handle or session left. */
void maybe_free_listener(listener *l) {
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

/* The environment is going: every listener closes (addon.c's teardown hook calls this). */
void l4_teardown(instance *inst) {
  for (listener *l = inst->l4_listeners, *next; l != NULL; l = next) {
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

static void free_unopened_listener(uv_handle_t *h) {
  free(h->data);
}

static listener *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/*
 * listen(address, port, exclusive, totals: Float64Array(2), sessionIds: Float64Array(1), onAccept, onConnectFailed,
 *        onEnd, onHandoff) → { handle, port }. Binds with SO_REUSEPORT (every worker binds the port) unless exclusive.
 */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  instance *inst = addon_instance_of(env);
  if (argc < 9) THROW(env, "ERR_INVALID_ARG", "listen: 9 arguments");
  bool exclusive;
  napi_get_value_bool(env, argv[2], &exclusive);
  struct sockaddr_storage addr;
  if (addon_address(env, argv[0], argv[1], &addr) != 0) THROW(env, "ERR_INVALID_ADDRESS", "listen: not an IP address");
  double *totals = addon_float64s(env, argv[3], 2);
  double *session_ids = addon_float64s(env, argv[4], 1);
  if (totals == NULL || session_ids == NULL) THROW(env, "ERR_INVALID_ARG", "listen: totals and sessionIds must be Float64Arrays");

  int fd = addon_bound_socket(&addr, exclusive);
  if (fd < 0) THROW(env, uv_err_name(fd), "bind() failed");
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
  l->next_in_instance = inst->l4_listeners;
  inst->l4_listeners = l;
  addon_hold_teardown(env, inst);

  int bound_port = addon_local_port(&l->server);
  napi_value out, handle;
  napi_create_object(env, &out);
  napi_create_external(env, l, finalize_listener, NULL, &handle);
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "port", addon_num(env, bound_port));
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
  if (l != NULL) stop_accepting(l);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) close_listener(l);
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
