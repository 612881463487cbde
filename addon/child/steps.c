/* RUN_HOOK, SESSION_KEYRING and LOOPBACK: two steps of the child's op loop (child.c), kept apart from
 * it; the same rules: raw syscalls, nothing that locks or allocates. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child/steps.h"

/* RUN_HOOK (createContainer, startContainer): a hook in the container's namespaces, as runc
 * runs them from its init. Forked with a pidfd, so the timeout is a ppoll on it; the hook's
 * execve errno comes back on a close-on-exec pipe (EOF: it runs). Its stdin is the state file
 * the parent wrote (fd arg5 & 0xffffffff; each hook reads it from the start), its stdout and
 * stderr are our stderr: the container's stdout is the container's own.
 * Returns 0, -errno, or (as *aux) an LP_HOOK_* failure. Man pages: clone(2), pidfd_open(2). */
int lc_run_hook(const struct lc_op *op, uint32_t *aux) {
  int state_fd = (int)(op->n[5] & 0xffffffffu);
  uint64_t timeout = op->n[5] >> 32;
  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) return -errno;
  int pidfd = -1;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&pidfd;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  /* A startContainer hook runs under the container's seccomp filter, and Docker's profile
   * answers clone3 with ENOSYS (so that libc falls back): fall back the same way. The old
   * clone returns the pidfd through its parent_tid argument, third on x86_64 and arm64. */
  if (pid < 0 && errno == ENOSYS) pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
  if (pid < 0) {
    int e = errno;
    close(errp[0]);
    close(errp[1]);
    return -e;
  }
  if (pid == 0) {
    /* The hook: every signal is at its default already (reset_signals). */
    close(errp[0]);
    if (lseek(state_fd, 0, SEEK_SET) < 0 || dup2(state_fd, 0) < 0 || dup2(2, 1) < 0 || fcntl(2, F_SETFD, 0) < 0) goto failed;
    /* Nothing of ours reaches the hook: the sync socket, the exec FIFO, Node's fds. The first
     * two by name: they are not close-on-exec once handed to the trampoline (execimage.c), and
     * a seccomp filter may refuse close_range; everything else is marked already (child.c). */
    close(lc_sync_fd);
    if (lc_start_fd >= 0) close(lc_start_fd);
    syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
    execve(op->s[0], op->list[1], op->list[3]);
  failed: {
      int e = errno;
      ssize_t w = write(errp[1], &e, sizeof e);
      (void)w;
      _exit(127);
    }
  }
  close(errp[1]);
  int exec_err = 0;
  ssize_t n;
  do n = read(errp[0], &exec_err, sizeof exec_err); while (n < 0 && errno == EINTR);
  close(errp[0]);
  int r = 0;
  if (n == (ssize_t)sizeof exec_err) {
    r = -exec_err;
  } else if (timeout) {
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)timeout;
    for (;;) {
      struct pollfd p = {pidfd, POLLIN, 0};
      clock_gettime(CLOCK_MONOTONIC, &now);
      struct timespec left = {end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec};
      if (left.tv_nsec < 0) { left.tv_sec--; left.tv_nsec += 1000000000L; }
      if (left.tv_sec < 0) left.tv_sec = left.tv_nsec = 0;
      int k = ppoll(&p, 1, &left, NULL);
      if (k > 0) break;
      if (k == 0) {
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
        *aux = LP_HOOK_TIMEDOUT;
        break;
      }
      if (errno != EINTR) { r = -errno; break; }
    }
  }
  int status = 0;
  pid_t w;
  do w = waitpid((pid_t)pid, &status, 0); while (w < 0 && errno == EINTR);
  close(pidfd);
  if (r || *aux) return r;
  if (w < 0) return -errno;
  if (WIFSIGNALED(status)) *aux = LP_HOOK_SIGNALED | (uint32_t)WTERMSIG(status);
  else if (WEXITSTATUS(status)) *aux = LP_HOOK_EXITED | (uint32_t)WEXITSTATUS(status);
  return 0;
}

/* A session keyring of the container's own, as runc gives it unless --no-new-keyring: the
 * caller's session keyring (its kernel keys) is not inherited. Made searchable by its user
 * (KEY_USR_SEARCH), as runc does, so the container's processes can use keys they add. A
 * kernel without keyrings (ENOSYS) is no error, as in runc. */
int lc_session_keyring(const char *name) {
  long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
  if (id < 0) return errno == ENOSYS ? 0 : -errno;
  /* KEYCTL_DESCRIBE: "type;uid;gid;perm;description", perm in hex. */
  char desc[256];
  long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0);
  if (n < 0) return -errno;
  desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = '\0';
  const char *p = desc;
  for (int field = 0; field < 3 && *p; p++)
    if (*p == ';') field++;
  unsigned long perm = 0;
  for (; *p && *p != ';'; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
    if (d < 0) return -EINVAL;
    perm = perm * 16 + (unsigned long)d;
  }
  if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm | 0x00080000ul /* KEY_USR_SEARCH */, 0, 0) < 0) return -errno;
  return 0;
}

/* LOOPBACK: a new network namespace has only `lo`, and it is down: nothing, not even
 * 127.0.0.1, answers until it is up. runc and crun bring it up; so do we, with the ioctl the
 * kernel has always had rather than a netlink exchange (one socket, two calls). Needs
 * CAP_NET_ADMIN in the namespace's owning user namespace: after the id maps (USERMAP).
 * Man pages: netdevice(7). */
int lc_loopback(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, "lo", 3);
  int r = 0;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
    r = -errno;
  } else if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) r = -errno;
  }
  close(fd);
  return r;
}
