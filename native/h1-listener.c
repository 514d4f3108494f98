// The native HTTP/1.1 engine's listeners (h1-exchange.c has the connections and what the engine is for): binding
// with SO_REUSEPORT, the sweep timer, draining, closing and freeing, the thread's teardown, and the Node-API
// functions core/http/native-listener.ts calls (exported as `http`).

#include "h1.h"

/* ---- the listener's life (the shared part is listener-base.c) ---- */

static int has_connections(nlistener *b) {
  h1_listener *l = (h1_listener *)b;
  return l->ndconns != 0 || l->nuconns != 0 || l->pace_state != HS_NONE;
}

/* The end of a turn with ended exchanges: JavaScript hears of them in one call. */
static void report_ends(nlistener *b) {
  h1_report_ends((h1_listener *)b);
}

static void release(nlistener *b) {
  h1_listener *l = (h1_listener *)b;
  free(l->targets);
  l->targets = NULL;
  free(l->cache);
  l->cache = NULL;
  free(l->parked);
  l->parked = NULL;
}

void h1_maybe_free_listener(h1_listener *l) {
  nl_maybe_free(&l->base);
}

static void close_listener(nlistener *b) {
  h1_listener *l = (h1_listener *)b;
  nl_close_handles(b);
  h1_pace_close(l);
  h1_close_all(l);
  h1_report_ends(l);
}

/* ---- Node-API ---- */

/*
 * listen(address, port, exclusive, io: Float64Array(H1_IO_LENGTH), decide, done, failure, handoff,
 * gathered, response) → { handle, port }.
 *   decide(method, path, host, head?, requestId?, address?) → a decision (its low 16 bits: the target; 0xffff: held
 *     for the route's filters, h1-park.c), or -1: serve it on the net engine; it puts the route's timeout (ms) in
 *     io[0], and 1 in io[H1_IO_CACHEABLE] when the decision may be kept for the same method, host and path
 *     (h1-cache.c); `head` (the request head as received), the request id and the client's address only when
 *     configure() asked for them;
 *   done(count): `count` exchanges are over, each a (decision, failure + 256·status) pair in io[1..] (status: the
 *     one sent to the client, 0 when none was; reported once per turn of the loop, or every H1_ENDS_BATCH); an
 *     exchange of the slot in io[H1_IO_QUIET_SLOT] that ends well is only counted, in io[H1_IO_QUIET_ENDS];
 *   failure(kind, requestId, isHead, close, id) → the local reply's bytes (latin1); id: the exchange's, when its
 *     route's response filters are to see the reply (else 0);
 *   handoff(fd, bytes, bounces): the connection, and what was read of it, go to the net engine; bounces: how many
 *     times in a row it came back (adopt()) and was handed over again before serving a request here;
 *   gathered(id): the body of held exchange `id` is all in the memory gather() was given (h1-park.c);
 *   response(id, head) → the head its response filters left, or a whole reply in place of the response (latin1;
 *     h1-response.c filtered_head).
 */
static napi_value Listen(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 10) NL_THROW(env, "ERR_INVALID_ARG", "listen: 10 arguments");
  double *io = addon_float64s(env, argv[3], H1_IO_LENGTH);
  if (io == NULL) NL_THROW(env, "ERR_INVALID_ARG", "listen: io must be a Float64Array of H1_IO_LENGTH (5 + 2·H1_ENDS_BATCH)");
  h1_listener *l = calloc(1, sizeof *l);
  if (l == NULL) NL_THROW(env, "ENOMEM", "listen: out of memory");
  l->base.has_work = has_connections;
  l->base.close = close_listener;
  l->base.release = release;
  l->base.turn_end = report_ends;
  l->io = io;
  l->header_timeout_ms = 10000;
  l->idle_timeout_ms = 60000;
  l->body_timeout_ms = 60000;
  l->max_trailer_bytes = H1_MAX_REQUEST_HEAD;
  l->limits = (h1_limits){H1_MAX_REQUEST_HEAD, H1_MAX_REQUEST_HEAD, H1_MAX_HEADERS, 0};
  l->keep_decisions = 1;
  napi_value out = nl_open(env, &l->base, NL_HTTP, argv, h1_on_connection, "MantouHttpListener", argv + 3, H1_NREFS);
  if (out == NULL) return NULL;
  /* After nl_open, which frees the listener itself when it fails; release() frees this. */
  l->cache = calloc(H1_CACHE_SLOTS, sizeof *l->cache);
  h1_pace_open(l);
  h1_refresh_date(l);
  return out;
}

