// The benchmark's fixed-response upstream in C: the same answers as bench/upstream-server.ts (uWebSockets.js), at a
// fraction of its CPU per request. The load generator and the upstream share one core; with the uWS upstream that
// core saturated before the proxy under test did (about 12 us of upstream CPU per small request), so a throughput
// round measured the load core, not the proxy. Built and started by bench/upstream.ts.
//
// GET /size/N answers N bytes of 'x', /chunked/N the same chunked, anything else "hello, world\n". Request bodies
// (Content-Length or chunked) are read to the end and dropped before the answer. Keep-alive and pipelining; a
// request that says `connection: close` (or HTTP/1.0) gets `connection: close` and a closed connection. One thread,
// level-triggered epoll; while an answer is being written the connection is not read (backpressure).
// Usage: fixed-upstream [--port N]; prints `listening <port>` when ready.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IN_CAP 65536
#define MAX_BODIES 64

static const char SMALL[] = "hello, world\n";
static const char CHUNKED_END[] = "\r\n0\r\n\r\n";

enum body_state { NO_BODY, SIZED, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER };

struct conn {
  int fd;
  size_t in_len;
  /* The request being read: its body framing and what the answer will be. */
  enum body_state body;
  long long left;
  /* The head is parsed; the answer goes out once the body has been read. */
  int answer_due;
  int close_after;
  const char *answer;
  size_t answer_len;
  int answer_chunked;
  /* The answer being written: head, body, chunked end. */
  struct iovec out[3];
  int out_count;
  char head[256];
  char in[IN_CAP];
};

static int ep;

/* Bodies by size, made once: the answers point at them. */
static struct {
  size_t size;
  char *bytes;
} bodies[MAX_BODIES];
static int body_count;

/* NULL past MAX_BODIES sizes (the request's connection is then closed): answers in flight point at these bytes, so
   they are never freed, and an unbounded number of sizes would grow without bound. */
static const char *body_of(size_t size) {
  for (int i = 0; i < body_count; i++)
    if (bodies[i].size == size) return bodies[i].bytes;
  if (body_count == MAX_BODIES) return NULL;
  char *b = malloc(size > 0 ? size : 1);
  if (b == NULL) return NULL;
  memset(b, 'x', size);
  bodies[body_count++] = (typeof(bodies[0])){size, b};
  return b;
}

static void conn_close(struct conn *c) {
  close(c->fd);
  free(c);
}

static void watch(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Case-insensitive: does the field line at `line` (length n) have name `name`? Returns its value or NULL. */
static const char *field_value(const char *line, size_t n, const char *name, size_t *value_len) {
  size_t k = strlen(name);
  if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return NULL;
  const char *v = line + k + 1;
  const char *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  *value_len = (size_t)(end - v);
  return v;
}

/* Parses the head from `head` to `head_end` (after its blank line): framing and answer. */
static int parse_head(struct conn *c, const char *head, const char *head_end) {
  const char *p = head;
  const char *line_end = memmem(p, (size_t)(head_end - p), "\r\n", 2);
  const char *sp1 = memchr(p, ' ', (size_t)(line_end - p));
  if (sp1 == NULL) return -1;
  const char *target = sp1 + 1;
  const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
  if (sp2 == NULL) return -1;
  c->close_after = (size_t)(line_end - sp2 - 1) == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
  size_t tlen = (size_t)(sp2 - target);
  c->answer = SMALL;
  c->answer_len = sizeof SMALL - 1;
  c->answer_chunked = 0;
  const char *num = NULL;
  if (tlen > 6 && memcmp(target, "/size/", 6) == 0) num = target + 6;
  if (tlen > 9 && memcmp(target, "/chunked/", 9) == 0) num = target + 9, c->answer_chunked = 1;
  if (num != NULL) {
    size_t size = (size_t)strtoull(num, NULL, 10);
    c->answer = body_of(size);
    if (c->answer == NULL) return -1;
    c->answer_len = size;
  }
  c->body = NO_BODY;
  c->left = 0;
  for (p = line_end + 2; p < head_end - 2;) {
    const char *e = memmem(p, (size_t)(head_end - p), "\r\n", 2);
    size_t n = (size_t)(e - p), vl;
    const char *v;
    if ((v = field_value(p, n, "content-length", &vl)) != NULL) {
      c->left = strtoll(v, NULL, 10);
      if (c->left > 0 && c->body == NO_BODY) c->body = SIZED;
    } else if ((v = field_value(p, n, "transfer-encoding", &vl)) != NULL) {
      if (vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0) c->body = CHUNK_SIZE;
    } else if ((v = field_value(p, n, "connection", &vl)) != NULL) {
      if (vl == 5 && strncasecmp(v, "close", 5) == 0) c->close_after = 1;
      if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0) c->close_after = 0;
    }
    p = e + 2;
  }
  return 0;
}

