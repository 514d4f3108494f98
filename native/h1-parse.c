// The native HTTP/1.1 engine's parsing: request heads (a strict subset: whatever falls outside it is handed, unread
// by us, to the net engine and its full RFC 9112 parser, so the two engines answer bad input the same way),
// response heads, the head the client gets, and where a chunked body ends. No I/O, no allocation.

#include "h1.h"

static int is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive: the field name (n bytes) is `lname` (lower case). */
static int name_is(const char *n, uint32_t len, const char *lname) {
  uint32_t i = 0;
  for (; i < len; i++)
    if (lname[i] == 0 || lower((unsigned char)n[i]) != lname[i]) return 0;
  return lname[i] == 0;
}

static int token_is(const char *v, uint32_t len, const char *lname) {
  return name_is(v, len, lname);
}

/* One field line of a head: name, value (trimmed), and the whole line with its CRLF. */
typedef struct field {
  const char *name, *value, *line;
  uint32_t name_len, value_len, line_len;
} field;

/*
 * Reads the field line at buf[pos..end): 1 with `f` filled and *next past its CRLF, 0 at the empty line that ends
 * the head, -1 when the line is not one the strict subset accepts (obs-fold, bare LF, a control byte, whitespace
 * before the colon, and obs-text unless `obs_text`). A request with obs-text in a value is the net engine's (it
 * keeps the bytes as they are); a response with it is passed on here as it is, as the net engine would: refusing
 * it would turn an upstream's raw UTF-8 filename or cookie into a 502.
 */
static int next_field(const char *buf, uint32_t pos, uint32_t end, field *f, uint32_t *next, int obs_text) {
  if (pos + 1 < end && buf[pos] == '\r' && buf[pos + 1] == '\n') {
    *next = pos + 2;
    return 0;
  }
  uint32_t i = pos;
  while (i < end && is_tchar((unsigned char)buf[i])) i++;
  if (i == pos || i >= end || buf[i] != ':') return -1;
  f->line = buf + pos;
  f->name = buf + pos;
  f->name_len = i - pos;
  i++;
  while (i < end && (buf[i] == ' ' || buf[i] == '\t')) i++;
  uint32_t vstart = i, vend = i;
  for (; i < end && buf[i] != '\r'; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '\t' || c == ' ') continue;
    if (c < 0x21 || c == 0x7f || (c > 0x7f && !obs_text)) return -1;
    vend = i + 1;
  }
  if (i + 1 >= end || buf[i + 1] != '\n') return -1;
  f->value = buf + vstart;
  f->value_len = vend - vstart;
  f->line_len = i + 2 - pos;
  *next = i + 2;
  return 1;
}

/* The offset just past the head's empty line, or 0 when buf does not hold a whole head yet. */
static uint32_t head_end(const char *buf, uint32_t len) {
  for (uint32_t i = 3; i < len; i++)
    if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') return i + 1;
  return 0;
}

/* The methods the net engine forwards (core/http/http-tokens.ts FORWARDED_METHODS), bodyless ones natively. */
static int method_forwarded(const char *m, uint32_t len) {
  static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", NULL};
  for (int i = 0; methods[i] != NULL; i++)
    if (strlen(methods[i]) == len && memcmp(methods[i], m, len) == 0) return 1;
  return 0;
}

/* Every token of a Connection value is close or keep-alive (anything else names fields to drop: net engine). */
static int connection_tokens(const char *v, uint32_t len, uint8_t *close) {
  uint32_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    uint32_t s = i;
    while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
    if (i == s) break;
    if (token_is(v + s, i - s, "close")) *close = 1;
    else if (!token_is(v + s, i - s, "keep-alive")) return 0;
  }
  return 1;
}

typedef struct writer {
  char *out;
  uint32_t len, cap;
  int overflow;
} writer;

static void put(writer *w, const char *s, uint32_t n) {
  if (w->len + n > w->cap) {
    w->overflow = 1;
    return;
  }
  memcpy(w->out + w->len, s, n);
  w->len += n;
}

static void puts_(writer *w, const char *s) {
  put(w, s, (uint32_t)strlen(s));
}

