/* The container's first process: walks the decoded plan, then execs the container's program.
 *
 * Context: the child of a fork-like clone3(2) of the multi-threaded Node process, already in
 * the namespaces the clone flags created, with every signal blocked. Only async-signal-safe
 * libc calls and raw syscalls from here to execve(2): another thread of the parent may have
 * held the malloc lock at the moment of the clone. Nothing is parsed here: the parent decoded
 * and validated the plan before cloning.
 *
 * On failure the child sends one lp_msg (op index, errno) on the sync socket and _exits; a
 * successful execve closes that close-on-exec socket, so the parent reads EOF.
 * Man pages: clone(2), setns(2), capabilities(7), prctl(2), user_namespaces(7), execve(2), pts(4).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <unistd.h>

#include "child/fsops.h"
#include "common/plan.h"
#include "child/steps.h"

int lc_sync_fd = -1; /* shared with console.c (steps.h) */

static void send_msg(uint32_t type, uint32_t op, int err, uint32_t aux) {
  struct lp_msg m = {type, op, err, aux};
  ssize_t r;
  do r = send(lc_sync_fd, &m, sizeof m, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
}

/* `create`: the exec FIFO stays open for writing from WAIT_START to the exec (close-on-exec),
 * as runc's: `launch start` reads to end-of-file, so it returns once the program runs, and a
 * failure in between (a startContainer hook, the exec) reaches it as one lp_msg whose op is
 * counted from the WAIT_START op. The parent of `create` has gone by then. */
int lc_start_fd = -1;
static uint32_t start_op = 0;

static void __attribute__((noreturn)) fail(uint32_t op, int err, uint32_t aux) {
  send_msg(LP_MSG_ERROR, op, err, aux);
  if (lc_start_fd >= 0) {
    struct lp_msg m = {LP_MSG_ERROR, op - start_op, err, aux};
    ssize_t r;
    do r = write(lc_start_fd, &m, sizeof m); while (r < 0 && errno == EINTR);
  }
  _exit(125);
}

/* The parent's LP_MSG_ACK to a record just sent; no answer means it went away. */
void lc_recv_ack(void) {
  struct lp_msg m;
  ssize_t r;
  do r = recv(lc_sync_fd, &m, sizeof m, 0); while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof m) _exit(125); /* the parent went away: nobody to report to */
  if (m.type != LP_MSG_ACK) _exit(125);
}

static int wait_ack(uint32_t stage) {
  send_msg(LP_MSG_SYNC, 0, 0, stage);
  lc_recv_ack();
  return 0;
}

static void reset_signals(void) {
  /* Node ignores SIGPIPE and installs handlers; ignored dispositions survive execve, so a
   * container would inherit them. Restore every default, then unblock. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, NULL); /* glibc's internal RT signals answer EINVAL: harmless */
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static int sys_capset(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)eff;
  data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)perm;
  data[1].permitted = (uint32_t)(perm >> 32);
  data[0].inheritable = (uint32_t)inh;
  data[1].inheritable = (uint32_t)(inh >> 32);
  return (int)syscall(SYS_capset, &hdr, data);
}

