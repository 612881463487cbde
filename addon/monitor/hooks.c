// The monitor's cleanup after the container's init has exited: poststop hooks, then the
// container's directories. Context: the monitor process (launch's pid after execve, root or an
// ordinary user), single threaded, forwarded signals still blocked; see monitor.c.
// Man pages: fork(2), execve(2), pidfd_open(2), pidfd_send_signal(2), waitid(2), pipe(2),
// rmdir(2), unlinkat(2), sigabbrev_np(3), strerrorname_np(3).
//
// The words of every warning are lib/runtime/hooks.ts's (hookError), so a poststop failure
// reads the same whether Node or the monitor ran the hook.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static void warn_errno(const struct mon_hook *h, int err) {
  const char *name = strerrorname_np(err);
  dprintf(2, "launch: warning: %s: cannot run hook `%s`: %s (%s)\n", h->config, h->path, strerror(err),
          name ? name : "?");
}

// The child: as Node's child_process would start it (every disposition default, nothing
// blocked), the state on stdin, stdout and stderr both on launch's stderr (launch's stdout
// belongs to the container). An exec failure's errno goes up the close-on-exec pipe.
__attribute__((noreturn)) static void hook_child(const struct mon_hook *h, int in, int report) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);  // EINVAL for KILL, STOP: fine
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  // in > 2: monitor.c made sure 0-2 are open before any pipe was made.
  if (dup2(in, 0) >= 0 && dup2(2, 1) >= 0) execve(h->path, h->argv, h->envp ? h->envp : environ);
  int err = errno;
  (void)!write(report, &err, sizeof err);
  _exit(127);
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Feeds `state` to the hook until it has all of it or stops reading, and waits for the hook's
// end, at most h->timeout seconds. Non-blocking writes: a hook that neither reads nor exits
// must still meet its timeout. Returns 1 if it timed out (it has been killed by then).
static int feed_and_wait(const struct mon_hook *h, int pidfd, int in, const char *state) {
  size_t left = state ? strlen(state) : 0;
  long deadline = now_ms() + h->timeout * 1000;
  fcntl(in, F_SETFL, O_NONBLOCK);
  for (;;) {
    if (in >= 0 && left == 0) close(in), in = -1;
    struct pollfd p[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = in, .events = POLLOUT}};
    int ms = -1;
    if (h->timeout) {
      long rest = deadline - now_ms();
      if (rest <= 0) break;
      ms = rest > INT_MAX ? INT_MAX : (int)rest;
    }
    int n = poll(p, in >= 0 ? 2 : 1, ms);
    if (n < 0 && errno != EINTR) break;
    if (p[0].revents) {
      if (in >= 0) close(in);
      return 0;
    }
    if (in >= 0 && p[1].revents) {
      ssize_t w = write(in, state, left);
      if (w > 0) state += w, left -= (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) left = 0;  // EPIPE: a hook need not read
    }
  }
  if (in >= 0) close(in);
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  return 1;
}

void hook_run(const struct mon_hook *h, const char *state) {
  int in[2], report[2];
  if (pipe2(in, O_CLOEXEC) < 0) {
    warn_errno(h, errno);
    return;
  }
  if (pipe2(report, O_CLOEXEC) < 0) {
    warn_errno(h, errno);
    close(in[0]), close(in[1]);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) hook_child(h, in[0], report[1]);
  int err = pid < 0 ? errno : 0;
  close(in[0]), close(report[1]);
  // EOF: the exec succeeded (or the fork failed, err says so).
  ssize_t n = 0;
  if (pid > 0) do n = read(report[0], &err, sizeof err); while (n < 0 && errno == EINTR);
  close(report[0]);
  if (pid < 0 || n == (ssize_t)sizeof err) {
    close(in[1]);
    if (pid > 0) waitpid(pid, NULL, 0);
    warn_errno(h, err);
    return;
  }
  // Our own unreaped child: its pid cannot have been reused, so pidfd_open is race-free.
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    err = errno;
    close(in[1]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    warn_errno(h, err);
    return;
  }
  int timed_out = feed_and_wait(h, pidfd, in[1], state);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED); while (rc < 0 && errno == EINTR);
  err = errno;
  close(pidfd);
  if (timed_out) {
    dprintf(2, "launch: warning: %s: hook `%s` timed out after %lds\n", h->config, h->path, h->timeout);
  } else if (rc < 0) {
    warn_errno(h, err);
  } else if (si.si_code == CLD_EXITED) {
    if (si.si_status) dprintf(2, "launch: warning: %s: hook `%s` exited with status %d\n", h->config, h->path, si.si_status);
  } else {
    const char *abbrev = sigabbrev_np(si.si_status);
    if (abbrev) dprintf(2, "launch: warning: %s: hook `%s` was killed by SIG%s\n", h->config, h->path, abbrev);
    else dprintf(2, "launch: warning: %s: hook `%s` was killed by signal %d\n", h->config, h->path, si.si_status);
  }
}

// A cgroup stays busy for a moment after its last process is reaped (the kernel empties it
// asynchronously): retry EBUSY for ~100 ms. What is left, `launch delete` removes.
void remove_path(const char *path) {
  for (int i = 0; rmdir(path) < 0 && errno == EBUSY && i < 10; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

// Every cgroup below `dir`, deepest first: a container with a cgroup namespace and a writable
// cgroupfs may make some below its own, and a cgroup with children cannot be removed (EBUSY),
// so the container's own would stay for ever (manager.ts removeDirs does the same in Node).
// Directories only, never through a symlink; only below the container's own cgroups, never a
// parent launch made for them (what is below that is others').
void remove_below(const char *dir, int depth) {
  if (depth > 64) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) continue;
    char sub[4096];
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= sizeof sub) continue;
    remove_below(sub, depth + 1);
    remove_path(sub);
  }
  closedir(d);
}

// The container's state directory: plain files and FIFOs, one level. Removing entries while
// reading the directory may hide some from readdir, hence another pass when rmdir says so.
void remove_state_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  for (int pass = 0; pass < 3; pass++) {
    struct dirent *e;
    while ((e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
    if (rmdir(dir) == 0 || errno != ENOTEMPTY) break;
    rewinddir(d);
  }
  closedir(d);
}
