/*
 * tandem_icmp: raw ICMP (IPv4) sockets bound to one interface each, for next-hop probes.
 *
 * The native surface is three functions; building and checking packets is done in TypeScript
 * (src/adapters/icmp/packet.ts), and docs/icmp.md explains the design.
 *
 *   open(ifname, identifier, slots, onPackets) -> socket
 *       A raw IPPROTO_ICMP socket, non-blocking, SO_BINDTODEVICE(ifname), with a classic BPF
 *       filter that keeps only echo replies (type 0, code 0) carrying `identifier`, so replies
 *       meant for other processes never wake this one. Readiness comes from libuv (uv_poll) on
 *       the Node.js event loop. On each wakeup, datagrams are read with recvmmsg() straight into
 *       `slots`, a Buffer owned by the caller and cut into SLOT_BYTES-byte slots: bytes 0-1 hold
 *       the datagram's length (big-endian; 0xffff if it did not fit), bytes 2.. the datagram from
 *       its IP header on. Then onPackets(error | null, count, fatal) is called; the slots are
 *       reused by the next call. `fatal` means the socket stopped polling: close and reopen it.
 *   send(socket, destination, packet)
 *       sendto() of one ICMP message (header + payload; the kernel adds the IP header) to the
 *       IPv4 address `destination` (a 32-bit unsigned number). Throws an Error whose `code` is
 *       the errno name (ENETUNREACH, ENODEV, EAGAIN, ...).
 *   close(socket)
 *       Idempotent. Stops polling and closes the descriptor. A socket that is garbage-collected
 *       or whose environment shuts down is closed too.
 *
 * Nothing here blocks, and no error ends the process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

#define SLOT_BYTES 128  /* an echo reply with the largest IP header is 60 + 24 = 84 bytes */
#define MAX_SLOTS 256
#define ROUNDS_PER_WAKEUP 8

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  napi_ref on_packets;
  napi_ref slots_ref;
  unsigned char *slots;
  unsigned slot_count;
  napi_async_context async_context;
  int polling;        /* fd open and uv_poll started */
  int js_alive;       /* references and async context still to be released */
  int hook_added;     /* env cleanup hook registered */
  int handle_inited;  /* uv_poll_init succeeded: the handle must be uv_close()d */
  int handle_closed;  /* uv_close callback ran (or the handle was never initialised) */
  int finalized;      /* the JS external is gone */
} icmp_socket;

/* ---- errors ------------------------------------------------------------------------------ */

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value code_value, message_value, error;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value);
  napi_create_error(env, code_value, message_value, &error);
  return error;
}

/* `uv_code` is a negative libuv error (on Unix, -errno). */
static napi_value uv_error(napi_env env, int uv_code, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, uv_strerror(uv_code));
  return make_error(env, uv_err_name(uv_code), message);
}

static napi_value throw_uv(napi_env env, int uv_code, const char *what) {
  napi_throw(env, uv_error(env, uv_code, what));
  return NULL;
}

static napi_value throw_errno(napi_env env, int sys_errno, const char *what) {
  return throw_uv(env, uv_translate_sys_error(sys_errno), what);
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void maybe_free(icmp_socket *s) {
  if (s->finalized && s->handle_closed) free(s);
}

static void on_handle_closed(uv_handle_t *handle) {
  icmp_socket *s = handle->data;
  s->handle_closed = 1;
  maybe_free(s);
}

static void cleanup_hook(void *arg);

/* Stops polling and closes the descriptor; makes no N-API call. */
static void stop_socket(icmp_socket *s) {
  if (s->handle_inited && !s->handle_closed && !uv_is_closing((uv_handle_t *)&s->poll)) {
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  s->polling = 0;
}

/* Everything close() does: stop the socket and release its JavaScript resources. */
static void release_socket(napi_env env, icmp_socket *s) {
  stop_socket(s);
  if (s->hook_added) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, s);
    s->hook_added = 0;
  }
  if (s->js_alive) {
    s->js_alive = 0;
    s->slots = NULL;
    napi_delete_reference(env, s->on_packets);
    napi_delete_reference(env, s->slots_ref);
    napi_async_destroy(env, s->async_context);
  }
}

/* The environment is going away (process exit, worker end): only the OS resources matter. */
static void cleanup_hook(void *arg) {
  icmp_socket *s = arg;
  s->hook_added = 0;
  s->js_alive = 0; /* the references die with the environment */
  s->slots = NULL;
  stop_socket(s);
}