static h1_listener *listener_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  return (h1_listener *)nl_from_call(env, info, NL_HTTP, n, argv);
}

/*
 * configure(handle, headerTimeoutMs, idleTimeoutMs, passHead, maxHeadBytes, maxTargetBytes, maxFields,
 * bodyTimeoutMs, relayBodies, keepDecisions): for connections from now on (and idle ones' next wait); passHead:
 * decide() gets the request head too (a route matches on header fields, or runs filters); keepDecisions: decide()
 * may have its decisions kept (not when a route matches on header fields). Heads past the limits go to the net engine, which answers
 * them 414/431; so do requests with a Content-Length body unless relayBodies. bodyTimeoutMs: the longest wait for
 * the next bytes of a request body being read (then 408). Kept decisions are dropped: they were the previous
 * generation's.
 */
static napi_value Configure(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  h1_listener *l = listener_call(env, info, 10, argv);
  if (l == NULL) return NULL;
  l->header_timeout_ms = nl_u32(env, argv[1]);
  l->idle_timeout_ms = nl_u32(env, argv[2]);
  bool pass = false;
  napi_get_value_bool(env, argv[3], &pass);
  l->pass_head = pass;
  uint32_t head = nl_u32(env, argv[4]), target = nl_u32(env, argv[5]), fields = nl_u32(env, argv[6]);
  l->limits.max_head = head < H1_MAX_REQUEST_HEAD ? head : H1_MAX_REQUEST_HEAD;
  l->max_trailer_bytes = head;
  l->limits.max_target = target;
  l->limits.max_fields = fields < H1_MAX_HEADERS ? fields : H1_MAX_HEADERS;
  l->body_timeout_ms = nl_u32(env, argv[7]);
  bool bodies = false;
  napi_get_value_bool(env, argv[8], &bodies);
  l->limits.bodies = bodies;
  bool keep = false;
  napi_get_value_bool(env, argv[9], &keep);
  l->keep_decisions = keep;
  h1_cache_clear(l);
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
  t->connect_timeout_ms = nl_u32(env, argv[3]);
  t->idle_timeout_ms = nl_u32(env, argv[4]);
  t->max_conns = (int)nl_u32(env, argv[5]);
  t->max_pending = (int)nl_u32(env, argv[6]);
  t->max_head_bytes = nl_u32(env, argv[7]);
  if (t->max_head_bytes < 1024) t->max_head_bytes = 1024;
  return addon_num(env, l->ntargets++);
}

/*
 * adopt(handle, fd, bytes, bounces) → 0, or an errno: the net engine hands back a connection it took over, between
 * two requests (bytes: what it read of the next one). The engine serves it from a copy of fd; the caller closes
 * its own. bounces: what handoff() passed for it.
 */
static napi_value Adopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  h1_listener *l = listener_call(env, info, 4, argv);
  if (l == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || len > UINT32_MAX) return addon_num(env, EINVAL);
  return addon_num(env, h1_adopt(l, (int)nl_u32(env, argv[1]), data, (uint32_t)len, nl_u32(env, argv[3])));
}

/* ---- exchanges held for their route's filters (h1-park.c): each call answers 0, or -1 when the exchange is gone ---- */

static dconn *parked_call(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  h1_listener *l = listener_call(env, info, n, argv);
  if (l == NULL) return NULL;
  double id = -1;
  napi_get_value_double(env, argv[1], &id);
  return h1_parked(l, id);
}

