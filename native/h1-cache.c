// The native HTTP/1.1 engine's decision cache. A route to a one-endpoint cluster, on a listener whose routes match
// only on method, host and path, decides the same for the same request line and Host every time: decide() says
// so (io[H1_IO_CACHEABLE]) and the decision is kept here, so the next such request is served without calling
// into JavaScript. Why: at 1,000 req/s the worker sleeps between requests and decide() runs on cold caches (timed
// in the addon: p50 11 µs, p99 58 µs, against 2 and 25 µs at 5,000 req/s), which was Mantou's added p99 over
// nginx's there. The table is direct-mapped (a new key takes its slot), emptied by every configure() (a new
// generation), and not used once the listener stops. A hit is counted in io[H1_IO_CACHED_STARTS], which
// JavaScript takes into its stream counts before any of those exchanges is reported done and before it decides
// anything on the counts (core/http/native-listener.ts).

#include "h1.h"

/* FNV-1a over the three parts, with a separator that none of them may contain (the parser's tokens have no SP). */
static uint32_t key_hash(const h1_request *r) {
  uint32_t h = 2166136261u;
  const char *parts[3] = {r->method, r->host, r->path};
  uint32_t lens[3] = {r->method_len, r->host_len, r->path_len};
  for (int p = 0; p < 3; p++) {
    for (uint32_t i = 0; i < lens[p]; i++) h = (h ^ (uint8_t)parts[p][i]) * 16777619u;
    h = (h ^ ' ') * 16777619u;
  }
  return h;
}

static uint32_t key_len(const h1_request *r) {
  return r->method_len + r->host_len + r->path_len + 2;
}

static void key_write(const h1_request *r, char *out) {
  memcpy(out, r->method, r->method_len);
  out += r->method_len;
  *out++ = ' ';
  memcpy(out, r->host, r->host_len);
  out += r->host_len;
  *out++ = ' ';
  memcpy(out, r->path, r->path_len);
}

static int key_equals(const h1_cached *c, const h1_request *r) {
  const char *k = c->key;
  if (memcmp(k, r->method, r->method_len) != 0 || k[r->method_len] != ' ') return 0;
  k += r->method_len + 1;
  if (memcmp(k, r->host, r->host_len) != 0 || k[r->host_len] != ' ') return 0;
  k += r->host_len + 1;
  return memcmp(k, r->path, r->path_len) == 0;
}

/* The entry r's key maps to (its hash in *h, its length in *len), or NULL: nothing is kept on this listener now,
   or the key is too long to keep (or the table could not be allocated at listen()). */
static h1_cached *entry_for(const h1_listener *l, const h1_request *r, uint32_t *h, uint32_t *len) {
  if (l->cache == NULL || !l->keep_decisions || l->stopping) return NULL;
  *len = key_len(r);
  if (*len > H1_CACHE_KEY) return NULL;
  *h = key_hash(r);
  return &l->cache[*h % H1_CACHE_SLOTS];
}

int h1_cache_lookup(h1_listener *l, const h1_request *r, double *decision, double *timeout_ms) {
  uint32_t h, len;
  const h1_cached *c = entry_for(l, r, &h, &len);
  if (c == NULL || c->key_len != len || c->hash != h || !key_equals(c, r)) return 0;
  *decision = c->decision;
  *timeout_ms = c->timeout_ms;
  return 1;
}

void h1_cache_store(h1_listener *l, const h1_request *r, double decision, double timeout_ms) {
  uint32_t h, len;
  h1_cached *c = entry_for(l, r, &h, &len);
  if (c == NULL) return;
  c->hash = h;
  c->key_len = (uint16_t)len;
  key_write(r, c->key);
  c->decision = decision;
  c->timeout_ms = timeout_ms;
}

void h1_cache_clear(h1_listener *l) {
  if (l->cache != NULL) memset(l->cache, 0, H1_CACHE_SLOTS * sizeof *l->cache);
}
