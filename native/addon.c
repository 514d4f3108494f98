// The addon's entry point: one shared object, loaded by every thread that uses it (data-plane workers for the TCP
// relay, offload pool threads for their scheduling); each load gets its own instance.

#define NAPI_VERSION 8
#include "addon.h"

NAPI_MODULE_INIT() {
  l4_define(env, exports);
  thread_priority_define(env, exports);
  return exports;
}
