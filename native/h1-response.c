// The native HTTP/1.1 engine's responses: an upstream's bytes for the exchange it serves — interim and final heads
// parsed and rewritten for the client, the body passed on as it comes (one chunk per read for a close-delimited
// body), and where it ends (length, chunked framing, or the upstream's close). h1-exchange.c says what the engine
// is for.

#include "h1.h"

/* How many of buf's len bytes belong to the response body; *complete once it has all come. */
static uint64_t body_bytes(dconn *d, const char *buf, uint64_t len, int *complete, int *bad) {
  *complete = 0;
  *bad = 0;
  switch (d->body) {
    case B_LENGTH: {
      uint64_t n = len < d->remaining ? len : d->remaining;
      d->remaining -= n;
      *complete = d->remaining == 0;
      return n;
    }
    case B_CHUNKED: {
      int64_t n = h1_chunks_feed(&d->chunks, buf, len, complete);
      if (n < 0) {
        *bad = 1;
        return 0;
      }
      return (uint64_t)n;
    }
    case B_CLOSE:
      return len;
    default:
      *complete = 1;
      return 0;
  }
}

/* Body bytes to the client: as they are, or framed as one chunk for a close-delimited body. */
static int send_body(dconn *d, const char *buf, uint64_t n, uv_buf_t *head) {
  uv_buf_t bufs[4];
  unsigned nb = 0;
  char size[24];
  if (head != NULL) bufs[nb++] = *head;
  if (n > 0) {
    if (d->body == B_CLOSE) {
      int sl = snprintf(size, sizeof size, "%llx\r\n", (unsigned long long)n);
      bufs[nb++] = uv_buf_init(size, (unsigned)sl);
      bufs[nb++] = uv_buf_init((char *)buf, (unsigned)n);
      bufs[nb++] = uv_buf_init("\r\n", 2);
    } else {
      bufs[nb++] = uv_buf_init((char *)buf, (unsigned)n);
    }
  }
  return nb == 0 ? 0 : h1_client_write(d, bufs, nb);
}

/* Room a filtered head needs past JavaScript's answer: Content-Length (15 digits at most) or Transfer-Encoding,
   Connection: close, and the blank line. */
#define H1_FRAMING_ROOM 96

/* The head the route's response filters left (core/http/native-filtered.ts, responseHead). JavaScript gets the head
   the client would get (the status line as HTTP/1.1, hop-by-hop fields dropped, no blank line) and whether the
   connection closes after it, and answers either the head to send instead (status line and fields with a Date,
   ending in CRLF, without framing fields: those stay ours) or a whole local reply in place of the response (a
   filter answered or failed: it has the blank line). A malloc'd copy with H1_FRAMING_ROOM bytes to spare, its
   length in *len, *whole set; NULL when JavaScript could not be asked or answered nothing usable. */
static char *filtered_head(dconn *d, const char *buf, const h1_response *r, int close, uint32_t *len, int *whole) {
  h1_listener *l = d->l;
  napi_env env = l->base.env;
  if (!l->base.inst->alive) return NULL;
  uint32_t cap = r->head_len + 8;
  char *plain = malloc(cap);
  uint32_t n = plain == NULL ? 0 : h1_client_head(buf, r, "", 0, plain, cap);
  napi_handle_scope scope;
  if (n == 0 || napi_open_handle_scope(env, &scope) != napi_ok) {
    free(plain);
    return NULL;
  }
  napi_value argv[3] = {addon_num(env, d->exid), h1_js_latin1(env, plain, n - 2), addon_num(env, close)};
  free(plain);
  napi_value answer = NULL;
  addon_call(env, l->base.async, l->base.refs[H1_REF_RESPONSE], 3, argv, 0, &answer);
  napi_valuetype type = napi_undefined;
  if (answer != NULL) napi_typeof(env, answer, &type);
  size_t got = 0;
  char *out = NULL;
  if (type == napi_string && napi_get_value_string_latin1(env, answer, NULL, 0, &got) == napi_ok && got >= 14 && got < UINT32_MAX - H1_FRAMING_ROOM - 1 &&
      (out = malloc(got + H1_FRAMING_ROOM + 1)) != NULL) {
    napi_get_value_string_latin1(env, answer, out, got + 1, &got);
  }
  napi_close_handle_scope(env, scope);
  if (out == NULL) return NULL;
  int status_ok = memcmp(out, "HTTP/1.1 ", 9) == 0 && out[9] >= '1' && out[9] <= '5' && out[10] >= '0' && out[10] <= '9' && out[11] >= '0' && out[11] <= '9';
  *whole = 0;
  for (size_t i = 12; i + 4 <= got && !*whole; i++) *whole = memcmp(out + i, "\r\n\r\n", 4) == 0;
  if (!status_ok || (!*whole && memcmp(out + got - 2, "\r\n", 2) != 0)) {
    free(out);
    return NULL;
  }
  *len = (uint32_t)got;
  return out;
}

