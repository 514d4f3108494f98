// The addon's parts (native/build/mantou.node): each file adds its functions to the exports. What they share is
// here and in addon.c: the per-thread instance (one read buffer, the teardown hook, kernel randomness, busy polling's
// handles), calling into JavaScript, and the Node-API argument and socket helpers both listeners use.

#ifndef MANTOU_ADDON_H
#define MANTOU_ADDON_H

#define NAPI_VERSION 8
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#define ADDON_READ_BYTES 65536

struct nlistener;

/* Per thread (per Node environment). */
typedef struct addon_instance {
  /* Every read of both listeners lands here and is written on (or copied) before the next read. */
  char scratch[ADDON_READ_BYTES];
  int alive; /* 0 once the environment is being torn down: no more calls into JavaScript */
  struct nlistener *listeners; /* both kinds, the TCP relay's and the HTTP engine's (listener-base.c) */
  napi_async_cleanup_hook_handle cleanup;
  uint8_t random[4096];
  uint32_t random_used;
  /* Busy polling (busy-poll.c): its two handles, once opened, until closed by the teardown. */
  uv_idle_t busy_idle;
  uv_check_t busy_check;
  int busy_open; /* handles open: 2 from the first setBusyPoll(>0), 0 once both closed */
  uint64_t busy_ns, busy_events, busy_since, busy_spins;
} addon_instance;

addon_instance *addon_instance_of(napi_env env);
/* The teardown hook is held while either kind of listener exists; each kind's list is closed by it. */
void addon_hold_teardown(napi_env env, addon_instance *inst);
void addon_release_teardown_if_unused(addon_instance *inst);
/* Calls `fn`; the result's number (and the value, when `result` is given), or `fallback` when it cannot be called or
   threw (the exception goes to the process's uncaught-exception handling). */
double addon_call(napi_env env, napi_async_context async, napi_ref fn, size_t argc, napi_value *argv, double fallback, napi_value *result);
napi_value addon_num(napi_env env, double v);
/* An IP address (string) and a port (number) as a socket address: 0, or -1 when not an IP. */
int addon_address(napi_env env, napi_value ip, napi_value port, struct sockaddr_storage *out);
/* A Float64Array's memory, or NULL when `v` is not one with at least `n` elements. */
double *addon_float64s(napi_env env, napi_value v, size_t n);
/* A bound, non-blocking listen socket (SO_REUSEPORT unless exclusive): the descriptor, or -errno. */
int addon_bound_socket(const struct sockaddr_storage *addr, int exclusive);
int addon_local_port(uv_tcp_t *server);

/* listener-base.c: the environment is going: every listener closes, and is freed once nothing of it is open. */
void nl_teardown(addon_instance *inst);
/* l4-listener.c: the native TCP relay (core/tcp/native-relay.ts). */
napi_value l4_define(napi_env env, napi_value exports);
/* h1-listener.c: the native HTTP/1.1 engine (core/http/native-listener.ts). */
napi_value h1_define(napi_env env, napi_value exports);
/* busy-poll.c: a worker's busy polling (core/busy-poll.ts); its handles close with the environment. */
napi_value busy_poll_define(napi_env env, napi_value exports);
void busy_poll_close(addon_instance *inst);
/* thread-priority.c: the offload pool's thread scheduling (core/offload/offload-thread.ts). */
napi_value thread_priority_define(napi_env env, napi_value exports);
/* latin1-view.c: a string over a body's bytes without a copy, for the offload pool's body scan (filters/body-scan-task.ts). */
napi_value latin1_view_define(napi_env env, napi_value exports);
/* malloc-trim.c: the C heap's free pages back to the system after start-up and each reload (core/malloc-trim.ts). */
napi_value malloc_trim_define(napi_env env, napi_value exports);

#endif