/* "name: value, appended\r\n" */
static void put_appended(writer *w, const field *f, const char *appended, uint32_t n) {
  put(w, f->name, f->name_len);
  put(w, ": ", 2);
  put(w, f->value, f->value_len);
  if (f->value_len > 0) put(w, ", ", 2);
  put(w, appended, n);
  put(w, "\r\n", 2);
}

/* uri-host [":" port] as the net engine checks it (core/http/request-parser.ts isValidHost): an IP literal or a
   reg-name, then an optional port of up to 5 digits. */
static int valid_host(const char *h, uint32_t len) {
  uint32_t i = 0;
  if (len == 0) return 0;
  if (h[0] == '[') {
    for (i = 1; i < len && h[i] != ']'; i++)
      if (!((h[i] >= '0' && h[i] <= '9') || (lower((unsigned char)h[i]) >= 'a' && lower((unsigned char)h[i]) <= 'f') || h[i] == ':' || h[i] == '.')) return 0;
    if (i == len || i == 1) return 0;
    i++;
  } else {
    for (; i < len && h[i] != ':'; i++) {
      unsigned char c = (unsigned char)h[i];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || strchr("._~!$&'()*+,;=%-", c) != NULL) || c == 0) return 0;
    }
    if (i == 0) return 0;
  }
  if (i == len) return 1;
  if (h[i] != ':' || len - i - 1 > 5) return 0;
  for (i++; i < len; i++)
    if (h[i] < '0' || h[i] > '9') return 0;
  return 1;
}

