// Thread scheduling for the offload pool (core/offload/offload-thread.ts). A pool thread scanning a megabyte
// shares cores with the data-plane threads; under SCHED_IDLE it runs only on time nobody else wants, and a
// data-plane thread that wakes takes the core back at once. At nice 19, the lowest ordinary priority, the
// scheduler preempts the pool thread on a wake-up only when it is due: bench:offload measured the p99 of small GETs
// on the same core 1.5–2 ms worse at nice 19 than under SCHED_IDLE.

#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <sched.h>

#include "addon.h"

/* lowerThreadToIdle(): 0, or the errno of sched_setscheduler. Linux applies it to the calling thread only. */
static napi_value LowerThreadToIdle(napi_env env, napi_callback_info info) {
  (void)info;
  struct sched_param param = {0};
  int rc = sched_setscheduler(0, SCHED_IDLE, &param) == 0 ? 0 : errno;
  napi_value out;
  napi_create_int32(env, rc, &out);
  return out;
}

napi_value thread_priority_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"lowerThreadToIdle", NULL, LowerThreadToIdle, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
