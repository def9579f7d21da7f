/*
 * udp-batch: a UDP socket for the relay and the transceiver with batched I/O (Linux recvmmsg /
 * sendmmsg), watched by a libuv poll handle on Node's own event loop.
 * Node-API and libuv only (no V8 or Node C++ API): ABI-stable across Node versions.
 *
 * Memory is shared with JS and allocated once, by JS (ArrayBuffers held here
 * by reference, so their backing stores stay put):
 *
 *   receive slab   `batch` slots of `slot` bytes; datagram i lands at
 *                  i * slot + HEADROOM (so JS can write a header in front of
 *                  it in place and send header + datagram as one range)
 *   receive meta   Int32Array, META_STRIDE ints per datagram:
 *                  offset, length, family (4|6), port, a0, a1, a2, a3, scope id, flags
 *                  IPv4: a0 = address as uint32 (read with >>> 0); IPv6: a0..a3
 *                  big-endian 32-bit words. IPv4-mapped IPv6 sources are reported as IPv4.
 *                  flags: 1 = truncated (did not fit its slot)
 *   send meta      Int32Array, META_STRIDE ints per queued datagram:
 *                  buffer id, offset, length, family, port, a0, a1, a2, a3, scope id
 *                  buffer id indexes the buffers given to setSendBuffers.
 *
 * On readable, the socket is drained with recvmmsg, one JS callback per batch
 * (argument: the count). flush(n) sends the first n queued entries with
 * sendmmsg, never blocking: what the kernel refuses (EAGAIN, ENOBUFS, a bad
 * destination) is dropped and counted, never thrown.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define META_STRIDE 10
#define HEADROOM 32
#define MAX_BATCH 1024
#define MAX_SEND_BUFFERS 8
/* Most batches one readable event may read before yielding to the loop (the open call picks up to this). */
#define MAX_BATCHES_PER_EVENT 64

typedef struct {
  uint8_t *base;
  size_t len;
  napi_ref ref;
} shared_buf;

typedef struct sock {
  napi_env env;
  int fd;
  int family; /* AF_INET or AF_INET6 */
  int closed;
  uv_poll_t *poll;
  napi_ref callback;
  napi_async_context async;
  /* receive */
  shared_buf slab;
  shared_buf rmeta;
  uint32_t batch;
  uint32_t slot;
  uint32_t batches_per_event;
  struct mmsghdr *in;
  struct iovec *iov;
  struct sockaddr_storage *from;
  /* send */
  shared_buf smeta;
  uint32_t smeta_entries;
  shared_buf bufs[MAX_SEND_BUFFERS];
  uint32_t nbufs;
  struct mmsghdr *out;
  struct iovec *oiov;
  struct sockaddr_storage *to;
  /* counters (read by stats()) */
  double send_drops;
  double send_errors_other;
  double recv_batches;
  double recv_datagrams;
  int last_send_errno;
} sock;

#define CHECK(env, call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      const napi_extended_error_info *info_;                                 \
      napi_get_last_error_info((env), &info_);                               \
      bool pending_;                                                         \
      napi_is_exception_pending((env), &pending_);                           \
      if (!pending_)                                                         \
        napi_throw_error((env), NULL,                                        \
                         info_ && info_->error_message ? info_->error_message \
                                                       : "udp-batch: N-API call failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  napi_value code, text, error;
  const char *name = "EIO";
  switch (err) {
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
    case EACCES: name = "EACCES"; break;
    case EAFNOSUPPORT: name = "EAFNOSUPPORT"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case EBADF: name = "EBADF"; break;
    default: break;
  }
  snprintf(msg, sizeof msg, "%s %s: %s", what, name, strerror(err));
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, text, &error);
  napi_throw(env, error);
  return NULL;
}

/* ---- buffers shared with JS ---- */

static napi_status hold_arraybuffer(napi_env env, napi_value v, shared_buf *out) {
  bool is_ab = false, is_ta = false;
  napi_status s = napi_is_arraybuffer(env, v, &is_ab);
  if (s != napi_ok) return s;
  if (is_ab) {
    void *data;
    s = napi_get_arraybuffer_info(env, v, &data, &out->len);
    if (s != napi_ok) return s;
    out->base = data;
  } else {
    s = napi_is_typedarray(env, v, &is_ta);
    if (s != napi_ok) return s;
    if (!is_ta) return napi_invalid_arg;
    napi_typedarray_type type;
    size_t length, byte_offset;
    void *data;
    napi_value ab;
    s = napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset);
    if (s != napi_ok) return s;
    size_t elem = (type == napi_int32_array || type == napi_uint32_array) ? 4
                  : (type == napi_uint8_array || type == napi_int8_array || type == napi_uint8_clamped_array) ? 1
                  : 0;
    if (elem == 0) return napi_invalid_arg;
    out->base = data;
    out->len = length * elem;
  }
  return napi_create_reference(env, v, 1, &out->ref);
}

