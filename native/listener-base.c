// The listener life both native listeners share (listener-base.h says what is in it).

#include "listener-base.h"

#include <stdlib.h>
#include <unistd.h>

void nl_maybe_free(nlistener *b) {
  if (b->server_state != NL_NONE || b->sweep_state != NL_NONE || b->check_state != NL_NONE || b->has_work(b)) return;
  int alive = b->inst->alive;
  if (!b->js_released && alive) return;
  if (!b->dropped) {
    b->dropped = 1;
    addon_instance *inst = b->inst;
    for (nlistener **p = &inst->listeners; *p != NULL; p = &(*p)->next_in_instance) {
      if (*p == b) {
        *p = b->next_in_instance;
        break;
      }
    }
    addon_release_teardown_if_unused(inst);
    b->release(b);
    if (alive) {
      for (int i = 0; i < b->nrefs; i++) napi_delete_reference(b->env, b->refs[i]);
      napi_async_destroy(b->env, b->async);
    }
  }
  /* In a teardown the finalizer may still come: it must find the listener, so it is kept (a few hundred bytes). */
  if (b->js_released) free(b);
}

void nl_teardown(addon_instance *inst) {
  for (nlistener *b = inst->listeners, *next; b != NULL; b = next) {
    next = b->next_in_instance;
    b->close(b);
    /* One already closed has nothing left to call back: it is freed (and the hook released) here. */
    nl_maybe_free(b);
  }
}

static void on_server_closed(uv_handle_t *h) {
  nlistener *b = h->data;
  b->server_state = NL_NONE;
  nl_maybe_free(b);
}

static void on_sweep_closed(uv_handle_t *h) {
  nlistener *b = h->data;
  b->sweep_state = NL_NONE;
  nl_maybe_free(b);
}

static void on_check_closed(uv_handle_t *h) {
  nlistener *b = h->data;
  b->check_state = NL_NONE;
  nl_maybe_free(b);
}

static void on_turn_check(uv_check_t *check) {
  nlistener *b = check->data;
  uv_check_stop(check);
  b->turn++;
  if (b->turn_end != NULL) b->turn_end(b);
}

void nl_end_of_turn(nlistener *b) {
  if (b->check_state == NL_OPEN && !uv_is_active((uv_handle_t *)&b->turn_check)) uv_check_start(&b->turn_check, on_turn_check);
}

void nl_full_read(nlistener *b, nl_turn_mark *m) {
  /* Without the check (a closing listener) the turn never moves on: no mark, or the connection would wait forever. */
  if (b->check_state != NL_OPEN) return;
  if (m->turn != b->turn + 1) {
    m->turn = b->turn + 1;
    m->reads = 0;
  }
  m->reads++;
  nl_end_of_turn(b);
}

void nl_stop_accepting(nlistener *b) {
  if (b->server_state != NL_OPEN) return;
  b->server_state = NL_CLOSING;
  uv_close((uv_handle_t *)&b->server, on_server_closed);
}

void nl_close_handles(nlistener *b) {
  b->closed = 1;
  nl_stop_accepting(b);
  if (b->sweep_state == NL_OPEN) {
    b->sweep_state = NL_CLOSING;
    uv_close((uv_handle_t *)&b->sweep, on_sweep_closed);
  }
  if (b->check_state == NL_OPEN) {
    b->check_state = NL_CLOSING;
    uv_close((uv_handle_t *)&b->turn_check, on_check_closed);
  }
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nlistener *b = data;
  b->js_released = 1;
  nl_maybe_free(b);
}

static void free_unopened(uv_handle_t *h) {
  free(h->data);
}

napi_value nl_open(napi_env env, nlistener *b, int kind, napi_value *argv, uv_connection_cb on_connection, const char *resource, napi_value *refs,
                   int nrefs) {
  addon_instance *inst = addon_instance_of(env);
  bool exclusive = false;
  napi_get_value_bool(env, argv[2], &exclusive);
  struct sockaddr_storage addr;
  if (inst == NULL || nrefs > NL_MAX_REFS || addon_address(env, argv[0], argv[1], &addr) != 0) {
    free(b);
    NL_THROW(env, "ERR_INVALID_ADDRESS", "listen: not an IP address");
  }
  int fd = addon_bound_socket(&addr, exclusive);
  if (fd < 0) {
    free(b);
    NL_THROW(env, uv_err_name(fd), "bind() failed");
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  b->kind = kind;
  b->env = env;
  b->inst = inst;
  uv_tcp_init(loop, &b->server);
  b->server.data = b;
  int err = uv_tcp_open(&b->server, fd);
  if (err != 0) close(fd);
  else err = uv_listen((uv_stream_t *)&b->server, 4096, on_connection);
  if (err != 0) {
    uv_close((uv_handle_t *)&b->server, free_unopened);
    NL_THROW(env, uv_err_name(err), "listen() failed");
  }
  b->server_state = NL_OPEN;
  uv_timer_init(loop, &b->sweep);
  b->sweep.data = b;
  b->sweep_at_ms = UINT64_MAX;
  /* The sweep never keeps the thread alive by itself. */
  uv_unref((uv_handle_t *)&b->sweep);
  b->sweep_state = NL_OPEN;
  uv_check_init(loop, &b->turn_check);
  b->turn_check.data = b;
  uv_unref((uv_handle_t *)&b->turn_check);
  b->check_state = NL_OPEN;
  for (int i = 0; i < nrefs; i++) napi_create_reference(env, refs[i], 1, &b->refs[i]);
  b->nrefs = nrefs;
  napi_value resource_object, name;
  napi_create_object(env, &resource_object);
  napi_create_string_latin1(env, resource, NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource_object, name, &b->async);
  b->next_in_instance = inst->listeners;
  inst->listeners = b;
  addon_hold_teardown(env, inst);

  napi_value out, handle;
  napi_create_object(env, &out);
  napi_create_external(env, b, finalize, NULL, &handle);
  napi_set_named_property(env, out, "handle", handle);
  napi_set_named_property(env, out, "port", addon_num(env, addon_local_port(&b->server)));
  return out;
}

nlistener *nl_from_call(napi_env env, napi_callback_info info, int kind, size_t n, napi_value *argv) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc != n || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL || ((nlistener *)p)->kind != kind) {
    napi_throw_error(env, "ERR_INVALID_ARG", "not a listener handle");
    return NULL;
  }
  return p;
}

uint32_t nl_u32(napi_env env, napi_value v) {
  double d = 0;
  napi_get_value_double(env, v, &d);
  return d <= 0 ? 0 : d >= 4294967295.0 ? 4294967295u : (uint32_t)d;
}

void nl_sweep_by(nlistener *b, uint64_t at, uint64_t min_gap_ms, uv_timer_cb on_sweep) {
  if (b->sweep_state != NL_OPEN) return;
  uint64_t soonest = b->swept_ms + min_gap_ms;
  if (at < soonest) at = soonest;
  if (at >= b->sweep_at_ms) return;
  uint64_t now = uv_now(b->server.loop);
  b->sweep_at_ms = at;
  uv_timer_start(&b->sweep, on_sweep, at > now ? at - now : 0, 0);
}

void nl_swept(nlistener *b, uint64_t now) {
  b->sweep_at_ms = UINT64_MAX;
  b->swept_ms = now;
}