int h1_parse_request(const char *buf, uint32_t len, const h1_limits *limits, h1_request *r, const char *client_addr, char *rid, char *out,
                     uint32_t cap, uint32_t *out_len) {
  memset(r, 0, sizeof *r);
  uint32_t end = head_end(buf, len);
  if (end == 0) {
    /* A bare LF, or a head in pieces: the net engine decides (and answers) from here. */
    return P_UNSUPPORTED;
  }
  if (end > limits->max_head) return P_UNSUPPORTED;
  /* Request line: METHOD SP origin-form SP HTTP/1.1 CRLF */
  uint32_t i = 0;
  while (i < end && buf[i] >= 'A' && buf[i] <= 'Z') i++;
  if (i == 0 || buf[i] != ' ' || !method_forwarded(buf, i)) return P_UNSUPPORTED;
  r->method = buf;
  r->method_len = i;
  r->is_head = i == 4 && memcmp(buf, "HEAD", 4) == 0;
  uint32_t p = ++i;
  if (buf[p] != '/') return P_UNSUPPORTED;
  while (i < end && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f) i++;
  r->path = buf + p;
  r->path_len = i - p;
  if (r->path_len > limits->max_target) return P_UNSUPPORTED;
  if (end - i < 11 || memcmp(buf + i, " HTTP/1.1\r\n", 11) != 0) return P_UNSUPPORTED;
  uint32_t pos = i + 11;

  writer w = {out, 0, cap, 0};
  put(&w, buf, pos);
  uint8_t seen_xff = 0, seen_xfp = 0, seen_xfh = 0, seen_length = 0;
  int fields = 0, host_count = 0;
  field f;
  int got;
  while ((got = next_field(buf, pos, end, &f, &pos, 0)) == 1) {
    if (++fields > (int)limits->max_fields) return P_UNSUPPORTED;
    const char *n = f.name;
    uint32_t nl = f.name_len;
    switch (lower((unsigned char)n[0])) {
      case 'c':
        if (name_is(n, nl, "content-length")) {
          /* One plain decimal length. A list, a sign or a second field is the net engine's to judge (and
             answer); so is any body when the listener keeps bodies there (limits->bodies == 0). */
          if (seen_length || f.value_len == 0 || f.value_len > 15) return P_UNSUPPORTED;
          uint64_t length = 0;
          for (uint32_t k = 0; k < f.value_len; k++) {
            if (f.value[k] < '0' || f.value[k] > '9') return P_UNSUPPORTED;
            length = length * 10 + (uint64_t)(f.value[k] - '0');
          }
          if (length > 0 && !limits->bodies) return P_UNSUPPORTED;
          r->content_length = length;
          seen_length = 1;
        } else if (name_is(n, nl, "connection")) {
          if (!connection_tokens(f.value, f.value_len, &r->close)) return P_UNSUPPORTED;
          continue;
        }
        break;
      case 'e':
        if (name_is(n, nl, "expect")) {
          /* Hop-by-hop: the proxy answers it (as the net engine does), so it is not passed on; 100-continue is
             noted, any other expectation ignored. The last field says. */
          r->expect_continue = (uint8_t)token_is(f.value, f.value_len, "100-continue");
          continue;
        }
        break;
      case 'h':
        if (name_is(n, nl, "host")) {
          host_count++;
          r->host = f.value;
          r->host_len = f.value_len;
        } else if (name_is(n, nl, "http2-settings")) return P_UNSUPPORTED;
        break;
      case 'k':
        if (name_is(n, nl, "keep-alive")) continue;
        break;
      case 'p':
        if (name_is(n, nl, "proxy-connection")) continue;
        break;
      case 't':
        if (name_is(n, nl, "transfer-encoding")) {
          /* Only chunked alone, once, and only where bodies are relayed; anything else is the net engine's (it
             answers 400 for other codings and for Transfer-Encoding beside Content-Length). */
          if (!limits->bodies || r->chunked || !token_is(f.value, f.value_len, "chunked")) return P_UNSUPPORTED;
          r->chunked = 1;
        }
        if (name_is(n, nl, "te") || name_is(n, nl, "trailer")) continue;
        break;
      case 'u':
        if (name_is(n, nl, "upgrade")) return P_UNSUPPORTED;
        break;
      case 'x':
        if (name_is(n, nl, "x-request-id")) {
          if (r->request_id != 0) return P_UNSUPPORTED; /* two of them: let the net engine's rules apply */
          if (f.value_len == 0) {
            r->request_id = 1;
            continue;
          }
          if (f.value_len > 128) return P_UNSUPPORTED;
          r->request_id = 2;
          memcpy(rid, f.value, f.value_len);
          rid[f.value_len] = 0;
        } else if (!seen_xff && name_is(n, nl, "x-forwarded-for")) {
          seen_xff = 1;
          put_appended(&w, &f, client_addr, (uint32_t)strlen(client_addr));
          continue;
        } else if (!seen_xfp && name_is(n, nl, "x-forwarded-proto")) {
          seen_xfp = 1;
          put_appended(&w, &f, "http", 4);
          continue;
        } else if (!seen_xfh && name_is(n, nl, "x-forwarded-host")) {
          /* Host after X-Forwarded-Host: rare, and the appended value needs it now. */
          if (r->host == NULL) return P_UNSUPPORTED;
          seen_xfh = 1;
          put_appended(&w, &f, r->host, r->host_len);
          continue;
        }
        break;
      default:
        break;
    }
    put(&w, f.line, f.line_len);
  }
  if (got < 0 || pos != end || host_count != 1 || !valid_host(r->host, r->host_len)) return P_UNSUPPORTED;
  if (r->chunked && seen_length) return P_UNSUPPORTED;
  r->head_len = end;
  if (r->request_id != 2) {
    puts_(&w, "x-request-id: ");
    puts_(&w, rid);
    put(&w, "\r\n", 2);
  }
  if (!seen_xff) {
    puts_(&w, "x-forwarded-for: ");
    puts_(&w, client_addr);
    put(&w, "\r\n", 2);
  }
  if (!seen_xfp) puts_(&w, "x-forwarded-proto: http\r\n");
  if (!seen_xfh) {
    puts_(&w, "x-forwarded-host: ");
    put(&w, r->host, r->host_len);
    put(&w, "\r\n", 2);
  }
  put(&w, "\r\n", 2);
  if (w.overflow) return P_UNSUPPORTED;
  *out_len = w.len;
  return P_DONE;
}

/* The next token of a response's Connection value (tokens apart by commas or spaces) from *i: its start in *s,
   its length returned; 0 at the end. */
static uint32_t next_list_token(const char *v, uint32_t len, uint32_t *i, uint32_t *s) {
  while (*i < len && (v[*i] == ' ' || v[*i] == ',')) (*i)++;
  *s = *i;
  while (*i < len && v[*i] != ',' && v[*i] != ' ') (*i)++;
  return *i - *s;
}