/* gather(handle, id, buffer) → 1 (the body was all here), 0 (gathered(id) will say), -1: the body (exactly its
   Content-Length) is read into buffer, which JavaScript keeps until the exchange's end is reported. */
static napi_value Gather(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  dconn *d = parked_call(env, info, 3, argv);
  void *data = NULL;
  size_t len = 0;
  if (d == NULL || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || len > UINT32_MAX) return addon_num(env, -1);
  return addon_num(env, h1_gather(d, data, (uint32_t)len));
}

/* forward(handle, id, decision, timeoutMs, head, body?, hookResponse) → 0 or -1: head (latin1) goes to the decision's
   target, then body (a Buffer, kept by JavaScript until the end is reported) or the client's body as it comes;
   hookResponse: the response head goes through response(id, head) first (the route has response filters). */
static napi_value Forward(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  dconn *d = parked_call(env, info, 7, argv);
  if (d == NULL) return addon_num(env, -1);
  double decision = -1, timeout_ms = 0;
  napi_get_value_double(env, argv[2], &decision);
  napi_get_value_double(env, argv[3], &timeout_ms);
  size_t len = 0;
  if (napi_get_value_string_latin1(env, argv[4], NULL, 0, &len) != napi_ok || len == 0 || len > UINT32_MAX - 1) return addon_num(env, -1);
  char *head = h1_request_buffer(d, (uint32_t)len);
  if (head == NULL) return addon_num(env, -1);
  napi_get_value_string_latin1(env, argv[4], head, len + 1, &len);
  void *body = NULL;
  size_t body_len = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[5], &is_buffer);
  if (is_buffer && (napi_get_buffer_info(env, argv[5], &body, &body_len) != napi_ok || body_len > UINT32_MAX)) return addon_num(env, -1);
  bool hook = false;
  napi_get_value_bool(env, argv[6], &hook);
  return addon_num(env, h1_forward(d, decision, timeout_ms, (uint32_t)len, is_buffer ? body : NULL, (uint32_t)body_len, hook));
}

/* respond(handle, id, response, close) → 0 or -1: a whole response (latin1, "HTTP/1.1 NNN …"), then the end. */
static napi_value Respond(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  dconn *d = parked_call(env, info, 4, argv);
  if (d == NULL) return addon_num(env, -1);
  uint32_t len = 0;
  char *bytes = h1_response_bytes(env, argv[2], &len);
  bool close = false;
  napi_get_value_bool(env, argv[3], &close);
  int rc = h1_respond(d, bytes, len, close);
  free(bytes);
  return addon_num(env, rc);
}

/* stopAccepting(handle): no new connections; idle ones close now, busy ones after their response. */
static napi_value StopAccepting(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  h1_listener *l = listener_call(env, info, 1, argv);
  if (l == NULL) return NULL;
  nl_stop_accepting(&l->base);
  h1_drain(l);
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  h1_listener *l = listener_call(env, info, 1, argv);
  if (l != NULL) close_listener(&l->base);
  return NULL;
}

napi_value h1_define(napi_env env, napi_value exports) {
  napi_value http;
  napi_create_object(env, &http);
  napi_property_descriptor props[] = {
    {"listen", NULL, Listen, NULL, NULL, NULL, napi_default, NULL},
    {"configure", NULL, Configure, NULL, NULL, NULL, napi_default, NULL},
    {"addTarget", NULL, AddTarget, NULL, NULL, NULL, napi_default, NULL},
    {"adopt", NULL, Adopt, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, Gather, NULL, NULL, NULL, napi_default, NULL},
    {"forward", NULL, Forward, NULL, NULL, NULL, napi_default, NULL},
    {"respond", NULL, Respond, NULL, NULL, NULL, napi_default, NULL},
    {"stopAccepting", NULL, StopAccepting, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, Close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, http, sizeof props / sizeof props[0], props);
  napi_set_named_property(env, exports, "http", http);
  return exports;
}
