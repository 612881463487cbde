// The monitor: what a foreground `launch run` becomes while its container runs. Node (~40 MB
// resident) execs this static program in the same process (addon/parent/execmon.cc), so the
// shell still waits on the same pid and gets the container's exit code, for well under 2 MiB.
// Context: launch's own process after execve, same pid and credentials (root or an ordinary
// user), every signal blocked on entry (execMonitor blocks them so that none is lost in the
// switch); the container's init is a child of this process and --pidfd refers to it. A normal
// single-threaded program: libc is fine everywhere.
// Man pages: signalfd(2), pidfd_send_signal(2), waitid(2) (P_PIDFD), poll(2), signal(7)
// (pending signals survive execve), pidfd_open(2).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"
#include "monitor/compiled.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct opts {
  int pidfd, pty, stop;
  sigset_t forward;
  const char *state;
  struct mon_hook *hooks;
  size_t nhooks;
  const char **rmdirs;
  char *own;  // per rmdirs entry: --rmdir-own
  size_t nrmdirs;
  const char *remove_dir;
};

void mon_fail(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(2, "launch: monitor: %s\n", buf);
  exit(MON_STATUS_FAILED);
}

// Decimal only, whole string, in range: argv comes from launch itself, so anything else is a
// bug worth stopping on rather than guessing.
static long number(const char *opt, const char *s, long min, long max) {
  const char *p = *s == '-' ? s + 1 : s;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*p < '0' || *p > '9' || *end || errno || v < min || v > max)
    mon_fail("%s: `%s` is not a number from %ld to %ld", opt, s, min, max);
  return v;
}

static void once(const char *opt, int seen) {
  if (seen) mon_fail("%s given twice", opt);
}

static void parse(int argc, char **argv, struct opts *o) {
  int have_forward = 0;
  // Every repeatable list is shorter than argv: one allocation each, sized by it.
  o->pidfd = o->pty = o->stop = -1;
  sigemptyset(&o->forward);
  o->hooks = calloc((size_t)argc, sizeof *o->hooks);
  o->rmdirs = calloc((size_t)argc, sizeof *o->rmdirs);
  o->own = calloc((size_t)argc, 1);
  if (!o->hooks || !o->rmdirs || !o->own) mon_fail("out of memory");
  for (int i = 1; i < argc; i++) {
    const char *opt = argv[i];
    int left = argc - i - 1;
#define NEED(n) \
  if (left < (n)) mon_fail("%s needs %d argument%s", opt, (n), (n) == 1 ? "" : "s")
    if (!strcmp(opt, "--pidfd")) {
      NEED(1);
      once(opt, o->pidfd >= 0);
      o->pidfd = (int)number(opt, argv[++i], 0, INT_MAX);
    } else if (!strcmp(opt, "--pty")) {
      NEED(1);
      once(opt, o->pty >= 0);
      o->pty = (int)number(opt, argv[++i], 0, INT_MAX);
    } else if (!strcmp(opt, "--stop-pidfd")) {
      NEED(1);
      once(opt, o->stop >= 0);
      o->stop = (int)number(opt, argv[++i], 0, INT_MAX);
    } else if (!strcmp(opt, "--state")) {
      NEED(1);
      once(opt, o->state != NULL);
      o->state = argv[++i];
    } else if (!strcmp(opt, "--remove-dir")) {
      NEED(1);
      once(opt, o->remove_dir != NULL);
      o->remove_dir = argv[++i];
    } else if (!strcmp(opt, "--rmdir") || !strcmp(opt, "--rmdir-own")) {
      NEED(1);
      o->own[o->nrmdirs] = opt[7] != 0;  // the container's own: what is below it goes first
      o->rmdirs[o->nrmdirs++] = argv[++i];
    } else if (!strcmp(opt, "--forward")) {
      NEED(1);
      once(opt, have_forward);
      have_forward = 1;
      // SIG[,SIG...]: an empty item fails as a bad number.
      for (char *s = argv[++i], *comma; s; s = comma ? comma + 1 : NULL) {
        if ((comma = strchr(s, ','))) *comma = '\0';
        int sig = (int)number(opt, s, 1, NSIG - 1);
        // KILL and STOP cannot be caught, and glibc keeps two real-time signals for itself.
        if (sig == SIGKILL || sig == SIGSTOP || sigaddset(&o->forward, sig) < 0)
          mon_fail("%s: signal %d cannot be forwarded", opt, sig);
      }
    } else if (!strcmp(opt, "--hook")) {
      // CONFIGPATH TIMEOUT PATH ARGC ARG... ENVC ENV...
      NEED(5);
      struct mon_hook *h = &o->hooks[o->nhooks++];
      h->config = argv[i + 1];
      h->timeout = number("--hook TIMEOUT", argv[i + 2], 0, INT_MAX);
      h->path = argv[i + 3];
      if (!*h->path) mon_fail("%s %s: empty path", opt, h->config);
      long n = number("--hook ARGC", argv[i + 4], 0, left - 5);
      i += 4;
      h->argv = calloc((size_t)n + 2, sizeof *h->argv);
      if (!h->argv) mon_fail("out of memory");
      if (n == 0) h->argv[0] = (char *)h->path;
      for (long k = 0; k < n; k++) h->argv[k] = argv[++i];
      left = argc - i - 1;  // >= 1: ARGC's bound kept ENVC in argv
      long m = number("--hook ENVC", argv[++i], -1, left - 1);
      if (m >= 0) {
        h->envp = calloc((size_t)m + 1, sizeof *h->envp);
        if (!h->envp) mon_fail("out of memory");
        for (long k = 0; k < m; k++) h->envp[k] = argv[++i];
      }
    } else {
      mon_fail("unknown argument `%s`", opt);
    }
#undef NEED
  }
  if (o->pidfd < 0) mon_fail("--pidfd is required");
}

