/* SECCOMP: load the BPF program the parent compiled from linux.seccomp (parent/seccomp.cc).
 * Same rules as child.c: raw syscalls only. One seccomp(2) call; with NEW_LISTENER (an
 * SCMP_ACT_NOTIFY rule) the listener fd goes to the parent, which hands it to
 * linux.seccomp.listenerPath, and the child waits for its ack before going on.
 * The plan puts this op after every step of launch's own (lib/plan/build.ts): a profile may
 * refuse any syscall the program does not need, so nothing launch does may come after it but
 * the startContainer hooks and the exec. Without no_new_privs, loading a filter needs
 * CAP_SYS_ADMIN in the effective set, which the change to a non-root uid (USER) cleared: the
 * plan leaves it permitted, and it is raised here for the load. It stays until the exec, which
 * computes the program's sets without the old permitted and effective ones.
 * Man pages: seccomp(2), seccomp_unotify(2), capabilities(7). */
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child/steps.h"
#include "common/sendfd.h"

/* CAP_SYS_ADMIN into the effective set, if it is permitted. */
static int raise_admin(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) < 0) return -errno;
  int word = CAP_SYS_ADMIN / 32;
  uint32_t bit = 1u << (CAP_SYS_ADMIN % 32);
  if (!(data[word].permitted & bit)) return -EACCES;
  data[word].effective |= bit;
  return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int lc_seccomp(const struct lc_op *op) {
  struct sock_fprog prog;
  prog.len = (unsigned short)(op->n[1] / sizeof(struct sock_filter));
  prog.filter = (struct sock_filter *)(void *)op->s[0];
  unsigned long flags = (unsigned long)op->n[2];
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  /* EACCES: neither no_new_privs nor an effective CAP_SYS_ADMIN. */
  if (r < 0 && errno == EACCES) {
    int e = raise_admin();
    if (e < 0) return e == -EACCES ? e : -EACCES;
    r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  }
  if (r < 0) return -errno;
  if (!(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) return 0;
  int fd = (int)r;
  struct lp_msg m = {LP_MSG_SECCOMP, 0, 0, 0};
  int e = lc_send_fd(lc_sync_fd, &m, sizeof m, fd);
  close(fd); /* the parent has its own copy now; the container must not keep one */
  if (e < 0) return e;
  lc_recv_ack();
  return 0;
}
