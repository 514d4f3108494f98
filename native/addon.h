// The addon's parts (native/build/mantou.node): each file adds its functions to the exports.

#ifndef MANTOU_ADDON_H
#define MANTOU_ADDON_H

#include <node_api.h>

/* l4-listener.c: the native TCP relay (core/tcp/native-relay.ts). */
napi_value l4_define(napi_env env, napi_value exports);
/* thread-priority.c: the offload pool's thread scheduling (core/offload/offload-thread.ts). */
napi_value thread_priority_define(napi_env env, napi_value exports);

#endif