static int do_caps(const struct lc_op *op) {
  if (sys_capset(op->n[0], op->n[1], op->n[2]) < 0) return -errno;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  for (int cap = 0; cap < 64; cap++) {
    if (!(op->n[3] & (1ull << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return -errno;
  }
  return 0;
}

static int do_user(const struct lc_op *op) {
  /* Keep the permitted set across the uid change; CAPS sets the final sets right after. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return -errno;
  if (op->n[2]) {
    gid_t groups[256];
    size_t n = op->n[4];
    if (n > 256) return -E2BIG;
    for (size_t i = 0; i < n; i++) {
      /* Decimal strings, checked by the parent. */
      unsigned long v = 0;
      for (const char *p = op->list[3][i]; *p; p++) v = v * 10 + (unsigned long)(*p - '0');
      groups[i] = (gid_t)v;
    }
    /* A user namespace with setgroups "deny" (joined by path, made by an unprivileged
     * user) refuses even an empty list; with nothing to set, that is not an error. */
    if (syscall(SYS_setgroups, n, groups) < 0 && !(errno == EPERM && n == 0)) return -errno;
  }
  /* Raw syscalls, not the libc wrappers: those broadcast the change to every thread libc
   * knows of (__nptl_setxid), and the clone copied Node's thread list without the threads; a
   * thread that was being created or was exiting at the clone leaves that wait hanging. */
  if (syscall(SYS_setresgid, (gid_t)op->n[1], (gid_t)op->n[1], (gid_t)op->n[1]) < 0) return -errno;
  if (syscall(SYS_setresuid, (uid_t)op->n[0], (uid_t)op->n[0], (uid_t)op->n[0]) < 0) return -errno;
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return -errno;
  return 0;
}

/* BECOME_ROOT: after clone(CLONE_NEWUSER) the child keeps the parent's ids, which for root
 * with a subordinate mapping (0 -> 100000) are not mapped in the new namespace: files it
 * makes on a filesystem of that namespace (the /dev tmpfs) fail with EOVERFLOW. Become the
 * namespace's root, as runc's nsexec does; the capabilities stay (full in the namespace). */
static int do_become_root(void) {
  if (syscall(SYS_setresgid, 0, 0, 0) < 0) return -errno;
  if (syscall(SYS_setresuid, 0, 0, 0) < 0) return -errno;
  return 0;
}

static int do_capbset(const struct lc_op *op) {
  for (unsigned cap = 0; cap <= op->n[1] && cap < 64; cap++) {
    if (op->n[0] & (1ull << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

/* FORK_INIT: a pid namespace made by unshare(2) (or joined by setns(2)) holds only the
 * children made afterwards, so the container's init must be forked (needed when a user
 * namespace is joined by path, and by `exec`). It is forked with CLONE_PARENT: the init is a
 * child of launch itself, as runc's nsexec makes it, so that launch waits on it directly and,
 * once launch exits (run -d, create, exec -d), whoever reaps launch's orphans (conmon,
 * containerd's shim: subreapers) reaps the init and reads its exit status. Its maker has
 * nothing left to do once the init's pid is reported, and exits. */
static int do_fork_init(int pdeathsig) {
  /* The init must not speak on the sync socket before our PID record is there: the parent
   * would act on its first SYNC (cgroup, pid file) with our pid. It waits for the end of this
   * pipe, which we close once the record is sent. */
  int gate[2];
  if (pipe2(gate, O_CLOEXEC) < 0) return -errno;
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_PARENT; /* exit_signal comes from ours (SIGCHLD), as the kernel requires */
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old);
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) {
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(gate[0]);
    close(gate[1]);
    return -e;
  }
  if (pid == 0) {
    close(gate[1]);
    char c;
    while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
    close(gate[0]);
    /* Our parent is launch now: tie us to it as the maker was (a foreground run). */
    if (pdeathsig && prctl(PR_SET_PDEATHSIG, (unsigned long)pdeathsig, 0, 0, 0) < 0) return -errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0; /* the container's init: go on with the plan */
  }
  send_msg(LP_MSG_PID, 0, 0, (uint32_t)pid);
  close(gate[0]);
  close(gate[1]);
  _exit(0);
}

/* `create`: the container waits, set up, until `launch start` opens the exec FIFO for
 * reading: the blocking open is the wait (as runc's exec.fifo). The FIFO is reached through a
 * directory fd opened by the parent before the clone (close-on-exec), since the state
 * directory is outside the container's root by now. */
static int do_wait_start(uint32_t index, int dirfd, const char *name) {
  int fd;
  do fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC); while (fd < 0 && errno == EINTR);
  int err = fd < 0 ? errno : 0;
  close(dirfd);
  if (fd < 0) return -err;
  if (write(fd, "0", 1) != 1) {
    err = errno;
    close(fd);
    return -err;
  }
  /* `start` may be gone when a failure is written: die of the error, not of SIGPIPE. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  lc_start_fd = fd;
  start_op = index;
  return 0;
}

/* PRESERVE_FDS (exec --preserve-fds N): fds 3..3+N-1, which launch's caller opened for the
 * program, stay open across the exec. */
static unsigned keep_fds = 0;

/* Done before SECCOMP too, so that a profile that denies fcntl or close_range cannot make
 * launch's fds reach the container; again at EXEC for the fds opened in between (none of
 * launch's own: the filter loads after every step but the startContainer hooks). */
static void mark_fds_for_exec(void) {
  /* Node opens 0-2 close-on-exec: the container must keep them. Everything else of ours
   * (and of Node's) must not reach the container (CVE-2024-21626): close-on-exec all of it. */
  for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, 0);
  /* Except the two handed to the trampoline before the filter (execimage.c): marking them
   * again here would take fcntl, after the filter, to undo. */
  unsigned lo = 3;
  int skip[2] = {lc_sync_fd < lc_start_fd ? lc_sync_fd : lc_start_fd, lc_sync_fd < lc_start_fd ? lc_start_fd : lc_sync_fd};
  for (int k = 0; k < 2 && lc_exec_handed_over; k++) {
    if (skip[k] < (int)lo) continue;
    if ((unsigned)skip[k] > lo) syscall(SYS_close_range, lo, (unsigned)skip[k] - 1, CLOSE_RANGE_CLOEXEC);
    lo = (unsigned)skip[k] + 1;
  }
  syscall(SYS_close_range, lo, ~0u, CLOSE_RANGE_CLOEXEC);
  /* Never the sync socket or the exec FIFO, even when N reaches them: their closing at exec is
   * how the parent (and `launch start`) learn that the exec succeeded. A fd number that is not open answers EBADF: harmless. */
  for (unsigned fd = 3; fd < 3 + keep_fds; fd++)
    if ((int)fd != lc_sync_fd && (int)fd != lc_start_fd && (int)fd != lc_exec_image_fd) fcntl((int)fd, F_SETFD, 0);
}

static void __attribute__((noreturn)) do_exec(uint32_t index, const struct lc_op *op) {
  mark_fds_for_exec();
  /* Through the sealed trampoline: launch's binary must not be what /proc/self/exe names when
   * the container's program starts (CVE-2019-5736). */
  if (lc_exec_image_fd >= 0) fail(index, -lc_exec_via_image(op->list[0], op->list[2], op->list[4], index, lc_start_fd, start_op), 0);
  char *const *cand = op->list[0];
  int err = ENOENT;
  uint32_t failed = 0;
  for (uint32_t i = 0; cand[i]; i++) {
    execve(cand[i], op->list[2], op->list[4]);
    /* As execvp(3): keep searching past a missing file, remember a permission problem. */
    if (errno == ENOENT || errno == ENOTDIR || errno == ESTALE || errno == ENODEV || errno == ETIMEDOUT) continue;
    err = errno;
    failed = i;
    if (errno != EACCES) break;
  }
  fail(index, err, failed);
}

void lc_child_main(const struct lc_plan *plan) {
  lc_sync_fd = plan->sync_fd;
  prctl(PR_SET_NAME, (unsigned long)"launch:[1:init]", 0, 0, 0);
  /* No fd of the runtime may reach the container; the sync socket is close-on-exec already. */
  syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
  reset_signals();
  fs_use_host_root(); /* until a ROOTFS op names the container's root */
  for (uint32_t i = 0; i < plan->nops; i++) {
    const struct lc_op *op = &plan->ops[i];
    int r = 0;
    switch (op->code) {
    case LP_SYNC:
      /* Not dumpable (spawn.cc, CVE-2019-5736), our /proc files are root's: an unprivileged
       * parent that writes our id maps (itself or through newuidmap) or oom_score_adj at this
       * stage needs us dumpable meanwhile (LPF_DUMPABLE). */
      if (op->flags & LPF_DUMPABLE) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
      wait_ack((uint32_t)op->n[0]);
      if (op->flags & LPF_DUMPABLE) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      break;
    case LP_SETNS: {
      int fd = open(op->s[0], O_RDONLY | O_CLOEXEC);
      if (fd < 0) { r = -errno; break; }
      if (setns(fd, (int)op->n[1]) < 0) r = -errno;
      close(fd);
      /* The root fd opened at start is the old mount namespace's /: paths resolved "in the
       * root" from now on (CHDIR of exec) must resolve in the joined namespace's. */
      if (r == 0 && op->n[1] == CLONE_NEWNS) {
        fs_close_root();
        fs_use_host_root();
      }
      break;
    }
    case LP_UNSHARE: if (unshare((int)op->n[0]) < 0) r = -errno; break;
    case LP_MOUNT_ROOT_PROPAGATION:
      /* Before the root is bound: the host's tree as this namespace sees it (rslave). After
       * pivot_root: the container's / (linux.rootfsPropagation; MS_REC only for r* values). */
      if (mount(NULL, "/", NULL, (unsigned long)op->n[0], NULL) < 0) r = -errno;
      break;
    case LP_ROOTFS: r = fs_rootfs(op->s[0]); break;
    case LP_MOUNT:
      r = fs_mount(op->s[0], op->s[1], op->s[2], (unsigned long)op->n[3], op->s[4], (unsigned long)op->n[5], op->flags);
      break;
    case LP_MKDIRS: {
      int fd = fs_mkdirs_in_root(op->s[0], (int)op->n[1], 0);
      if (fd < 0) r = fd; else close(fd);
      break;
    }
    case LP_MKNOD: r = fs_mknod(op->s[0], (unsigned)op->n[1], (unsigned long)op->n[2]); break;
    case LP_SYMLINK: r = fs_symlink(op->s[0], op->s[1]); break;
    case LP_MOUNT_FS:
      r = fs_mount_fs(op->s[0], op->s[1], (unsigned long)op->n[3], op->s[2], (unsigned long)op->n[4], (unsigned)op->n[5], op->flags);
      break;
    case LP_MASK_AT: r = fs_mask_at((unsigned)op->n[0], op->s[1]); break;
    case LP_READONLY_AT: r = fs_readonly_at((unsigned)op->n[0], op->s[1]); break;
    case LP_MASK: r = fs_mask(op->s[0]); break;
    case LP_READONLY: r = fs_readonly(op->s[0]); break;
    case LP_PIVOT: r = fs_pivot((int)op->n[0]); break;
    case LP_CHROOT: r = fs_chroot(op->s[0]); break;
    case LP_REMOUNT_ROOT_RO: r = fs_remount_root_ro(); break;
    case LP_SETHOSTNAME: if (sethostname(op->s[0], strlen(op->s[0])) < 0) r = -errno; break;
    case LP_SETDOMAINNAME: if (setdomainname(op->s[0], strlen(op->s[0])) < 0) r = -errno; break;
    case LP_WRITE_FILE:
      /* LPF_DUMPABLE: a file of our own /proc, root's while we are not dumpable (exec's
       * oom_score_adj, rootless). Only before any namespace of the container is joined: no
       * process of it can see us yet. */
      if (op->flags & LPF_DUMPABLE) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
      r = fs_write_file(op->s[0], op->s[1]);
      if (op->flags & LPF_DUMPABLE) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
      break;
    case LP_RLIMIT: {
      struct rlimit rl = {(rlim_t)op->n[1], (rlim_t)op->n[2]};
      if (setrlimit((int)op->n[0], &rl) < 0) r = -errno;
      break;
    }
    case LP_CAPBSET: r = do_capbset(op); break;
    case LP_USER: r = do_user(op); break;
    case LP_CAPS: r = do_caps(op); break;
    case LP_UMASK: umask((mode_t)op->n[0]); break;
    case LP_CHDIR: r = fs_chdir(op->s[0]); break;
    case LP_NO_NEW_PRIVS: if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) r = -errno; break;
    case LP_SETSID: if (setsid() < 0) r = -errno; break;
    case LP_SET_PDEATHSIG: if (prctl(PR_SET_PDEATHSIG, (unsigned long)op->n[0], 0, 0, 0) < 0) r = -errno; break;
    case LP_MOUNT_SETATTR: r = fs_setattr(op->s[0], op->n[1], op->n[2], (int)op->n[3]); break;
    case LP_FORK_INIT: r = do_fork_init((int)op->n[0]); break;
    case LP_WAIT_START: r = do_wait_start(i, (int)op->n[0], op->s[1]); break;
    case LP_SESSION_KEYRING: r = lc_session_keyring(op->s[0]); break;
    case LP_LOOPBACK: r = lc_loopback(); break;
    case LP_BECOME_ROOT: r = do_become_root(); break;
    case LP_RUN_HOOK: {
      uint32_t aux = 0;
      r = lc_run_hook(op, &aux);
      if (aux) fail(i, 0, aux);
      break;
    }
    case LP_CONSOLE: r = lc_console(i, op); break;
    case LP_EXEC_IMAGE: r = lc_exec_image(op); break;
    case LP_SECCOMP:
      /* Everything the exec needs but execve itself, done while nothing is filtered. */
      mark_fds_for_exec();
      r = lc_exec_hand_over(lc_start_fd);
      if (r == 0) r = lc_seccomp(op);
      break;
    case LP_PRESERVE_FDS: keep_fds = op->n[0] > 65536 ? 65536u : (unsigned)op->n[0]; break;
    case LP_EXEC: do_exec(i, op);
    default: r = -ENOSYS; break;
    }
    if (r == -ENOENT && (op->flags & LPF_OPTIONAL)) r = 0;
    if (r < 0) fail(i, -r, 0);
  }
  /* A plan without EXEC: nothing to run. */
  fail(plan->nops, EINVAL, 0);
}