static void release_buf(napi_env env, shared_buf *b) {
  if (b->ref) napi_delete_reference(env, b->ref);
  b->ref = NULL;
  b->base = NULL;
  b->len = 0;
}

/* ---- addresses ---- */

/* Writes a source address into meta[2..9) (family, port, a0..a3, scope). */
static void put_address(int32_t *m, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    m[2] = 4;
    m[3] = ntohs(a->sin_port);
    m[4] = (int32_t)ntohl(a->sin_addr.s_addr);
    m[5] = m[6] = m[7] = 0;
    m[8] = 0;
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    const uint8_t *b = a->sin6_addr.s6_addr;
    uint32_t w[4];
    for (int i = 0; i < 4; i++)
      w[i] = ((uint32_t)b[4 * i] << 24) | ((uint32_t)b[4 * i + 1] << 16) | ((uint32_t)b[4 * i + 2] << 8) | b[4 * i + 3];
    m[3] = ntohs(a->sin6_port);
    if (w[0] == 0 && w[1] == 0 && w[2] == 0xffff) { /* IPv4-mapped */
      m[2] = 4;
      m[4] = (int32_t)w[3];
      m[5] = m[6] = m[7] = 0;
      m[8] = 0;
    } else {
      m[2] = 6;
      m[4] = (int32_t)w[0];
      m[5] = (int32_t)w[1];
      m[6] = (int32_t)w[2];
      m[7] = (int32_t)w[3];
      m[8] = (int32_t)a->sin6_scope_id;
    }
  }
}

/* A destination from meta (family, port, a0..a3, scope) for a socket of `family`; its length, or 0 if impossible. */
static socklen_t get_address(const int32_t *m, int family, struct sockaddr_storage *ss) {
  int f = m[0];
  uint16_t port = (uint16_t)m[1];
  if (family == AF_INET) {
    if (f != 4) return 0;
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl((uint32_t)m[2]);
    return sizeof *a;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  memset(a, 0, sizeof *a);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  uint32_t w[4];
  if (f == 4) {
    w[0] = 0;
    w[1] = 0;
    w[2] = 0xffff;
    w[3] = (uint32_t)m[2];
  } else if (f == 6) {
    for (int i = 0; i < 4; i++) w[i] = (uint32_t)m[2 + i];
    a->sin6_scope_id = (uint32_t)m[6];
  } else {
    return 0;
  }
  uint8_t *b = a->sin6_addr.s6_addr;
  for (int i = 0; i < 4; i++) {
    b[4 * i] = (uint8_t)(w[i] >> 24);
    b[4 * i + 1] = (uint8_t)(w[i] >> 16);
    b[4 * i + 2] = (uint8_t)(w[i] >> 8);
    b[4 * i + 3] = (uint8_t)w[i];
  }
  return sizeof *a;
}

/* ---- receive ---- */

static void prepare_receive(sock *s) {
  for (uint32_t i = 0; i < s->batch; i++) {
    s->iov[i].iov_base = s->slab.base + (size_t)i * s->slot + HEADROOM;
    s->iov[i].iov_len = s->slot - HEADROOM;
    memset(&s->in[i].msg_hdr, 0, sizeof s->in[i].msg_hdr);
    s->in[i].msg_hdr.msg_iov = &s->iov[i];
    s->in[i].msg_hdr.msg_iovlen = 1;
    s->in[i].msg_hdr.msg_name = &s->from[i];
    s->in[i].msg_hdr.msg_namelen = sizeof s->from[i];
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  sock *s = h->data;
  if (s->closed || status < 0 || !(events & UV_READABLE)) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb = NULL, recv;
  napi_get_reference_value(env, s->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback wants an object receiver */
  if (cb == NULL) {
    napi_close_handle_scope(env, scope);
    return;
  }
  int32_t *meta = (int32_t *)s->rmeta.base;
  for (uint32_t round = 0; round < s->batches_per_event && !s->closed; round++) {
    for (uint32_t i = 0; i < s->batch; i++) s->in[i].msg_hdr.msg_namelen = sizeof s->from[i];
    int n = recvmmsg(s->fd, s->in, s->batch, MSG_DONTWAIT, NULL);
    if (n <= 0) break; /* EAGAIN: drained; other errors (ICMP-reported ECONNREFUSED...): try again on the next event */
    for (int i = 0; i < n; i++) {
      int32_t *m = meta + (size_t)i * META_STRIDE;
      m[0] = (int32_t)((size_t)i * s->slot + HEADROOM);
      m[1] = (int32_t)s->in[i].msg_len;
      put_address(m, &s->from[i]);
      m[9] = (s->in[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
    }
    s->recv_batches++;
    s->recv_datagrams += n;
    napi_value arg, result;
    napi_create_uint32(env, (uint32_t)n, &arg);
    napi_status st = napi_make_callback(env, s->async, recv, cb, 1, &arg, &result);
    if (st == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
      break;
    }
    if ((uint32_t)n < s->batch) break;
  }
  napi_close_handle_scope(env, scope);
}

/* ---- lifecycle ---- */

static void free_poll(uv_handle_t *h) { free(h); }

static void close_sock(napi_env env, sock *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->poll) {
    uv_poll_stop(s->poll);
    uv_close((uv_handle_t *)s->poll, free_poll);
    s->poll = NULL;
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (env) {
    if (s->callback) napi_delete_reference(env, s->callback);
    s->callback = NULL;
    if (s->async) napi_async_destroy(env, s->async);
    s->async = NULL;
    release_buf(env, &s->slab);
    release_buf(env, &s->rmeta);
    release_buf(env, &s->smeta);
    for (uint32_t i = 0; i < s->nbufs; i++) release_buf(env, &s->bufs[i]);
    s->nbufs = 0;
  }
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  (void)hint;
  sock *s = data;
  close_sock(env, s);
  free(s->in);
  free(s->iov);
  free(s->from);
  free(s->out);
  free(s->oiov);
  free(s->to);
  free(s);
}

static sock *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, NULL, "udp-batch: not a socket handle");
    return NULL;
  }
  return p;
}

static int parse_ip(const char *text, struct sockaddr_storage *ss, socklen_t *len, uint16_t port) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
    return AF_INET6;
  }
  return -1;
}

