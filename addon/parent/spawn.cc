// Plan validation and the clone itself. Context: the Node process, main thread, which may be
// root or an ordinary user. The child's side of the clone is addon/child/child.c.
// Man pages: clone(2) (clone3, CLONE_PIDFD), socketpair(2), pthread_sigmask(3), setns(2).
#include "parent/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace launch {

const std::vector<OpInfo> &OpTable() {
  static const std::vector<OpInfo> table = {
#define LP_INFO(name, code, sig, doc) {#name, code, sig},
      LP_OPS(LP_INFO)
#undef LP_INFO
  };
  return table;
}

static const char *SignatureOf(uint32_t code) {
  for (const auto &op : OpTable())
    if (op.code == code) return op.sig;
  return nullptr;
}

bool DecodePlan(const uint8_t *data, size_t len, DecodedPlan &out, std::string &err) {
  if (len < sizeof(lp_header)) return err = "plan is shorter than its header", false;
  lp_header h;
  memcpy(&h, data, sizeof h);
  if (h.magic != LP_MAGIC) return err = "plan has a bad magic number", false;
  if (h.version != LP_VERSION) return err = "plan version " + std::to_string(h.version) + " is not supported", false;
  if (h.length != len) return err = "plan length field does not match the buffer", false;
  if (h.nops > LP_MAX_OPS) return err = "plan has too many ops", false;
  size_t ops_end = sizeof(lp_header) + size_t(h.nops) * sizeof(lp_op);
  if (ops_end > len || h.strings_off < ops_end || size_t(h.strings_off) + h.strings_len != len)
    return err = "plan sections are out of bounds", false;
  if (h.strings_len > 0 && data[len - 1] != '\0') return err = "plan string table is not NUL-terminated", false;

  out.buf.assign(data, data + len);
  const uint8_t *base = out.buf.data();
  const char *strings = reinterpret_cast<const char *>(base + h.strings_off);
  const uint32_t slen = h.strings_len;
  out.ops.assign(h.nops, lc_op{});

  for (uint32_t i = 0; i < h.nops; i++) {
    lp_op op;
    memcpy(&op, base + sizeof(lp_header) + size_t(i) * sizeof(lp_op), sizeof op);
    const std::string at = "plan op " + std::to_string(i);
    const char *sig = SignatureOf(op.code);
    if (!sig) return err = at + ": unknown op code " + std::to_string(op.code), false;
    lc_op &d = out.ops[i];
    d.code = op.code;
    d.flags = op.flags;
    for (int a = 0; a < LP_NARGS; a++) {
      const uint64_t v = op.arg[a];
      const std::string slot = at + " arg " + std::to_string(a);
      switch (sig[a]) {
        case 'n':
        case '#':
        case '-':
          d.n[a] = v;
          break;
        case 's':
        case 'o':
          if (v == LP_NONE) {
            if (sig[a] == 's') return err = slot + ": string is required", false;
            break;
          }
          if (v >= slen) return err = slot + ": string offset out of bounds", false;
          d.s[a] = strings + v;  // NUL-terminated: the table's last byte is NUL
          break;
        case 'b': {
          const uint64_t size = op.arg[a + 1];
          // Aligned for the child's struct sock_filter[]: the table starts 8-aligned (header
          // and ops are multiples of 8) in a buffer from operator new.
          if ((h.strings_off + v) % 8 != 0 || v > slen || size > slen - v) return err = slot + ": blob out of bounds or misaligned", false;
          d.s[a] = strings + v;
          break;
        }
        case 'L': {
          const uint64_t count = op.arg[a + 1];
          if (v > slen || count > LP_MAX_LIST) return err = slot + ": list out of bounds", false;
          auto list = std::make_unique<std::vector<char *>>();
          list->reserve(count + 1);
          uint64_t off = v;
          for (uint64_t k = 0; k < count; k++) {
            if (off >= slen) return err = slot + ": list item " + std::to_string(k) + " out of bounds", false;
            list->push_back(const_cast<char *>(strings + off));
            off += strlen(strings + off) + 1;
          }
          list->push_back(nullptr);
          d.list[a] = list->data();
          out.lists.push_back(std::move(list));
          break;
        }
        default:
          return err = at + ": bad signature in the op table", false;
      }
    }
    // USER's group list must be decimal numbers: the child converts without checking.
    if (d.code == LP_USER && d.list[3]) {
      for (char *const *g = d.list[3]; *g; g++) {
        if (!**g || strlen(*g) > 10 || strspn(*g, "0123456789") != strlen(*g) || strtoull(*g, nullptr, 10) > 0xffffffffull)
          return err = at + ": group is not a 32-bit decimal number", false;
      }
    }
    if (d.code == LP_SECCOMP && (d.n[1] == 0 || d.n[1] % 8 != 0 || d.n[1] / 8 > 4096))
      return err = at + ": seccomp program must be 1 to 4096 instructions", false;
    if ((d.code == LP_MOUNT_FS && d.n[5] > LP_MOUNT_SLOTS) || ((d.code == LP_MASK_AT || d.code == LP_READONLY_AT) && (d.n[0] == 0 || d.n[0] > LP_MOUNT_SLOTS)))
      return err = at + ": mount slot out of range", false;
    if (d.code == LP_EXEC && (!d.list[0] || !d.list[0][0] || !d.list[2] || !d.list[2][0]))
      return err = at + ": exec needs a candidate and argv[0]", false;
  }
  return true;
}

SpawnResult Spawn(const DecodedPlan &plan, uint64_t clone_flags, int pidns_fd) {
  SpawnResult res;
  int sv[2];
  // SEQPACKET keeps each lp_msg a message of its own; CLOEXEC makes exec visible as EOF.
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    res.err = errno;
    res.syscall = "socketpair";
    return res;
  }
  lc_plan cplan{static_cast<uint32_t>(plan.ops.size()), plan.ops.data(), sv[1]};

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

  // Block every signal so no handler of Node's runs in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  // CVE-2019-5736: until its execve the child is launch's own binary (Node, or the single
  // executable) inside the container's namespaces. Not dumpable, no process of the container
  // may open its /proc/<pid>/exe, cwd, fd/ or ns/, nor ptrace it (ptrace(2), "Ptrace access
  // mode checking"); the execve makes the container's program dumpable again. Set around the
  // clone, so the child is born so: it may be born into a pid namespace the container shares.
  const int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = clone_flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    // Drop the parent's end, or the child would never see EOF when launch goes away.
    close(sv[0]);
    lc_child_main(&cplan);  // never returns
  }
  int clone_errno = errno;

  if (dumpable == 1) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
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
  res.pid = static_cast<int>(pid);
  res.pidfd = pidfd;
  res.sync_fd = sv[0];
  return res;
}

}  // namespace launch
