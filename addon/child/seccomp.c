/* SECCOMP: load the BPF program the parent compiled from linux.seccomp (parent/seccomp.cc).
 * Same rules as child.c: raw syscalls only. One seccomp(2) call; with NEW_LISTENER (an
 * SCMP_ACT_NOTIFY rule) the listener fd goes to the parent, which hands it to
 * linux.seccomp.listenerPath, and the child waits for its ack before going on.
 * The plan puts this op as late as the filter allows (lib/plan/seccomp.ts): after
 * no_new_privs, just before the exec (or the exec FIFO); without no_new_privs, before the
 * capabilities are dropped, since loading a filter then needs CAP_SYS_ADMIN.
 * Man pages: seccomp(2), seccomp_unotify(2). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child/steps.h"
#include "common/sendfd.h"

int lc_seccomp(const struct lc_op *op) {
  struct sock_fprog prog;
  prog.len = (unsigned short)(op->n[1] / sizeof(struct sock_filter));
  prog.filter = (struct sock_filter *)(void *)op->s[0];
  unsigned long flags = (unsigned long)op->n[2];
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
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