/* A filtered head's framing (the upstream's, as h1_client_head would have passed it), then `ours` (the fields every
   head gets from us) and the blank line: its new length. */
static uint32_t add_framing(const h1_response *r, const char *ours, uint32_t ours_len, char *out, uint32_t n) {
  if (r->content_length >= 0 && !r->chunked) n += (uint32_t)sprintf(out + n, "content-length: %lld\r\n", (long long)r->content_length);
  if (r->chunked) {
    memcpy(out + n, "transfer-encoding: chunked\r\n", 28);
    n += 28;
  }
  memcpy(out + n, ours, ours_len);
  n += ours_len;
  memcpy(out + n, "\r\n", 2);
  return n + 2;
}

/* A whole response head is in buf: an interim one is passed on (returns its length: what follows is parsed next),
   a final one starts the body with the bytes after it (returns -1: the whole buffer is taken, or the exchange
   ended). */
static int64_t on_response_head(dconn *d, const char *buf, uint32_t len, const h1_response *r) {
  h1_listener *l = d->l;
  if (r->status == 101) {
    h1_fail(d, F_BAD_RESPONSE); /* never asked for: the request had no Upgrade */
    return -1;
  }
  if (r->status < 200) {
    char *out = malloc(r->head_len + 8);
    uint32_t n = out == NULL ? 0 : h1_client_head(buf, r, "", 0, out, r->head_len + 8);
    uv_buf_t b = uv_buf_init(out, n);
    int err = n == 0 || h1_client_write(d, &b, 1) != 0;
    free(out);
    if (err) {
      h1_fail(d, F_BAD_RESPONSE);
      return -1;
    }
    return r->head_len;
  }
  d->status = r->status;
  d->upstream_close = r->close;
  int bodyless = d->is_head || r->status == 204 || r->status == 304;
  if (bodyless) d->body = B_NONE;
  else if (r->chunked) {
    d->body = B_CHUNKED;
    memset(&d->chunks, 0, sizeof d->chunks);
  } else if (r->content_length >= 0) {
    d->body = r->content_length == 0 ? B_NONE : B_LENGTH;
    d->remaining = (uint64_t)r->content_length;
  } else {
    d->body = B_CLOSE;
    d->upstream_close = 1;
  }
  /* A response that starts before the request body is all here: the rest of it will not be read. */
  int close = d->last || l->stopping || d->client_eof || d->body_left > 0;
  /* The fields every head gets from us: a Date when the upstream sent none (a filtered head has its own), chunked
     framing for a close-delimited body, and Connection: close on the connection's last exchange. */
  char extra[128];
  uint32_t extra_len = 0;
  if (!r->has_date && !d->hook_response) {
    h1_refresh_date(l);
    size_t dl = strlen(l->date);
    memcpy(extra, l->date, dl);
    extra_len += (uint32_t)dl;
  }
  if (d->body == B_CLOSE) {
    memcpy(extra + extra_len, "transfer-encoding: chunked\r\n", 28);
    extra_len += 28;
  }
  if (close) {
    d->last = 1;
    memcpy(extra + extra_len, "connection: close\r\n", 19);
    extra_len += 19;
  }
  char *out;
  uint32_t head_n = 0;
  if (d->hook_response) {
    int whole = 0;
    out = filtered_head(d, buf, r, close, &head_n, &whole);
    if (out == NULL) {
      h1_fail(d, F_INTERNAL);
      return -1;
    }
    if (whole) {
      /* A filter answered in place of the response: the upstream's is not read on, and its connection closes. */
      d->upstream_close = 1;
      d->started = 1;
      int err = h1_client_write_response(d, out, head_n);
      free(out);
      h1_end_exchange(d, err != 0 ? F_DOWNSTREAM_ABORTED : F_NONE, 0);
      return -1;
    }
    d->status = (out[9] - '0') * 100 + (out[10] - '0') * 10 + (out[11] - '0');
    head_n = add_framing(r, extra, extra_len, out, head_n);
  } else {
    uint32_t cap = r->head_len + extra_len + 8;
    out = malloc(cap);
    head_n = out == NULL ? 0 : h1_client_head(buf, r, extra, extra_len, out, cap);
    if (head_n == 0) {
      free(out);
      h1_fail(d, F_BAD_RESPONSE);
      return -1;
    }
  }
  d->started = 1;
  int complete, bad;
  uint64_t rest = len - r->head_len;
  uint64_t n = body_bytes(d, buf + r->head_len, rest, &complete, &bad);
  if (bad) {
    free(out);
    d->started = 0;
    h1_fail(d, F_BAD_RESPONSE);
    return -1;
  }
  if (n < rest) d->upstream_close = 1; /* bytes past the response: the connection cannot be trusted again */
  uv_buf_t head = uv_buf_init(out, head_n);
  int err = send_body(d, buf + r->head_len, n, &head);
  free(out);
  if (err != 0) {
    h1_fail(d, F_DOWNSTREAM_ABORTED);
    return -1;
  }
  if (complete) h1_end_exchange(d, F_NONE, 1);
  return -1;
}