int h1_parse_response(const char *buf, uint32_t len, h1_response *r) {
  memset(r, 0, sizeof *r);
  r->content_length = -1;
  uint32_t end = head_end(buf, len);
  if (end == 0) {
    /* A bare LF would never end the head: it is malformed now, not a timeout later. */
    for (uint32_t i = 0; i < len; i++)
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) return P_BAD;
    return P_INCOMPLETE;
  }
  /* The shortest head: "HTTP/1.1 200\r\n\r\n" (no reason phrase, as the net engine accepts it). */
  if (end < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') || buf[8] != ' ') return P_BAD;
  int http10 = buf[7] == '0';
  for (int k = 9; k < 12; k++)
    if (buf[k] < '0' || buf[k] > '9') return P_BAD;
  r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  if (r->status < 100 || r->status > 599 || (buf[12] != ' ' && buf[12] != '\r')) return P_BAD;
  /* The reason phrase: HTAB, SP, VCHAR, obs-text, up to the line's CRLF. A CR anywhere else would reach the
     client in the status line (h1_client_head copies it), where a lenient client may end the line at it. */
  uint32_t pos = 12;
  while (pos < end && buf[pos] != '\r') {
    unsigned char c = (unsigned char)buf[pos];
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return P_BAD;
    pos++;
  }
  if (pos + 1 >= end || buf[pos + 1] != '\n') return P_BAD;
  pos += 2;
  uint8_t keep_alive = 0, te = 0;
  field f;
  int got;
  while ((got = next_field(buf, pos, end, &f, &pos, 1)) == 1) {
    if (name_is(f.name, f.name_len, "content-length")) {
      if (f.value_len == 0 || f.value_len > 15) return P_BAD;
      int64_t n = 0;
      for (uint32_t k = 0; k < f.value_len; k++) {
        if (f.value[k] < '0' || f.value[k] > '9') return P_BAD;
        n = n * 10 + (f.value[k] - '0');
      }
      /* A second one, even of the same value, is refused, as the net engine refuses it (response-parser.ts). */
      if (r->content_length >= 0) return P_BAD;
      r->content_length = n;
    } else if (name_is(f.name, f.name_len, "transfer-encoding")) {
      /* Only chunked (as the last, here the only, coding) has an end we can find. */
      if (te || !token_is(f.value, f.value_len, "chunked")) return P_BAD;
      te = 1;
    } else if (name_is(f.name, f.name_len, "connection")) {
      uint32_t i = 0, s, n;
      while ((n = next_list_token(f.value, f.value_len, &i, &s)) > 0) {
        if (token_is(f.value + s, n, "close")) r->close = 1;
        else if (token_is(f.value + s, n, "keep-alive")) keep_alive = 1;
        else r->lists_fields = 1;
      }
    } else if (name_is(f.name, f.name_len, "date")) {
      r->has_date = 1;
    }
  }
  if (got < 0 || pos != end) return P_BAD;
  /* Both framings: RFC 9112 §6.3 lets Transfer-Encoding win, but the message may be an attack (smuggling); like
     the other engines, we refuse it. */
  if (te && r->content_length >= 0) return P_BAD;
  r->chunked = te;
  if (http10 && !keep_alive) r->close = 1;
  r->head_len = end;
  return P_DONE;
}

/* Whether a Connection field of the head (its fields from `fields` on) names the field `name` (len bytes). Read
   again for each field, and only for a response whose Connection names fields at all (rare): no list to bound. */
static int listed_by_connection(const char *buf, const h1_response *r, uint32_t fields, const char *name, uint32_t len) {
  if (!r->lists_fields) return 0;
  field f;
  uint32_t pos = fields;
  while (next_field(buf, pos, r->head_len, &f, &pos, 1) == 1) {
    if (!name_is(f.name, f.name_len, "connection")) continue;
    uint32_t i = 0, s, n;
    while ((n = next_list_token(f.value, f.value_len, &i, &s)) > 0) {
      if (n != len) continue;
      uint32_t k = 0;
      while (k < len && lower((unsigned char)f.value[s + k]) == lower((unsigned char)name[k])) k++;
      if (k == len) return 1;
    }
  }
  return 0;
}

