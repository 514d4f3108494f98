// The addon's entry point and what its parts share: one shared object, loaded by every thread that uses it
// (data-plane workers for the TCP relay and the native HTTP engine, offload pool threads for their scheduling);
// each load gets its own instance.

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

addon_instance *addon_instance_of(napi_env env) {
  addon_instance *inst = NULL;
  napi_get_instance_data(env, (void **)&inst);
  return inst;
}

static void on_environment_teardown(napi_async_cleanup_hook_handle handle, void *data) {
  addon_instance *inst = data;
  inst->alive = 0;
  /* Busy polling's handles close first; the last close callback releases the hook if no listener holds it. */
  busy_poll_close(inst);
  if (inst->listeners == NULL && inst->busy_open == 0) {
    inst->cleanup = NULL;
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  /* The last listener freed (or busy handle closed) releases the hook (addon_release_teardown_if_unused). */
  nl_teardown(inst);
}

void addon_hold_teardown(napi_env env, addon_instance *inst) {
  if (inst->cleanup == NULL) napi_add_async_cleanup_hook(env, on_environment_teardown, inst, &inst->cleanup);
}

void addon_release_teardown_if_unused(addon_instance *inst) {
  if (inst->listeners != NULL || inst->busy_open != 0 || inst->cleanup == NULL) return;
  napi_async_cleanup_hook_handle h = inst->cleanup;
  inst->cleanup = NULL;
  napi_remove_async_cleanup_hook(h);
}

double addon_call(napi_env env, napi_async_context async, napi_ref fn, size_t argc, napi_value *argv, double fallback, napi_value *result) {
  napi_value f, recv, value;
  double out = fallback;
  if (result != NULL) *result = NULL;
  if (napi_get_reference_value(env, fn, &f) != napi_ok || napi_get_global(env, &recv) != napi_ok) return fallback;
  napi_status st = napi_make_callback(env, async, recv, f, argc, argv, &value);
  if (st == napi_ok) {
    napi_valuetype t;
    if (napi_typeof(env, value, &t) == napi_ok && t == napi_number) napi_get_value_double(env, value, &out);
    if (result != NULL) *result = value;
  } else {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  return out;
}

napi_value addon_num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

int addon_address(napi_env env, napi_value ip_value, napi_value port_value, struct sockaddr_storage *out) {
  char ip[64];
  size_t iplen = 0;
  int32_t port = 0;
  if (napi_get_value_string_latin1(env, ip_value, ip, sizeof ip, &iplen) != napi_ok || iplen >= sizeof ip - 1) return -1;
  if (napi_get_value_int32(env, port_value, &port) != napi_ok) return -1;
  memset(out, 0, sizeof *out);
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)out) == 0) return 0;
  if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)out) == 0) return 0;
  return -1;
}

double *addon_float64s(napi_env env, napi_value v, size_t n) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < n) return NULL;
  return data;
}

int addon_bound_socket(const struct sockaddr_storage *addr, int exclusive) {
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (!exclusive) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  socklen_t alen = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)addr, alen) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int addon_local_port(uv_tcp_t *server) {
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  if (uv_tcp_getsockname(server, (struct sockaddr *)&bound, &blen) != 0) return 0;
  return ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
}

static void finalize_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  addon_instance *inst = data;
  /* Listeners still listed belong to a torn-down environment; their memory goes with the thread. */
  if (inst->listeners == NULL && inst->busy_open == 0) free(inst);
}

NAPI_MODULE_INIT() {
  addon_instance *inst = calloc(1, sizeof *inst);
  if (inst != NULL) {
    inst->alive = 1;
    inst->random_used = sizeof inst->random;
    napi_set_instance_data(env, inst, finalize_instance, NULL);
  }
  l4_define(env, exports);
  h1_define(env, exports);
  thread_priority_define(env, exports);
  busy_poll_define(env, exports);
  latin1_view_define(env, exports);
  malloc_trim_define(env, exports);
  return exports;
}