/* Response bytes for the exchange of u's client. */
void h1_on_response_bytes(uconn *u, const char *buf, uint32_t len) {
  dconn *d = u->d;
  if (!d->started || d->status < 200) {
    /* The head: parse what is here (with what an earlier read left); interim heads may come first. Only the head
       is bounded (the cluster's maxResponseHeadersBytes); body bytes may follow it in the same read. */
    uint32_t max = d->l->targets[u->target].max_head_bytes;
    const char *p = buf;
    uint32_t plen = len;
    if (u->head_len > 0) {
      /* A head begun in an earlier read (under max bytes): this read joins it; u->head holds max + one read. */
      memcpy(u->head + u->head_len, buf, len);
      u->head_len += len;
      p = u->head;
      plen = u->head_len;
    }
    for (;;) {
      h1_response r;
      int got = h1_parse_response(p, plen, &r);
      if (got == P_BAD || (got == P_DONE && r.head_len > max) || (got == P_INCOMPLETE && plen >= max)) {
        h1_fail(d, F_BAD_RESPONSE);
        return;
      }
      if (got == P_INCOMPLETE) {
        if (u->head == NULL) u->head = malloc((size_t)max + H1_READ_BYTES);
        if (u->head == NULL) {
          h1_fail(d, F_BAD_RESPONSE);
          return;
        }
        if (p != u->head) memmove(u->head, p, plen);
        u->head_len = plen;
        return;
      }
      int interim = r.status < 200 && r.status != 101;
      int64_t took = on_response_head(d, p, plen, &r);
      if (!interim) {
        u->head_len = 0;
        return;
      }
      if (took < 0 || u->d != d) return;
      p += took;
      plen -= (uint32_t)took;
      if (plen == 0) {
        u->head_len = 0;
        return;
      }
    }
  }
  int complete, bad;
  uint64_t n = body_bytes(d, buf, len, &complete, &bad);
  if (bad) {
    h1_fail(d, F_MID_RESPONSE);
    return;
  }
  if (n < len) d->upstream_close = 1;
  if (send_body(d, buf, n, NULL) != 0) {
    h1_fail(d, F_DOWNSTREAM_ABORTED);
    return;
  }
  if (complete) h1_end_exchange(d, F_NONE, 1);
}