// The fds launch handed over must not leak into the hooks, and a hook's stdin pipe must never
// land on a closed 0-2: open /dev/null there (a closed stdio stays "empty" for the relay).
static void prepare_fds(const struct opts *o) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
      mon_fail("cannot open /dev/null on fd %d", fd);
  if (fcntl(o->pidfd, F_SETFD, FD_CLOEXEC) < 0) mon_fail("--pidfd %d: %s", o->pidfd, strerror(errno));
  if (o->pty >= 0 && fcntl(o->pty, F_SETFD, FD_CLOEXEC) < 0) mon_fail("--pty %d: %s", o->pty, strerror(errno));
  if (o->stop >= 0 && fcntl(o->stop, F_SETFD, FD_CLOEXEC) < 0) mon_fail("--stop-pidfd %d: %s", o->stop, strerror(errno));
}

static void handle_signals(int sfd, const struct opts *o, struct relay *r) {
  struct signalfd_siginfo si;
  while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
    int sig = (int)si.ssi_signo;
    if (r && sig == SIGWINCH) relay_resize(r);
    // ESRCH once the init has died is no error: its exit is already on the pidfd.
    if (sigismember(&o->forward, sig) == 1) syscall(SYS_pidfd_send_signal, o->pidfd, sig, NULL, 0);
  }
}

// Until the init exits: forward signals, relay the terminal.
static void wait_loop(int sfd, const struct opts *o, struct relay *r) {
  for (;;) {
    struct pollfd p[4] = {{.fd = o->pidfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    nfds_t n = 2, in = 0, master = 0;
    if (r && r->in_open && r->in_len == 0) p[in = n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    if (r && (r->out_open || r->in_len > 0)) {
      p[master = n] = (struct pollfd){.fd = r->master, .events = (short)((r->out_open ? POLLIN : 0) | (r->in_len ? POLLOUT : 0))};
      n++;
    }
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      // Not worth dying over (the terminal is raw): stop relaying, still wait for the exit.
      dprintf(2, "launch: monitor: poll: %s\n", strerror(errno));
      return;
    }
    if (p[1].revents) handle_signals(sfd, o, r);
    if (in && p[in].revents) relay_input(r);
    if (master && p[master].revents) relay_master(r, p[master].revents);
    if (p[0].revents) return;  // the init exited (or the pidfd is bad: waitid will say)
  }
}

// --stop-pidfd: the network helper (pasta, slirp4netns) lives as long as the container. It is
// not our child (pasta daemonizes): SIGTERM through its pidfd, wait up to a second for it to
// go (POLLIN on a pidfd: the process has exited), then SIGKILL. Man pages: pidfd_open(2).
static void stop_helper(int pidfd) {
  if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) return;  // gone already
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  int rc;
  do rc = poll(&p, 1, 1000); while (rc < 0 && errno == EINTR);
  if (rc == 0) syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static int reap_init(int pidfd) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED); while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    dprintf(2, "launch: monitor: waitid: %s\n", strerror(errno));
    return MON_STATUS_FAILED;
  }
  return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

int monitor_main(int argc, char **argv) {
  struct opts o;
  memset(&o, 0, sizeof o);
  parse(argc, argv, &o);
  prepare_fds(&o);
  // comm would otherwise be the file's name, or the memfd's number after an execveat: name
  // the stage, as the container's child does (launch:[1:child]), so ps shows who waits.
  prctl(PR_SET_NAME, "launch:monitor", 0, 0, 0);

  // Forwarded signals (and SIGWINCH for the terminal) stay blocked and come through the
  // signalfd, those that arrived during the exec included; every other one gets its default
  // action back. SIGPIPE is ignored so that a closed stdout is an EPIPE, not our death.
  sigset_t mine = o.forward;
  if (o.pty >= 0) sigaddset(&mine, SIGWINCH);
  int sfd = signalfd(-1, &mine, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) mon_fail("signalfd: %s", strerror(errno));
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_SETMASK, &mine, NULL);

  struct relay relay, *r = NULL;
  if (o.pty >= 0) relay_start(r = &relay, o.pty);

  wait_loop(sfd, &o, r);
  int status = reap_init(o.pidfd);
  if (r) {
    // Whatever the container printed last is still in the pty: drain it, but do not hang on
    // a grandchild that keeps the pty open.
    relay_drain(r, 1000);
    relay_restore(r);
  }

  // Before the poststop hooks, as podman tears the network down before its cleanup.
  if (o.stop >= 0) stop_helper(o.stop);
  for (size_t i = 0; i < o.nhooks; i++) hook_run(&o.hooks[i], o.state);
  for (size_t i = 0; i < o.nrmdirs; i++) {
    if (o.own[i]) remove_below(o.rmdirs[i], 0);
    remove_path(o.rmdirs[i]);
  }
  if (o.remove_dir) remove_state_dir(o.remove_dir);

  // Node may have left children of its own (helpers, a container's other processes
  // reparented to us): no zombies behind us.
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  return status;
}

// One program, two roles: the monitor Node execs (monitor.ts), and the runner of compiled
// bundles the front execs (compiled.c), which becomes the monitor once its container runs.
int main(int argc, char **argv, char **envp) {
  if (argc > 1 && !strcmp(argv[1], "--compiled")) return compiled_main(argc, argv, envp);
  return monitor_main(argc, argv);
}