/*
 * open(address, port, reusePort, bufferBytes, slab, recvMeta, slot, batch, sendMeta, callback, batchesPerEvent) -> handle
 * Binds a nonblocking UDP socket and starts reading, at most batchesPerEvent batches per readable
 * event before the loop runs its timers and other handles.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "udp-batch open: 11 arguments expected");
    return NULL;
  }
  char addr[64];
  size_t alen;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &alen));
  uint32_t port, buffer_bytes, slot, batch, batches_per_event;
  bool reuse;
  CHECK(env, napi_get_value_uint32(env, argv[1], &port));
  CHECK(env, napi_get_value_bool(env, argv[2], &reuse));
  CHECK(env, napi_get_value_uint32(env, argv[3], &buffer_bytes));
  CHECK(env, napi_get_value_uint32(env, argv[6], &slot));
  CHECK(env, napi_get_value_uint32(env, argv[7], &batch));
  CHECK(env, napi_get_value_uint32(env, argv[10], &batches_per_event));
  if (port > 65535 || batch < 1 || batch > MAX_BATCH || slot <= HEADROOM || batches_per_event < 1 ||
      batches_per_event > MAX_BATCHES_PER_EVENT) {
    napi_throw_range_error(env, NULL, "udp-batch open: bad port, batch, slot size or batches per event");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sslen;
  int family = parse_ip(addr, &ss, &sslen, (uint16_t)port);
  if (family < 0) {
    napi_throw_type_error(env, NULL, "udp-batch open: not an IP literal");
    return NULL;
  }

  sock *s = calloc(1, sizeof *s);
  if (!s) return throw_errno(env, "udp-batch", ENOMEM);
  s->env = env;
  s->fd = -1;
  s->family = family;
  s->batch = batch;
  s->slot = slot;
  s->batches_per_event = batches_per_event;
  s->in = calloc(batch, sizeof *s->in);
  s->iov = calloc(batch, sizeof *s->iov);
  s->from = calloc(batch, sizeof *s->from);
  s->out = calloc(MAX_BATCH, sizeof *s->out);
  s->oiov = calloc(MAX_BATCH, sizeof *s->oiov);
  s->to = calloc(MAX_BATCH, sizeof *s->to);
  napi_value handle;
  if (napi_create_external(env, s, finalize_sock, NULL, &handle) != napi_ok) {
    finalize_sock(NULL, s, NULL);
    return throw_errno(env, "udp-batch", ENOMEM);
  }
  if (!s->in || !s->iov || !s->from || !s->out || !s->oiov || !s->to) return throw_errno(env, "udp-batch", ENOMEM);

  if (hold_arraybuffer(env, argv[4], &s->slab) != napi_ok || hold_arraybuffer(env, argv[5], &s->rmeta) != napi_ok ||
      hold_arraybuffer(env, argv[8], &s->smeta) != napi_ok) {
    close_sock(env, s);
    napi_throw_type_error(env, NULL, "udp-batch open: slab and metadata must be ArrayBuffers or typed arrays");
    return NULL;
  }
  if (s->slab.len < (size_t)batch * slot || s->rmeta.len < (size_t)batch * META_STRIDE * 4) {
    close_sock(env, s);
    napi_throw_range_error(env, NULL, "udp-batch open: slab or receive metadata too small for the batch");
    return NULL;
  }
  s->smeta_entries = (uint32_t)(s->smeta.len / (META_STRIDE * 4));
  if (s->smeta_entries > MAX_BATCH) s->smeta_entries = MAX_BATCH;
  /* The slab is also send buffer 0 of its own socket. */

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    close_sock(env, s);
    return throw_errno(env, "udp-batch socket", e);
  }
  s->fd = fd;
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    int e = errno;
    close_sock(env, s);
    return throw_errno(env, "udp-batch SO_REUSEPORT", e);
  }
  if (family == AF_INET6) {
    int zero = 0; /* dual stack, like Node's udp6 sockets (unless bound to a specific IPv6 address) */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (buffer_bytes > 0) {
    int b = (int)buffer_bytes;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof b);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof b);
  }
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int e = errno;
    close_sock(env, s);
    return throw_errno(env, "udp-batch bind", e);
  }
  prepare_receive(s);

  CHECK(env, napi_create_reference(env, argv[9], 1, &s->callback));
  napi_value res_name;
  CHECK(env, napi_create_string_utf8(env, "UDPBATCH", NAPI_AUTO_LENGTH, &res_name));
  CHECK(env, napi_async_init(env, NULL, res_name, &s->async));

  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  s->poll = malloc(sizeof *s->poll);
  if (!s->poll || uv_poll_init(loop, s->poll, fd) != 0) {
    free(s->poll);
    s->poll = NULL;
    close_sock(env, s);
    return throw_errno(env, "udp-batch uv_poll_init", EIO);
  }
  s->poll->data = s;
  uv_poll_start(s->poll, UV_READABLE, on_readable);
  return handle;
}

