// The native HTTP/1.1 engine's listeners (h1-exchange.c has the connections and what the engine is for): binding
// with SO_REUSEPORT, the sweep timer, draining, closing and freeing, the thread's teardown, and the Node-API
// functions core/http/native-listener.ts calls (exported as `http`).

#include "h1.h"

/* ---- the listener's life ---- */

static void drop_from_instance(h1_listener *l) {
  addon_instance *inst = l->inst;
  for (h1_listener **p = &inst->h1_listeners; *p != NULL; p = &(*p)->next_in_instance) {
    if (*p == l) {
      *p = l->next_in_instance;
      break;
    }
  }
  addon_release_teardown_if_unused(inst);
}

/* Frees the listener once JavaScript has let go of it and it has no handle or connection left. */
void h1_maybe_free_listener(h1_listener *l) {
  if (l->server_state != HS_NONE || l->sweep_state != HS_NONE || l->ndconns != 0 || l->nuconns != 0) return;
  int alive = l->inst->alive;
  if (!l->js_released && alive) return;
  if (l->dropped) {
    if (l->js_released) free(l);
    return;
  }
  l->dropped = 1;
  drop_from_instance(l);
  if (alive) {
    napi_delete_reference(l->env, l->io_ref);
    napi_delete_reference(l->env, l->on_decide);
    napi_delete_reference(l->env, l->on_done);
    napi_delete_reference(l->env, l->on_failure);
    napi_delete_reference(l->env, l->on_handoff);
    napi_async_destroy(l->env, l->async);
  }
  free(l->targets);
  l->targets = NULL;
  /* In a teardown the finalizer may still come: it must find the listener, so it is kept (a few hundred bytes). */
  if (l->js_released) free(l);
}

static void on_server_closed(uv_handle_t *h) {
  h1_listener *l = h->data;
  l->server_state = HS_NONE;
  h1_maybe_free_listener(l);
}

static void on_sweep_closed(uv_handle_t *h) {
  h1_listener *l = h->data;
  l->sweep_state = HS_NONE;
  h1_maybe_free_listener(l);
}

static void stop_accepting(h1_listener *l) {
  if (l->server_state != HS_OPEN) return;
  l->server_state = HS_CLOSING;
  uv_close((uv_handle_t *)&l->server, on_server_closed);
}

static void close_listener(h1_listener *l) {
  l->closed = 1;
  stop_accepting(l);
  h1_close_all(l);
  if (l->sweep_state == HS_OPEN) {
    l->sweep_state = HS_CLOSING;
    uv_close((uv_handle_t *)&l->sweep, on_sweep_closed);
  }
}

void h1_teardown(addon_instance *inst) {
  for (h1_listener *l = inst->h1_listeners, *next; l != NULL; l = next) {
    next = l->next_in_instance;
    close_listener(l);
    h1_maybe_free_listener(l);
  }
}

static void finalize_listener(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  h1_listener *l = data;
  l->js_released = 1;
  h1_maybe_free_listener(l);
}

/* ---- Node-API ---- */

#define THROW(env, code, msg)               \
  do {                                      \
    napi_throw_error((env), (code), (msg)); \
    return NULL;                            \
  } while (0)

static void free_unopened(uv_handle_t *h) {
  free(h->data);
}

/*
 * listen(address, port, exclusive, io: Float64Array(1), decide, done, failure, handoff) → { handle, port }.
 *   decide(method, path, host, head?) → a decision (its low 16 bits: the target), or -1: serve it on the net
 *     engine; it puts the route's timeout (ms) in io[0]; `head` (the request head as received) only when
 *     configure() asked for it;
 *   done(decision, status, failure, durationMs, bytesOut): the exchange is over;
 *   failure(kind, requestId, isHead, close) → the local reply's bytes (latin1);
 *   handoff(fd, bytes): the connection, and what was read of it, go to the net engine.
 */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  addon_instance *inst = addon_instance_of(env);
  if (argc < 8 || inst == NULL) THROW(env, "ERR_INVALID_ARG", "listen: 8 arguments");
  bool exclusive;
  napi_get_value_bool(env, argv[2], &exclusive);
  struct sockaddr_storage addr;
  if (addon_address(env, argv[0], argv[1], &addr) != 0) THROW(env, "ERR_INVALID_ADDRESS", "listen: not an IP address");
  double *io = addon_float64s(env, argv[3], 1);
  if (io == NULL) THROW(env, "ERR_INVALID_ARG", "listen: io must be a Float64Array");
  int fd = addon_bound_socket(&addr, exclusive);
  if (fd < 0) THROW(env, uv_err_name(fd), "bind() failed");
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  h1_listener *l = calloc(1, sizeof *l);
  if (l == NULL) {
    close(fd);
    THROW(env, "ENOMEM", "listen: out of memory");
  }
  l->env = env;
  l->inst = inst;
  l->io = io;
  l->header_timeout_ms = 10000;
  l->idle_timeout_ms = 60000;
  l->limits = (h1_limits){H1_MAX_REQUEST_HEAD, H1_MAX_REQUEST_HEAD, H1_MAX_HEADERS};
  uv_tcp_init(loop, &l->server);
  l->server.data = l;
  int err = uv_tcp_open(&l->server, fd);
  if (err != 0) close(fd);
  else err = uv_listen((uv_stream_t *)&l->server, 4096, h1_on_connection);
  if (err != 0) {
    uv_close((uv_handle_t *)&l->server, free_unopened);
    THROW(env, uv_err_name(err), "listen() failed");
  }
  l->server_state = HS_OPEN;
  uv_timer_init(loop, &l->sweep);
  l->sweep.data = l;
  uv_unref((uv_handle_t *)&l->sweep);
  l->sweep_state = HS_OPEN;
  napi_create_reference(env, argv[3], 1, &l->io_ref);
  napi_create_reference(env, argv[4], 1, &l->on_decide);
  napi_create_reference(env, argv[5], 1, &l->on_done);
  napi_create_reference(env, argv[6], 1, &l->on_failure);
  napi_create_reference(env, argv[7], 1, &l->on_handoff);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_latin1(env, "MantouHttpListener", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &l->async);
  l->next_in_instance = inst->h1_listeners;
  inst->h1_listeners = l;
  addon_hold_teardown(env, inst);
  h1_refresh_date(l);

  napi_value out, handle;
  napi_create_object(env, &out);
  napi_create_external(env, l, finalize_listener, NULL, &handle);
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "port", addon_num(env, addon_local_port(&l->server)));
  return out;
}

