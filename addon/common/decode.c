/* See decode.h. Context: the parent, before any clone: the Node process (the addon) or the
 * native runner. Man pages: clone(2) (clone3, CLONE_PIDFD), socketpair(2), setns(2),
 * sigprocmask(2), prctl(2) (PR_SET_DUMPABLE). */
#include "common/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

const struct lp_opinfo lp_optable[] = {
#define LP_INFO(name, code, sig, doc) {#name, code, sig},
    LP_OPS(LP_INFO)
#undef LP_INFO
};
const size_t lp_noptable = sizeof lp_optable / sizeof lp_optable[0];

static const char *signature_of(uint32_t code) {
  for (size_t i = 0; i < lp_noptable; i++)
    if (lp_optable[i].code == code) return lp_optable[i].sig;
  return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static void *own(struct lp_decoded *d, void *p) {
  if (!p) return NULL;
  if (d->nowned == d->capowned) {
    size_t cap = d->capowned ? 2 * d->capowned : 64;
    void **n = realloc(d->owned, cap * sizeof *n);
    if (!n) {
      free(p);
      return NULL;
    }
    d->owned = n;
    d->capowned = cap;
  }
  return d->owned[d->nowned++] = p;
}

static const char *rewritten(struct lp_decoded *d, const char *s, lp_rewrite rw, void *ctx) {
  if (!rw) return s;
  const char *r = rw(s, ctx);
  return r == s || !r ? r : own(d, (void *)r);
}

void lp_free(struct lp_decoded *d) {
  for (size_t i = 0; i < d->nowned; i++) free(d->owned[i]);
  free(d->owned);
  free(d->ops);
  free(d->buf);
  memset(d, 0, sizeof *d);
}

int lp_decode(const uint8_t *data, size_t len, struct lp_decoded *out, char *err, size_t errlen, lp_rewrite rw, void *ctx) {
  memset(out, 0, sizeof *out);
  struct lp_header h;
  if (len < sizeof h) return fail(err, errlen, "plan is shorter than its header");
  memcpy(&h, data, sizeof h);
  if (h.magic != LP_MAGIC) return fail(err, errlen, "plan has a bad magic number");
  if (h.version != LP_VERSION) return fail(err, errlen, "plan version %u is not supported", h.version);
  if (h.length != len) return fail(err, errlen, "plan length field does not match the buffer");
  if (h.nops > LP_MAX_OPS) return fail(err, errlen, "plan has too many ops");
  size_t ops_end = sizeof h + (size_t)h.nops * sizeof(struct lp_op);
  if (ops_end > len || h.strings_off < ops_end || (size_t)h.strings_off + h.strings_len != len)
    return fail(err, errlen, "plan sections are out of bounds");
  if (h.strings_len > 0 && data[len - 1] != '\0') return fail(err, errlen, "plan string table is not NUL-terminated");

  out->buf = malloc(len ? len : 1);
  out->ops = calloc(h.nops ? h.nops : 1, sizeof *out->ops);
  if (!out->buf || !out->ops) return fail(err, errlen, "out of memory");
  memcpy(out->buf, data, len);
  out->nops = h.nops;
  const char *strings = (const char *)out->buf + h.strings_off;
  const uint32_t slen = h.strings_len;

  for (uint32_t i = 0; i < h.nops; i++) {
    struct lp_op op;
    memcpy(&op, out->buf + sizeof h + (size_t)i * sizeof op, sizeof op);
    const char *sig = signature_of(op.code);
    if (!sig) return fail(err, errlen, "plan op %u: unknown op code %u", i, op.code);
    struct lc_op *d = &out->ops[i];
    d->code = op.code;
    d->flags = op.flags;
    for (int a = 0; a < LP_NARGS; a++) {
      const uint64_t v = op.arg[a];
      switch (sig[a]) {
        case 'n':
        case '#':
        case '-':
          d->n[a] = v;
          break;
        case 's':
        case 'o':
          if (v == LP_NONE) {
            if (sig[a] == 's') return fail(err, errlen, "plan op %u arg %d: string is required", i, a);
            break;
          }
          if (v >= slen) return fail(err, errlen, "plan op %u arg %d: string offset out of bounds", i, a);
          /* NUL-terminated: the table's last byte is NUL */
          if (!(d->s[a] = rewritten(out, strings + v, rw, ctx))) return fail(err, errlen, "out of memory");
          break;
        case 'b': {
          const uint64_t size = op.arg[a + 1];
          /* Aligned for the child's struct sock_filter[]: the table starts 8-aligned (header
           * and ops are multiples of 8) in a buffer from malloc. */
          if ((h.strings_off + v) % 8 != 0 || v > slen || size > slen - v)
            return fail(err, errlen, "plan op %u arg %d: blob out of bounds or misaligned", i, a);
          d->s[a] = strings + v;
          break;
        }
        case 'L': {
          const uint64_t count = op.arg[a + 1];
          if (v > slen || count > LP_MAX_LIST) return fail(err, errlen, "plan op %u arg %d: list out of bounds", i, a);
          char **list = own(out, calloc(count + 1, sizeof *list));
          if (!list) return fail(err, errlen, "out of memory");
          uint64_t off = v;
          for (uint64_t k = 0; k < count; k++) {
            if (off >= slen) return fail(err, errlen, "plan op %u arg %d: list item %llu out of bounds", i, a, (unsigned long long)k);
            const char *item = strings + off;
            off += strlen(item) + 1;
            if (!(list[k] = (char *)rewritten(out, item, rw, ctx))) return fail(err, errlen, "out of memory");
          }
          d->list[a] = list;
          break;
        }
        default:
          return fail(err, errlen, "plan op %u: bad signature in the op table", i);
      }
    }
    /* USER's group list must be decimal numbers: the child converts without checking. */
    if (d->code == LP_USER && d->list[3]) {
      for (char *const *g = d->list[3]; *g; g++) {
        size_t n = strlen(*g);
        if (!n || n > 10 || strspn(*g, "0123456789") != n || strtoull(*g, NULL, 10) > 0xffffffffull)
          return fail(err, errlen, "plan op %u: group is not a 32-bit decimal number", i);
      }
    }
    if (d->code == LP_SECCOMP && (d->n[1] == 0 || d->n[1] % 8 != 0 || d->n[1] / 8 > 4096))
      return fail(err, errlen, "plan op %u: seccomp program must be 1 to 4096 instructions", i);
    if ((d->code == LP_MOUNT_FS && d->n[5] > LP_MOUNT_SLOTS) || ((d->code == LP_MASK_AT || d->code == LP_READONLY_AT) && (d->n[0] == 0 || d->n[0] > LP_MOUNT_SLOTS)))
      return fail(err, errlen, "plan op %u: mount slot out of range", i);
    if (d->code == LP_EXEC && (!d->list[0] || !d->list[0][0] || !d->list[2] || !d->list[2][0]))
      return fail(err, errlen, "plan op %u: exec needs a candidate and argv[0]", i);
  }
  return 0;
}

struct lp_spawned lp_spawn(const struct lp_decoded *plan, uint64_t clone_flags, int pidns_fd) {
  struct lp_spawned res = {.pid = -1, .pidfd = -1, .sync_fd = -1};
  int sv[2];
  /* SEQPACKET keeps each lp_msg a message of its own; CLOEXEC makes exec visible as EOF. */
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    res.err = errno;
    res.syscall = "socketpair";
    return res;
  }
  struct lc_plan cplan = {plan->nops, plan->ops, sv[1]};

  int saved_pidns = -1;
  if (pidns_fd >= 0) {
    saved_pidns = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
    if (saved_pidns < 0 || setns(pidns_fd, CLONE_NEWPID) < 0) {
      res.err = errno;
      res.syscall = "setns";
      if (saved_pidns >= 0) close(saved_pidns);
      close(sv[0]);
      close(sv[1]);
      return res;
    }
  }

  /* Block every signal so no handler of the caller's runs in the child before it resets them. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  /* CVE-2019-5736: until its execve the child is launch's own binary inside the container's
   * namespaces. Not dumpable, no process of the container may open its /proc/<pid>/exe, cwd,
   * fd/ or ns/, nor ptrace it (ptrace(2), "Ptrace access mode checking"); the execve makes the
   * container's program dumpable again. Set around the clone, so the child is born so: it may
   * be born into a pid namespace the container shares. */
  const int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = clone_flags | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    /* Drop the parent's end, or the child would never see EOF when the parent goes away. */
    close(sv[0]);
    lc_child_main(&cplan); /* never returns */
  }
  int clone_errno = errno;

  if (dumpable == 1) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (saved_pidns >= 0) {
    setns(saved_pidns, CLONE_NEWPID);
    close(saved_pidns);
  }
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    res.err = clone_errno;
    res.syscall = "clone3";
    return res;
  }
  res.pid = (int)pid;
  res.pidfd = pidfd;
  res.sync_fd = sv[0];
  return res;
}
