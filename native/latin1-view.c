// A latin1 string over a body's bytes, without copying them (the offload pool's body-scan task,
// filters/latin1-scan.ts). `Buffer#toString('latin1')` of a 1 MiB body writes a fresh megabyte (3.2 ms and 259 page
// faults here, more than the scan's own 1.4 ms) on a core it may share with the worker; an external string reads the
// body where the worker gathered it. The string keeps the body's ArrayBuffer (shared or not) alive through a reference released
// by the string's finalizer, so the bytes outlive every use of the string. The caller must not change the bytes
// while it uses the string: a JavaScript string is immutable, and V8 may assume it.

#define NAPI_VERSION 8
#include <node_api.h>

/* Declared here because the headers the build may find differ: Node 22's declare it from NAPI_VERSION 10, Node 20's
   (Debian's system headers, build.js's last resort) only under NAPI_EXPERIMENTAL. Every Node that Mantou runs on
   (22.18+) exports it. */
napi_status node_api_create_external_string_latin1(napi_env env, char *str, size_t length, napi_finalize finalize_callback,
                                                    void *finalize_hint, napi_value *result, bool *copied);

static void release_body(napi_env env, void *data, void *hint) {
  (void)data;
  /* env is NULL when the string goes with its environment's teardown, which frees the reference itself. */
  if (env != NULL) napi_delete_reference(env, (napi_ref)hint);
}

/* latin1View(bytes: Uint8Array): string. Throws a TypeError for anything else. */
static napi_value Latin1View(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg, buffer, out;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_cb_info(env, info, &argc, &arg, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_typedarray_info(env, arg, &type, &length, &data, &buffer, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "latin1View expects a Uint8Array");
    return NULL;
  }
  if (length == 0) {
    napi_create_string_latin1(env, "", 0, &out);
    return out;
  }
  napi_ref keep;
  if (napi_create_reference(env, buffer, 1, &keep) != napi_ok) return NULL;
  bool copied = false;
  /* On failure (a length V8 refuses; bodies are far below it) whether the finalizer ran is not documented: the
     reference is left rather than risk releasing it twice, and the string is made the ordinary way. */
  if (node_api_create_external_string_latin1(env, data, length, release_body, keep, &out, &copied) != napi_ok &&
      napi_create_string_latin1(env, data, length, &out) != napi_ok)
    return NULL;
  /* Copied (a Node without external strings): the finalizer has run already and released the reference. */
  return out;
}

napi_value latin1_view_define(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"latin1View", NULL, Latin1View, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