static void finalize_socket(napi_env env, void *data, void *hint) {
  (void)hint;
  icmp_socket *s = data;
  release_socket(env, s);
  s->finalized = 1;
  maybe_free(s);
}

/* ---- receive ----------------------------------------------------------------------------- */

/* Calls onPackets(error, count, fatal); returns 0 if the socket was closed meanwhile. */
static int deliver(icmp_socket *s, napi_value error, unsigned count, int fatal) {
  napi_env env = s->env;
  napi_value callback, receiver, argv[3], result;
  if (napi_get_reference_value(env, s->on_packets, &callback) != napi_ok || callback == NULL) return 0;
  napi_get_global(env, &receiver); /* MakeCallback needs an object as `this` */
  if (error != NULL) argv[0] = error; else napi_get_null(env, &argv[0]);
  napi_create_uint32(env, count, &argv[1]);
  napi_get_boolean(env, fatal, &argv[2]);
  if (napi_make_callback(env, s->async_context, receiver, callback, 3, argv, &result) == napi_pending_exception) {
    /* The JavaScript side never throws; if it does, it is an uncaught exception like any other. */
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  return s->polling && s->js_alive && s->slots != NULL;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  icmp_socket *s = handle->data;
  if (!s->polling || !s->js_alive || s->slots == NULL) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  if (status < 0) {
    /* The poll itself failed: stop it, tell JavaScript to reopen. */
    uv_poll_stop(&s->poll);
    s->polling = 0;
    deliver(s, uv_error(env, status, "icmp poll"), 0, 1);
  } else {
    struct mmsghdr messages[MAX_SLOTS];
    struct iovec vectors[MAX_SLOTS];
    for (int round = 0; round < ROUNDS_PER_WAKEUP; round++) {
      memset(messages, 0, sizeof messages[0] * s->slot_count);
      for (unsigned i = 0; i < s->slot_count; i++) {
        vectors[i].iov_base = s->slots + i * SLOT_BYTES + 2;
        vectors[i].iov_len = SLOT_BYTES - 2;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
      }
      int n;
      do n = recvmmsg(s->fd, messages, s->slot_count, MSG_DONTWAIT, NULL);
      while (n < 0 && errno == EINTR);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) deliver(s, uv_error(env, uv_translate_sys_error(errno), "icmp recv"), 0, 0);
        break;
      }
      for (int i = 0; i < n; i++) {
        unsigned length = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0xffff : messages[i].msg_len;
        s->slots[i * SLOT_BYTES] = (unsigned char)(length >> 8);
        s->slots[i * SLOT_BYTES + 1] = (unsigned char)(length & 0xff);
      }
      if (n == 0 || !deliver(s, NULL, (unsigned)n, 0) || (unsigned)n < s->slot_count) break;
    }
  }
  napi_close_handle_scope(env, scope);
}

/* ---- exported functions ------------------------------------------------------------------ */