/* setSendBuffers(handle, [buffers...]): what send entries' buffer ids refer to. */
static napi_value js_set_send_buffers(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  uint32_t n;
  CHECK(env, napi_get_array_length(env, argv[1], &n));
  if (n > MAX_SEND_BUFFERS) {
    napi_throw_range_error(env, NULL, "udp-batch: too many send buffers");
    return NULL;
  }
  for (uint32_t i = 0; i < s->nbufs; i++) release_buf(env, &s->bufs[i]);
  s->nbufs = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    CHECK(env, napi_get_element(env, argv[1], i, &v));
    if (hold_arraybuffer(env, v, &s->bufs[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "udp-batch: send buffers must be ArrayBuffers or typed arrays");
      return NULL;
    }
    s->nbufs = i + 1;
  }
  return NULL;
}

/* flush(handle, n) -> sent: sends queued entries 0..n-1 (never blocks; refused datagrams are counted as drops). */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  napi_get_value_external(env, argv[0], &p);
  sock *s = p;
  uint32_t n = 0;
  napi_get_value_uint32(env, argv[1], &n);
  napi_value ret;
  if (!s || s->closed || n == 0) {
    napi_create_uint32(env, 0, &ret);
    return ret;
  }
  if (n > s->smeta_entries) n = s->smeta_entries;
  const int32_t *meta = (const int32_t *)s->smeta.base;
  uint32_t m = 0, bad = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *e = meta + (size_t)i * META_STRIDE;
    uint32_t id = (uint32_t)e[0];
    uint32_t off = (uint32_t)e[1], len = (uint32_t)e[2];
    if (id >= s->nbufs || (size_t)off + len > s->bufs[id].len) {
      bad++;
      continue;
    }
    socklen_t alen = get_address(e + 3, s->family, &s->to[m]);
    if (alen == 0) {
      bad++;
      continue;
    }
    s->oiov[m].iov_base = s->bufs[id].base + off;
    s->oiov[m].iov_len = len;
    struct msghdr *h = &s->out[m].msg_hdr;
    h->msg_name = &s->to[m];
    h->msg_namelen = alen;
    h->msg_iov = &s->oiov[m];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    m++;
  }
  uint32_t sent = 0, i = 0;
  while (i < m) {
    int r = sendmmsg(s->fd, s->out + i, m - i, MSG_DONTWAIT);
    if (r > 0) {
      i += (uint32_t)r;
      sent += (uint32_t)r;
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      s->last_send_errno = errno;
      break; /* the socket buffer is full: drop the rest of the batch */
    } else {
      /* This datagram was refused (EMSGSIZE, ENETUNREACH, EPERM, ECONNREFUSED...): skip it. */
      s->last_send_errno = r < 0 ? errno : EIO;
      s->send_errors_other++;
      i++;
    }
  }
  s->send_drops += (double)(n - sent);
  (void)bad;
  napi_create_uint32(env, sent, &ret);
  return ret;
}

