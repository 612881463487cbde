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
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/sched.h>
#include <unistd.h>

#include "child/fsops.h"
#include "common/plan.h"
#include "common/sendfd.h"

static int sync_fd = -1;

static void send_msg(uint32_t type, uint32_t op, int err, uint32_t aux) {
  struct lp_msg m = {type, op, err, aux};
  ssize_t r;
  do r = send(sync_fd, &m, sizeof m, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
}

/* `create`: the exec FIFO stays open for writing from WAIT_START to the exec (close-on-exec),
 * as runc's: `launch start` reads to end-of-file, so it returns once the program runs, and a
 * failure in between (a startContainer hook, the exec) reaches it as one lp_msg whose op is
 * counted from the WAIT_START op. The parent of `create` has gone by then. */
static int start_fd = -1;
static uint32_t start_op = 0;

static void __attribute__((noreturn)) fail(uint32_t op, int err, uint32_t aux) {
  send_msg(LP_MSG_ERROR, op, err, aux);
  if (start_fd >= 0) {
    struct lp_msg m = {LP_MSG_ERROR, op - start_op, err, aux};
    ssize_t r;
    do r = write(start_fd, &m, sizeof m); while (r < 0 && errno == EINTR);
  }
  _exit(125);
}

/* The parent's LP_MSG_ACK to a record just sent; no answer means it went away. */
static void recv_ack(void) {
  struct lp_msg m;
  ssize_t r;
  do r = recv(sync_fd, &m, sizeof m, 0); while (r < 0 && errno == EINTR);
  if (r != (ssize_t)sizeof m) _exit(125); /* the parent went away: nobody to report to */
  if (m.type != LP_MSG_ACK) _exit(125);
}

static int wait_ack(uint32_t stage) {
  send_msg(LP_MSG_SYNC, 0, 0, stage);
  recv_ack();
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

static int do_capbset(const struct lc_op *op) {
  for (unsigned cap = 0; cap <= op->n[1] && cap < 64; cap++) {
    if (op->n[0] & (1ull << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -errno;
  }
  return 0;
}

/* CONSOLE (process.terminal), as runc's setupConsole: the pty comes from the container's own
 * devpts (its /dev/ptmx, after pivot_root or the join of its mount namespace), so that `tty`
 * names /dev/pts/N inside. A pty of the host's devpts would be invisible there. The master
 * goes to the parent with SCM_RIGHTS; it relays it or passes it to --console-socket.
 * Man pages: pts(4), ioctl_tty(2), unix(7) (SCM_RIGHTS). */
static void utoa(char *out, unsigned v) {
  char digits[12];
  int n = 0;
  do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
  for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
  out[n] = '\0';
}

static int send_master(uint32_t index, int master, unsigned ptn) {
  struct lp_msg m = {LP_MSG_CONSOLE, index, 0, ptn};
  return lc_send_fd(sync_fd, &m, sizeof m, master);
}

static int open_pty(int *master_out, int *slave_out, unsigned *ptn) {
  /* Non-blocking: a running container (exec) may have put a FIFO at /dev/ptmx. */
  int master = fs_open_in_root("/dev/ptmx", O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (master < 0) return master;
  int unlock = 0, r = 0, fl;
  struct stat st;
  if (fstat(master, &st) < 0) r = -errno;
  else if (!S_ISCHR(st.st_mode)) r = -ENOTTY;
  else if (ioctl(master, TIOCGPTN, ptn) < 0) r = -errno; /* proves it is a pty master */
  else if ((fl = fcntl(master, F_GETFL)) < 0 || fcntl(master, F_SETFL, fl & ~O_NONBLOCK) < 0) r = -errno;
  else if (ioctl(master, TIOCSPTLCK, &unlock) < 0) r = -errno;
  if (r) { close(master); return r; }
  /* TIOCGPTPEER (Linux 4.13) opens the peer without a path lookup that could be raced. */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0 && (errno == EINVAL || errno == ENOTTY)) {
    char path[32] = "/dev/pts/";
    utoa(path + 9, *ptn);
    slave = fs_open_in_root(path, O_RDWR | O_NOCTTY);
    if (slave < 0) errno = -slave;
  }
  if (slave < 0) { r = -errno; close(master); return r; }
  *master_out = master;
  *slave_out = slave;
  return 0;
}

static int do_console(uint32_t index, const struct lc_op *op) {
  int master = -1, slave = -1;
  unsigned ptn = 0;
  int r = open_pty(&master, &slave, &ptn);
  if (r) return r;
  if (op->n[1] || op->n[2]) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = (unsigned short)op->n[1];
    ws.ws_col = (unsigned short)op->n[2];
    if (ioctl(slave, TIOCSWINSZ, &ws) < 0) r = -errno;
  }
  /* The process's user owns its terminal (runc's fixStdioPermissions), so that it may reopen
   * /dev/tty. An id the namespace does not map (EINVAL) or may not give (EPERM, rootless)
   * leaves it to root: the open fds work either way. */
  struct stat st;
  if (!r && fstat(slave, &st) == 0 && st.st_uid != (uid_t)op->n[3] && fchown(slave, (uid_t)op->n[3], (gid_t)-1) < 0 &&
      errno != EINVAL && errno != EPERM)
    r = -errno;
  if (!r && (op->n[0] & LP_CONSOLE_MOUNT)) {
    /* Only where the container has a /dev: runc's mountConsole makes the file, never the dir. */
    int dev = fs_open_in_root("/dev", O_PATH | O_DIRECTORY);
    if (dev >= 0) {
      close(dev);
      char path[32] = "/dev/pts/";
      utoa(path + 9, ptn);
      r = fs_mount(path, "/dev/console", NULL, MS_BIND, NULL, 0, LPF_MKFILE);
    } else if (dev != -ENOENT) {
      r = dev;
    }
  }
  if (!r) r = send_master(index, master, ptn);
  /* Wait until the parent has the master (and has sized it from its own terminal, or passed
   * it to the console socket): the program must not start on a terminal still changing. */
  if (!r) recv_ack();
  close(master);
  /* The controlling terminal needs a session of our own: the SETSID op comes first. */
  if (!r && ioctl(slave, TIOCSCTTY, 0) < 0) r = -errno;
  for (int i = 0; !r && i < 3; i++)
    if (dup2(slave, i) < 0) r = -errno;
  close(slave);
  return r;
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
  start_fd = fd;
  start_op = index;
  return 0;
}

/* RUN_HOOK (createContainer, startContainer): a hook in the container's namespaces, as runc
 * runs them from its init. Forked with a pidfd, so the timeout is a ppoll on it; the hook's
 * execve errno comes back on a close-on-exec pipe (EOF: it runs). Its stdin is the state file
 * the parent wrote (fd arg5 & 0xffffffff; each hook reads it from the start), its stdout and
 * stderr are our stderr: the container's stdout is the container's own.
 * Returns 0, -errno, or (as *aux) an LP_HOOK_* failure. Man pages: clone(2), pidfd_open(2). */
static int do_run_hook(const struct lc_op *op, uint32_t *aux) {
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
    /* Nothing of ours reaches the hook: the sync socket, the exec FIFO, Node's fds. */
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

/* PRESERVE_FDS (exec --preserve-fds N): fds 3..3+N-1, which launch's caller opened for the
 * program, stay open across the exec. */
static unsigned keep_fds = 0;

/* A session keyring of the container's own, as runc gives it unless --no-new-keyring: the
 * caller's session keyring (its kernel keys) is not inherited. Made searchable by its user
 * (KEY_USR_SEARCH), as runc does, so the container's processes can use keys they add. A
 * kernel without keyrings (ENOSYS) is no error, as in runc. */
static int do_session_keyring(const char *name) {
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

static void __attribute__((noreturn)) do_exec(uint32_t index, const struct lc_op *op) {
  /* Node opens 0-2 close-on-exec: the container must keep them. Everything else of ours
   * (and of Node's) must not reach the container (CVE-2024-21626): close-on-exec all of it. */
  for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, 0);
  syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
  /* Never the sync socket or the exec FIFO, even when N reaches them: their closing at exec is
   * how the parent (and `launch start`) learn that the exec succeeded. A fd number that is not open answers EBADF: harmless. */
  for (unsigned fd = 3; fd < 3 + keep_fds; fd++)
    if ((int)fd != sync_fd && (int)fd != start_fd) fcntl((int)fd, F_SETFD, 0);
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
  sync_fd = plan->sync_fd;
  prctl(PR_SET_NAME, (unsigned long)"launch:[1:init]", 0, 0, 0);
  /* No fd of the runtime may reach the container; the sync socket is close-on-exec already. */
  syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
  reset_signals();
  fs_use_host_root(); /* until a ROOTFS op names the container's root */
  for (uint32_t i = 0; i < plan->nops; i++) {
    const struct lc_op *op = &plan->ops[i];
    int r = 0;
    switch (op->code) {
    case LP_SYNC: wait_ack((uint32_t)op->n[0]); break;
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
      if (mount(NULL, "/", NULL, (unsigned long)op->n[0] | MS_REC, NULL) < 0) r = -errno;
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
    case LP_MASK: r = fs_mask(op->s[0]); break;
    case LP_READONLY: r = fs_readonly(op->s[0]); break;
    case LP_PIVOT: r = fs_pivot((int)op->n[0]); break;
    case LP_REMOUNT_ROOT_RO: r = fs_remount_root_ro(); break;
    case LP_SETHOSTNAME: if (sethostname(op->s[0], strlen(op->s[0])) < 0) r = -errno; break;
    case LP_SETDOMAINNAME: if (setdomainname(op->s[0], strlen(op->s[0])) < 0) r = -errno; break;
    case LP_WRITE_FILE: r = fs_write_file(op->s[0], op->s[1]); break;
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
    case LP_SESSION_KEYRING: r = do_session_keyring(op->s[0]); break;
    case LP_RUN_HOOK: {
      uint32_t aux = 0;
      r = do_run_hook(op, &aux);
      if (aux) fail(i, 0, aux);
      break;
    }
    case LP_CONSOLE: r = do_console(i, op); break;
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