static icmp_socket *unwrap(napi_env env, napi_value value) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* open(ifname: string, identifier: number, slots: Buffer, onPackets: function) -> external */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return throw_type(env, "open(ifname, identifier, slots, onPackets)");

  char ifname[IFNAMSIZ + 1];
  size_t ifname_length = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &ifname_length) != napi_ok)
    return throw_type(env, "ifname must be a string");
  if (ifname_length == 0 || ifname_length >= IFNAMSIZ || strlen(ifname) != ifname_length)
    return throw_uv(env, UV_EINVAL, "icmp: invalid interface name");

  uint32_t identifier;
  if (napi_get_value_uint32(env, argv[1], &identifier) != napi_ok || identifier > 0xffff)
    return throw_type(env, "identifier must be a 16-bit unsigned integer");

  bool is_buffer = false;
  void *slots;
  size_t slots_length;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &slots, &slots_length) != napi_ok || slots_length < SLOT_BYTES)
    return throw_type(env, "slots must be a Buffer of at least one slot");

  napi_valuetype type;
  napi_typeof(env, argv[3], &type);
  if (type != napi_function) return throw_type(env, "onPackets must be a function");

  int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return throw_errno(env, errno, "icmp socket");
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)ifname_length) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "icmp SO_BINDTODEVICE");
  }

  /* Keep echo replies (type 0, code 0) with our identifier; drop everything else in the kernel.
   * A raw IPv4 socket's filter sees the packet from the IP header on. */
  struct sock_filter code[] = {
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                 /* X = IP header length */
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),                  /* A = ICMP type and code */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0000, 0, 3),      /* echo reply, code 0? */
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),                  /* A = identifier */
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),                 /* keep the whole packet */
    BPF_STMT(BPF_RET | BPF_K, 0),                           /* drop */
  };
  struct sock_fprog program = { .len = sizeof code / sizeof code[0], .filter = code };
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "icmp SO_ATTACH_FILTER");
  }
  /* Discard whatever was queued before the device binding and the filter applied. */
  char scratch[SLOT_BYTES];
  while (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) >= 0) {}

  icmp_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "icmp open");
  }
  s->env = env;
  s->fd = fd;
  s->poll.data = s;
  s->handle_closed = 1; /* until uv_poll_init succeeds */

  napi_value external;
  if (napi_create_external(env, s, finalize_socket, NULL, &external) != napi_ok) {
    close(fd);
    free(s);
    return throw_errno(env, ENOMEM, "icmp open");
  }
  /* From here on the finalizer owns `s`: errors only release it. */
  napi_value resource_name;
  napi_create_string_utf8(env, "tandem:icmp", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_reference(env, argv[3], 1, &s->on_packets) != napi_ok) {
    stop_socket(s);
    return throw_errno(env, ENOMEM, "icmp open");
  }
  if (napi_create_reference(env, argv[2], 1, &s->slots_ref) != napi_ok) {
    napi_delete_reference(env, s->on_packets);
    stop_socket(s);
    return throw_errno(env, ENOMEM, "icmp open");
  }
  if (napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok) {
    napi_delete_reference(env, s->on_packets);
    napi_delete_reference(env, s->slots_ref);
    stop_socket(s);
    return throw_errno(env, ENOMEM, "icmp open");
  }
  s->js_alive = 1;
  s->slots = slots;
  s->slot_count = slots_length / SLOT_BYTES > MAX_SLOTS ? MAX_SLOTS : (unsigned)(slots_length / SLOT_BYTES);
  if (napi_add_env_cleanup_hook(env, cleanup_hook, s) == napi_ok) s->hook_added = 1;

  struct uv_loop_s *loop;
  int rc;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    release_socket(env, s);
    return throw_uv(env, UV_EINVAL, "icmp: no event loop");
  }
  if ((rc = uv_poll_init(loop, &s->poll, fd)) < 0) {
    release_socket(env, s);
    return throw_uv(env, rc, "icmp uv_poll_init");
  }
  s->handle_inited = 1;
  s->handle_closed = 0;
  if ((rc = uv_poll_start(&s->poll, UV_READABLE, on_readable)) < 0) {
    release_socket(env, s);
    return throw_uv(env, rc, "icmp uv_poll_start");
  }
  s->polling = 1;
  return external;
}

/* send(socket, destination: number, packet: Buffer) -> undefined; throws on failure */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_type(env, "send(socket, destination, packet)");
  icmp_socket *s = unwrap(env, argv[0]);
  if (s == NULL) return throw_type(env, "not an icmp socket");
  if (s->fd < 0) return throw_uv(env, UV_EBADF, "icmp send: socket closed");

  uint32_t destination;
  if (napi_get_value_uint32(env, argv[1], &destination) != napi_ok)
    return throw_type(env, "destination must be an IPv4 address as a 32-bit number");
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(destination);

  bool is_buffer = false;
  void *data;
  size_t length;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok)
    return throw_type(env, "packet must be a Buffer");

  ssize_t sent;
  do sent = sendto(s->fd, data, length, 0, (struct sockaddr *)&to, sizeof to);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return throw_errno(env, errno, "icmp send");
  return NULL;
}

/* close(socket) -> undefined; idempotent */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return throw_type(env, "close(socket)");
  icmp_socket *s = unwrap(env, argv[0]);
  if (s == NULL) return throw_type(env, "not an icmp socket");
  release_socket(env, s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value slot_bytes;
  napi_create_uint32(env, SLOT_BYTES, &slot_bytes);
  napi_property_descriptor properties[] = {
    { "open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL },
    { "send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL },
    { "close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "SLOT_BYTES", NULL, NULL, NULL, NULL, slot_bytes, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