/* sendTo(handle, bytes, address, port) -> bool: one datagram, off the hot path (held datagrams, tests). */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  void *data;
  size_t len;
  bool is_buffer;
  napi_typedarray_type type;
  napi_value ab;
  size_t byte_offset;
  CHECK(env, napi_is_typedarray(env, argv[1], &is_buffer));
  if (!is_buffer) {
    napi_throw_type_error(env, NULL, "udp-batch sendTo: bytes must be a Uint8Array");
    return NULL;
  }
  CHECK(env, napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &byte_offset));
  char addr[64];
  size_t alen;
  CHECK(env, napi_get_value_string_utf8(env, argv[2], addr, sizeof addr, &alen));
  uint32_t port;
  CHECK(env, napi_get_value_uint32(env, argv[3], &port));
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  int fam = parse_ip(addr, &ss, &sslen, (uint16_t)port);
  napi_value ret;
  bool ok = false;
  if (fam == AF_INET && s->family == AF_INET6) { /* to IPv4-mapped */
    struct sockaddr_in a4 = *(struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    memset(a6, 0, sizeof *a6);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = a4.sin_port;
    a6->sin6_addr.s6_addr[10] = 0xff;
    a6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a6->sin6_addr.s6_addr[12], &a4.sin_addr.s_addr, 4);
    sslen = sizeof *a6;
    fam = AF_INET6;
  }
  if (!s->closed && fam == s->family) {
    ssize_t r = sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sslen);
    ok = r == (ssize_t)len;
    if (!ok) {
      s->last_send_errno = errno;
      s->send_drops++;
    }
  } else {
    s->send_drops++;
  }
  napi_get_boolean(env, ok, &ret);
  return ret;
}

/* address(handle) -> [family, address, port] of the bound socket. */
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  if (s->closed) return throw_errno(env, "udp-batch address", EBADF);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) != 0) return throw_errno(env, "udp-batch getsockname", errno);
  char text[INET6_ADDRSTRLEN];
  uint16_t port;
  int fam;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
    fam = 4;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
    fam = 6;
  }
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 3, &out));
  napi_create_uint32(env, (uint32_t)fam, &v);
  napi_set_element(env, out, 0, v);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 1, v);
  napi_create_uint32(env, port, &v);
  napi_set_element(env, out, 2, v);
  return out;
}

/* stats(handle) -> [sendDrops, sendErrors, recvBatches, recvDatagrams, lastSendErrno] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  napi_value out, v;
  CHECK(env, napi_create_array_with_length(env, 5, &out));
  double xs[5] = {s->send_drops, s->send_errors_other, s->recv_batches, s->recv_datagrams, s->last_send_errno};
  for (uint32_t i = 0; i < 5; i++) {
    napi_create_double(env, xs[i], &v);
    napi_set_element(env, out, i, v);
  }
  return out;
}

/* close(handle): stops reading and closes the socket (idempotent). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  close_sock(env, s);
  return NULL;
}

/* ref(handle, bool): whether the socket keeps the event loop alive (default: yes). */
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  bool on;
  CHECK(env, napi_get_value_bool(env, argv[1], &on));
  if (s->poll) {
    if (on) uv_ref((uv_handle_t *)s->poll);
    else uv_unref((uv_handle_t *)s->poll);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"setSendBuffers", NULL, js_set_send_buffers, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"address", NULL, js_address, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value v;
  napi_create_uint32(env, META_STRIDE, &v);
  napi_set_named_property(env, exports, "META_STRIDE", v);
  napi_create_uint32(env, HEADROOM, &v);
  napi_set_named_property(env, exports, "HEADROOM", v);
  napi_create_uint32(env, MAX_BATCH, &v);
  napi_set_named_property(env, exports, "MAX_BATCH", v);
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