/* Drops body bytes from the front of c->in (from `at`); returns where the body ended, or -1 when it needs more. */
static long skip_body(struct conn *c, size_t at) {
  for (;;) {
    size_t avail = c->in_len - at;
    switch (c->body) {
      case NO_BODY:
        return (long)at;
      case SIZED:
      case CHUNK_DATA: {
        size_t n = (size_t)c->left < avail ? (size_t)c->left : avail;
        at += n;
        c->left -= (long long)n;
        if (c->left > 0) return -1 - (long)at;
        c->body = c->body == SIZED ? NO_BODY : CHUNK_DATA_END;
        break;
      }
      case CHUNK_DATA_END:
        if (avail < 2) return -1 - (long)at;
        at += 2;
        c->body = CHUNK_SIZE;
        break;
      case CHUNK_SIZE:
      case CHUNK_TRAILER: {
        const char *e = memmem(c->in + at, avail, "\r\n", 2);
        if (e == NULL) return -1 - (long)at;
        size_t n = (size_t)(e - (c->in + at));
        if (c->body == CHUNK_SIZE) {
          c->left = strtoll(c->in + at, NULL, 16);
          c->body = c->left > 0 ? CHUNK_DATA : CHUNK_TRAILER;
        } else if (n == 0) {
          c->body = NO_BODY;
        }
        at += n + 2;
        break;
      }
    }
  }
}

static void answer(struct conn *c) {
  int n;
  if (c->answer_chunked)
    n = snprintf(c->head, sizeof c->head,
                 "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n%s\r\n%zx\r\n",
                 c->close_after ? "connection: close\r\n" : "", c->answer_len);
  else
    n = snprintf(c->head, sizeof c->head, "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: %zu\r\n%s\r\n",
                 c->answer_len, c->close_after ? "connection: close\r\n" : "");
  c->out[0] = (struct iovec){c->head, (size_t)n};
  c->out_count = 1;
  if (c->answer_len > 0) c->out[c->out_count++] = (struct iovec){(void *)c->answer, c->answer_len};
  /* Chunked: the data chunk's CRLF, the last chunk and the end; or, with no data, only the end. */
  if (c->answer_chunked && c->answer_len > 0) c->out[c->out_count++] = (struct iovec){(void *)CHUNKED_END, sizeof CHUNKED_END - 1};
  if (c->answer_chunked && c->answer_len == 0) c->out[c->out_count++] = (struct iovec){(void *)"\r\n", 2};
}

/* Writes what is left of the answer: 1 when done, 0 when the socket is full, -1 on error. */
static int flush(struct conn *c) {
  while (c->out_count > 0) {
    ssize_t w = writev(c->fd, c->out, c->out_count);
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    size_t left = (size_t)w;
    int i = 0;
    while (i < c->out_count && left >= c->out[i].iov_len) left -= c->out[i++].iov_len;
    memmove(c->out, c->out + i, sizeof(struct iovec) * (size_t)(c->out_count - i));
    c->out_count -= i;
    if (c->out_count > 0) {
      c->out[0].iov_base = (char *)c->out[0].iov_base + left;
      c->out[0].iov_len -= left;
    }
  }
  return 1;
}

/* Drops the first n bytes of c->in (the requests served). */
static void consume(struct conn *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
}

/* Serves every complete request in c->in. Returns -1 when the connection is to be closed. */
static int serve(struct conn *c) {
  size_t at = 0;
  for (;;) {
    if (c->answer_due) {
      long r = skip_body(c, at);
      if (r < 0) {
        at = (size_t)(-1 - r);
        break;
      }
      at = (size_t)r;
    } else {
      const char *end = memmem(c->in + at, c->in_len - at, "\r\n\r\n", 4);
      if (end == NULL) {
        if (at == 0 && c->in_len == IN_CAP) return -1; /* a head larger than the buffer */
        break;
      }
      if (parse_head(c, c->in + at, end + 4) < 0) return -1;
      at = (size_t)(end + 4 - c->in);
      c->answer_due = 1;
      continue;
    }
    /* The request (head and body) is in: answer it. */
    c->answer_due = 0;
    answer(c);
    int f = flush(c);
    if (f < 0) return -1;
    if (f == 0) {
      consume(c, at);
      watch(c, EPOLLOUT);
      return 0;
    }
    if (c->close_after) return -1;
  }
  consume(c, at);
  return 0;
}

static void on_readable(struct conn *c) {
  ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
  if (r <= 0) {
    if (r < 0 && errno == EAGAIN) return;
    conn_close(c);
    return;
  }
  c->in_len += (size_t)r;
  if (serve(c) < 0) conn_close(c);
}

static void on_writable(struct conn *c) {
  int f = flush(c);
  if (f == 0) return;
  if (f < 0 || c->close_after || serve(c) < 0) {
    conn_close(c);
    return;
  }
  if (c->out_count == 0) watch(c, EPOLLIN);
}

int main(int argc, char **argv) {
  int port = 0;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0 || getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
    perror("cannot listen");
    return 1;
  }
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  printf("listening %d\n", ntohs(a.sin_port));
  fflush(stdout);
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct conn *nc = malloc(sizeof *nc);
          if (nc == NULL) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          nc->in_len = 0;
          nc->body = NO_BODY;
          nc->answer_due = 0;
          nc->out_count = 0;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
      } else if (c->out_count > 0) {
        /* Writing an answer: only EPOLLOUT is asked for (an error or hang-up comes out of writev). */
        on_writable(c);
      } else {
        on_readable(c);
      }
    }
  }
}