uint32_t h1_client_head(const char *buf, const h1_response *r, const char *extra, uint32_t extra_len, char *out, uint32_t cap) {
  writer w = {out, 0, cap, 0};
  put(&w, "HTTP/1.1", 8);
  uint32_t pos = 8;
  while (buf[pos] != '\n') pos++;
  put(&w, buf + 8, pos + 1 - 8);
  pos++;
  const uint32_t fields = pos;
  field f;
  while (next_field(buf, pos, r->head_len, &f, &pos, 1) == 1) {
    const char *n = f.name;
    uint32_t nl = f.name_len;
    if (name_is(n, nl, "connection") || name_is(n, nl, "keep-alive") || name_is(n, nl, "proxy-connection") || name_is(n, nl, "te") ||
        name_is(n, nl, "trailer") || name_is(n, nl, "upgrade"))
      continue;
    if (r->chunked && name_is(n, nl, "content-length")) continue;
    /* Connection may name fields to drop, but not the framing: the body is relayed as these fields say, and a
       client that did not see them would read it to the close, and the next response on the connection as more of
       it (the net engine frames the body itself, so its client sees the same framing). */
    if (listed_by_connection(buf, r, fields, n, nl) && !name_is(n, nl, "content-length") && !name_is(n, nl, "transfer-encoding")) continue;
    put(&w, f.line, f.line_len);
  }
  put(&w, extra, extra_len);
  put(&w, "\r\n", 2);
  return w.overflow ? 0 : w.len;
}

enum { CS_SIZE, CS_EXT, CS_SIZE_LF, CS_DATA, CS_DATA_CR, CS_DATA_LF, CS_TRAILER_START, CS_TRAILER, CS_TRAILER_LF, CS_FINAL_LF, CS_DONE };

static int hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int64_t h1_chunks_feed(h1_chunks *c, const char *buf, uint64_t len, int *done) {
  uint64_t i = 0;
  *done = 0;
  while (i < len) {
    unsigned char ch = (unsigned char)buf[i];
    switch (c->state) {
      case CS_SIZE: {
        int h = hex(ch);
        if (h >= 0) {
          if (++c->digits > 15) return -1;
          c->remaining = c->remaining * 16 + (uint64_t)h;
        } else if (c->digits == 0) {
          return -1;
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
          c->state = CS_EXT;
        } else if (ch == '\r') {
          c->state = CS_SIZE_LF;
        } else {
          return -1;
        }
        i++;
        break;
      }
      case CS_EXT:
        if (ch == '\r') c->state = CS_SIZE_LF;
        else if (ch == '\n') return -1;
        i++;
        break;
      case CS_SIZE_LF:
        if (ch != '\n') return -1;
        c->state = c->remaining == 0 ? CS_TRAILER_START : CS_DATA;
        i++;
        break;
      case CS_DATA: {
        uint64_t n = len - i < c->remaining ? len - i : c->remaining;
        c->remaining -= n;
        i += n;
        if (c->remaining == 0) c->state = CS_DATA_CR;
        break;
      }
      case CS_DATA_CR:
        if (ch != '\r') return -1;
        c->state = CS_DATA_LF;
        i++;
        break;
      case CS_DATA_LF:
        if (ch != '\n') return -1;
        c->state = CS_SIZE;
        c->digits = 0;
        i++;
        break;
      case CS_TRAILER_START:
        c->state = ch == '\r' ? CS_FINAL_LF : CS_TRAILER;
        i++;
        break;
      case CS_TRAILER:
        if (ch == '\r') c->state = CS_TRAILER_LF;
        else if (ch == '\n') return -1;
        i++;
        break;
      case CS_TRAILER_LF:
        if (ch != '\n') return -1;
        c->state = CS_TRAILER_START;
        i++;
        break;
      case CS_FINAL_LF:
        if (ch != '\n') return -1;
        c->state = CS_DONE;
        *done = 1;
        return (int64_t)(i + 1);
      default:
        *done = 1;
        return (int64_t)i;
    }
  }
  return (int64_t)len;
}

/* ---- a chunked request body ---- */

enum { RC_SIZE, RC_EXT, RC_SIZE_LF, RC_DATA, RC_DATA_CR, RC_DATA_LF, RC_TRAILER_START, RC_TRAILER, RC_TRAILER_LF, RC_FINAL_LF, RC_DONE };