/* The listener a call is about (its first argument), with the call's `n` arguments in argv; NULL (and a JS error
   thrown) otherwise. */
static h1_listener *listener_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc != n || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) {
    napi_throw_error(env, "ERR_INVALID_ARG", "not a listener handle");
    return NULL;
  }
  return p;
}

static uint32_t u32(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d <= 0 ? 0 : d >= 4294967295.0 ? 4294967295u : (uint32_t)d;
}

/*
 * configure(handle, headerTimeoutMs, idleTimeoutMs, passHead, maxHeadBytes, maxTargetBytes, maxFields): for
 * connections from now on (and idle ones' next wait); passHead: decide() gets the request head too (a route
 * matches on header fields). Heads past the limits go to the net engine, which answers them 414/431.
 */
static napi_value Configure(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  h1_listener *l = listener_call(env, info, 7, argv);
  if (l == NULL) return NULL;
  l->header_timeout_ms = u32(env, argv[1]);
  l->idle_timeout_ms = u32(env, argv[2]);
  bool pass = false;
  napi_get_value_bool(env, argv[3], &pass);
  l->pass_head = pass;
  uint32_t head = u32(env, argv[4]), target = u32(env, argv[5]), fields = u32(env, argv[6]);
  l->limits.max_head = head < H1_MAX_REQUEST_HEAD ? head : H1_MAX_REQUEST_HEAD;
  l->limits.max_target = target;
  l->limits.max_fields = fields < H1_MAX_HEADERS ? fields : H1_MAX_HEADERS;
  return NULL;
}

/*
 * addTarget(handle, ip, port, connectTimeoutMs, idleTimeoutMs, maxConnections, maxPending, maxResponseHeadBytes) →
 * the target's index (its own connection pool), or -1 when ip is not an IP address.
 */
static napi_value AddTarget(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  h1_listener *l = listener_call(env, info, 8, argv);
  if (l == NULL) return NULL;
  struct sockaddr_storage addr;
  if (addon_address(env, argv[1], argv[2], &addr) != 0 || l->ntargets >= 0xffff) return addon_num(env, -1);
  if (l->ntargets == l->captargets) {
    int cap = l->captargets == 0 ? 8 : l->captargets * 2;
    h1_target *grown = realloc(l->targets, (size_t)cap * sizeof *grown);
    if (grown == NULL) return addon_num(env, -1);
    l->targets = grown;
    l->captargets = cap;
  }
  h1_target *t = &l->targets[l->ntargets];
  memset(t, 0, sizeof *t);
  t->addr = addr;
  t->connect_timeout_ms = u32(env, argv[3]);
  t->idle_timeout_ms = u32(env, argv[4]);
  t->max_conns = (int)u32(env, argv[5]);
  t->max_pending = (int)u32(env, argv[6]);
  t->max_head_bytes = u32(env, argv[7]);
  if (t->max_head_bytes < 1024) t->max_head_bytes = 1024;
  return addon_num(env, l->ntargets++);
}

/* stopAccepting(handle): no new connections; idle ones close now, busy ones after their response. */
static napi_value StopAccepting(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  h1_listener *l = listener_call(env, info, 1, argv);
  if (l == NULL) return NULL;
  stop_accepting(l);
  h1_drain(l);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  h1_listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) close_listener(l);
  return NULL;
}

/* connections(handle) → [client connections, upstream connections] open (tests and /stats). */
static napi_value Connections(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  h1_listener *l = listener_call(env, info, 1, argv);
  if (l == NULL) return NULL;
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, addon_num(env, l->ndconns));
  napi_set_element(env, out, 1, addon_num(env, l->nuconns));
  return out;
}

napi_value h1_define(napi_env env, napi_value exports) {
  napi_value http;
  napi_create_object(env, &http);
  napi_property_descriptor props[] = {
    {"listen", NULL, Listen, NULL, NULL, NULL, napi_default, NULL},
    {"configure", NULL, Configure, NULL, NULL, NULL, napi_default, NULL},
    {"addTarget", NULL, AddTarget, NULL, NULL, NULL, napi_default, NULL},
    {"stopAccepting", NULL, StopAccepting, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
    {"connections", NULL, Connections, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, http, sizeof props / sizeof props[0], props);
  napi_set_named_property(env, exports, "http", http);
  return exports;
}