#define RC_MAX_SIZE_DIGITS 13
#define RC_MAX_EXTENSION_BYTES 4096

/* field-vchar / obs-text / SP / HTAB (RFC 9110 §5.5). */
static int field_value_byte(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void h1_req_chunks_reset(h1_req_chunks *c, uint32_t max_trailer_bytes) {
  memset(c, 0, sizeof *c);
  c->max_trailer_bytes = max_trailer_bytes;
}

static int rc_fail(h1_req_chunks *c, uint8_t error) {
  c->error = error;
  return H1_CHUNKS_BAD;
}

int h1_req_chunks_feed(h1_req_chunks *c, const char *buf, uint32_t len, uint32_t *pos, const char **data, uint32_t *data_len) {
  uint32_t i = *pos;
  if (c->step == RC_DONE) return H1_CHUNKS_DONE;
  while (i < len) {
    unsigned char ch = (unsigned char)buf[i];
    switch (c->step) {
      case RC_SIZE: {
        int h = hex(ch);
        i++;
        if (h >= 0) {
          if (++c->digits > RC_MAX_SIZE_DIGITS) return rc_fail(c, CE_SIZE_TOO_LARGE);
          c->remaining = c->remaining * 16 + (uint64_t)h;
        } else if (c->digits == 0) {
          return rc_fail(c, CE_INVALID_SIZE);
        } else if (ch == '\r') {
          c->step = RC_SIZE_LF;
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
          c->ext_bytes = 0;
          c->step = RC_EXT;
        } else {
          return rc_fail(c, CE_INVALID_SIZE);
        }
        break;
      }
      case RC_EXT:
        i++;
        if (ch == '\r') c->step = RC_SIZE_LF;
        else if (!field_value_byte(ch)) return rc_fail(c, CE_EXTENSION_BYTE);
        else if (++c->ext_bytes > RC_MAX_EXTENSION_BYTES) return rc_fail(c, CE_EXTENSION_TOO_LONG);
        break;
      case RC_SIZE_LF:
        i++;
        if (ch != '\n') return rc_fail(c, CE_CR_AFTER_SIZE);
        c->step = c->remaining == 0 ? RC_TRAILER_START : RC_DATA;
        break;
      case RC_DATA: {
        uint32_t n = (uint64_t)(len - i) < c->remaining ? len - i : (uint32_t)c->remaining;
        c->remaining -= n;
        if (c->remaining == 0) c->step = RC_DATA_CR;
        *data = buf + i;
        *data_len = n;
        *pos = i + n;
        return H1_CHUNKS_DATA;
      }
      case RC_DATA_CR:
        i++;
        if (ch != '\r') return rc_fail(c, CE_NO_CRLF_AFTER_DATA);
        c->step = RC_DATA_LF;
        break;
      case RC_DATA_LF:
        i++;
        if (ch != '\n') return rc_fail(c, CE_NO_CRLF_AFTER_DATA);
        c->step = RC_SIZE;
        c->remaining = 0;
        c->digits = 0;
        break;
      default:
        /* Trailers: every byte counts against the limit, the last CRLF's too. */
        i++;
        if (++c->trailer_bytes > c->max_trailer_bytes) return rc_fail(c, CE_TRAILERS_TOO_LARGE);
        switch (c->step) {
          case RC_TRAILER_START:
            if (ch == '\r') c->step = RC_FINAL_LF;
            else if (is_tchar(ch)) c->step = RC_TRAILER;
            else return rc_fail(c, CE_INVALID_TRAILER);
            break;
          case RC_TRAILER:
            if (ch == '\r') c->step = RC_TRAILER_LF;
            else if (!field_value_byte(ch)) return rc_fail(c, CE_TRAILER_BYTE);
            break;
          case RC_TRAILER_LF:
            if (ch != '\n') return rc_fail(c, CE_CR_IN_TRAILERS);
            c->step = RC_TRAILER_START;
            break;
          case RC_FINAL_LF:
            if (ch != '\n') return rc_fail(c, CE_CR_IN_TRAILERS);
            c->step = RC_DONE;
            *pos = i;
            return H1_CHUNKS_DONE;
          default:
            break;
        }
    }
  }
  *pos = i;
  return H1_CHUNKS_MORE;
}
