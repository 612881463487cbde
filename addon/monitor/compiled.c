// Executing a compiled bundle (compiled.h): the parent's steps Node recorded, around the same
// clone and child the addon uses (common/decode.c, child/). What this file decides is only
// "as recorded, or back to Node": any step that fails undoes what the runner made (the child,
// the cgroups, the state directory) and hands the same command line to Node, which words the
// error (or succeeds, and then drops the entry: lib/cli/run.ts runnerVerdict).
// Man pages: mkdir(2), mkfifo(3), recvmsg(2), pidfd_open(2), pidfd_send_signal(2), waitid(2),
// execveat(2) (AT_EMPTY_PATH), proc(5) (/proc/pid/stat, uid_map, setgroups, ns/).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/decode.h"
#include "monitor/compiled.h"
#include "monitor/monitor.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define STAGE_USERMAP 1
#define STAGE_CREATED 3

// What this start made, for the undo, and the values its templates take.
struct run {
  struct run_cmd *c;
  struct entry e;
  char file[4300], state_dir[4200], why[4608];
  const char *made[64];
  size_t nmade;
  char *made_buf[64];
  int claimed, pidfd, dirfd;
  long pid;
  char pidstr[24], started[24], created[96], nslink[64];
  sigset_t old_mask;
  struct sigaction old_pipe;
};

static void put_str(char **p, size_t *len, size_t *cap, const char *s, size_t n) {
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *p = realloc(*p, *cap);
    if (!*p) mon_fail("out of memory");
  }
  memcpy(*p + *len, s, n);
  *len += n;
  (*p)[*len] = 0;
}

// A JSON string of bytes that are a path (JSON.stringify's escapes for what a path may hold).
static void put_json(char **p, size_t *len, size_t *cap, const char *s) {
  put_str(p, len, cap, "\"", 1);
  for (; *s; s++) {
    char esc[8];
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') snprintf(esc, sizeof esc, "\\%c", ch);
    else if (ch < 0x20) snprintf(esc, sizeof esc, "\\u%04x", ch);
    else {
      put_str(p, len, cap, s, 1);
      continue;
    }
    put_str(p, len, cap, esc, strlen(esc));
  }
  put_str(p, len, cap, "\"", 1);
}

static int is_own(struct run *r, const char *dir);

// A template with its placeholders filled (format.ts expand): malloc'ed, NUL-terminated.
static char *expand(struct run *r, const char *t, size_t tlen, const char *status, size_t *outlen) {
  char *out = NULL;
  size_t len = 0, cap = 0;
  put_str(&out, &len, &cap, "", 0);
  for (size_t i = 0; i < tlen; i++) {
    if (t[i] != 1 || i + 1 == tlen) {
      put_str(&out, &len, &cap, t + i, 1);
      continue;
    }
    char k = t[++i];
    const char *v = NULL;
    if (k == 'I') v = r->c->id;
    else if (k == 'P') v = r->pidstr;
    else if (k == 'S') v = r->started;
    else if (k == 'C') v = r->created;
    else if (k == 'T') v = status;
    else if (k == 'L') v = r->nslink;
    if (v) {
      put_str(&out, &len, &cap, v, strlen(v));
    } else if (k == 'M') {
      put_str(&out, &len, &cap, "[", 1);
      for (size_t m = 0; m < r->nmade; m++) {
        if (m) put_str(&out, &len, &cap, ",", 1);
        put_json(&out, &len, &cap, r->made[m]);
      }
      put_str(&out, &len, &cap, "]", 1);
    } else if (k == 'R' || k == 'Q') {
      int first = 1;
      for (size_t m = 0; m < r->nmade; m++) {
        if (is_own(r, r->made[m]) != (k == 'R')) continue;
        if (!first) put_str(&out, &len, &cap, "\n", 1);
        put_str(&out, &len, &cap, r->made[m], strlen(r->made[m]));
        first = 0;
      }
    } else {
      mon_fail("compiled bundle: unknown placeholder %d", k);
    }
  }
  if (outlen) *outlen = len;
  return out;
}

static char *expand_s(struct run *r, const char *t) { return expand(r, t, strlen(t), "", NULL); }

// The container's own cgroups: the directories it joins.
static int is_own(struct run *r, const char *dir) {
  for (size_t i = 0; i < r->e.nsteps; i++) {
    if (strcmp(r->e.steps[i].key, "join")) continue;
    char *d = expand_s(r, r->e.steps[i].a);
    int same = !strcmp(d, dir);
    free(d);
    if (same) return 1;
  }
  return 0;
}

// Plan strings: the id placeholder, the only one a plan holds (compile.ts checks).
static const char *rewrite_id(const char *s, void *ctx) {
  if (!strchr(s, 1)) return s;
  return expand_s(ctx, s);
}

// --- undo and fall-back --------------------------------------------------------------------

static void undo(struct run *r) {
  if (r->pidfd >= 0) {
    syscall(SYS_pidfd_send_signal, r->pidfd, SIGKILL, NULL, 0);
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)r->pidfd, &si, WEXITED) < 0 && errno == EINTR) {
    }
    close(r->pidfd);
    r->pidfd = -1;
  }
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  if (r->dirfd >= 0) close(r->dirfd);
  for (size_t i = r->nmade; i-- > 0;) {
    if (is_own(r, r->made[i])) remove_below(r->made[i], 0);
    remove_path(r->made[i]);
  }
  if (r->claimed) remove_state_dir(r->state_dir);
}

// Back to Node with the same command line; LAUNCH_COMPILED says why (lib/cli/run.ts).
__attribute__((noreturn)) static void fall_back(struct run *r, const char *verdict) {
  undo(r);
  struct run_cmd *c = r->c;
  size_t n = 0;
  while (c->envp[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  char *said = malloc(strlen(verdict) + strlen(r->file) + strlen(r->why) + 4);
  if (!env || !said) mon_fail("out of memory");
  sprintf(said, "%s\n%s\n%s", verdict, r->file, r->why);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(c->envp[i], "LAUNCH_COMPILED=", 16)) env[k++] = c->envp[i];
  char *var = malloc(strlen(said) + 17);
  if (!var) mon_fail("out of memory");
  sprintf(var, "LAUNCH_COMPILED=%s", said);
  env[k++] = var;
  env[k] = NULL;
  // Unblocked while still ignored: an EPIPE's SIGPIPE (a debug line to a closed stderr) that
  // waits pending is dropped here, rather than ending us with it on the way back to Node.
  sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
  sigaction(SIGPIPE, &r->old_pipe, NULL);
  syscall(SYS_execveat, c->front_fd, "", c->argv, env, AT_EMPTY_PATH);
  dprintf(2, "launch: cannot run launch again to start Node: %s\n", strerror(errno));
  exit(125);
}

__attribute__((noreturn, format(printf, 2, 3))) static void failed(struct run *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->why, sizeof r->why, fmt, ap);
  va_end(ap);
  fall_back(r, "failed");
}

// --- the steps -----------------------------------------------------------------------------

static int write_file(const char *path, const char *data, size_t len, int flags, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | flags, mode);
  if (fd < 0) return -1;
  ssize_t w = write(fd, data, len);
  int e = errno;
  close(fd);
  errno = e;
  return w == (ssize_t)len ? 0 : -1;
}

// tmp + rename in the state directory (store.ts write): a reader sees all or nothing.
static void write_state_file(struct run *r, const char *name, const char *data, size_t len) {
  char tmp[4400], dst[4400];
  snprintf(tmp, sizeof tmp, "%s/.%s.%d", r->state_dir, name, (int)getpid());
  snprintf(dst, sizeof dst, "%s/%s", r->state_dir, name);
  if (write_file(tmp, data, len, O_CREAT | O_TRUNC, 0600) < 0 || rename(tmp, dst) < 0) failed(r, "cannot write `%s`: %s", dst, strerror(errno));
}

static void note_made(struct run *r, const char *dir) {
  if (r->nmade == 64) failed(r, "too many cgroup directories");
  r->made[r->nmade] = r->made_buf[r->nmade] = strdup(dir);
  r->nmade++;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

// cgroups.json: the directories about to be made, written before the first mkdir, and again,
// exactly, after (store.ts recordCgroups).
static void record_cgroups(struct run *r, int planned) {
  char *out = NULL;
  size_t len = 0, cap = 0;
  put_str(&out, &len, &cap, "[", 1);
  int first = 1;
  if (planned) {
    const char *seen[128];
    size_t nseen = 0;
    for (size_t i = 0; i < r->e.nsteps; i++) {
      if (strcmp(r->e.steps[i].key, "cg")) continue;
      char *dir = expand_s(r, r->e.steps[i].a);
      const char *missing[32];
      size_t nm = 0;
      char *d = strdup(dir);
      while (d && nm < 32 && !exists(d)) {
        int dup = 0;
        for (size_t k = 0; k < nseen; k++) dup |= !strcmp(seen[k], d);
        if (dup) break;
        missing[nm++] = strdup(d);
        char *slash = strrchr(d, '/');
        if (!slash || slash == d) break;
        *slash = 0;
      }
      free(d);
      for (size_t k = nm; k-- > 0;) {
        if (nseen < 128) seen[nseen++] = missing[k];
        if (!first) put_str(&out, &len, &cap, ",", 1);
        put_json(&out, &len, &cap, missing[k]);
        first = 0;
      }
      free(dir);
    }
  } else {
    for (size_t m = 0; m < r->nmade; m++) {
      if (m) put_str(&out, &len, &cap, ",", 1);
      put_json(&out, &len, &cap, r->made[m]);
    }
  }
  put_str(&out, &len, &cap, "]", 1);
  char file[4400];
  snprintf(file, sizeof file, "%s/cgroups.json", r->state_dir);
  if (write_file(file, out, len, O_CREAT | O_TRUNC, 0600) < 0) failed(r, "cannot write `%s`: %s", file, strerror(errno));
  free(out);
}

// Missing ancestors too, top down; one that was there is not launch's (manager.ts createCgroup).
static void make_cgroup(struct run *r, const char *dir) {
  char *chain[32];
  size_t n = 0;
  char *d = strdup(dir);
  while (d && n < 32 && !exists(d)) {
    chain[n++] = strdup(d);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) break;
    *slash = 0;
  }
  free(d);
  for (size_t k = n; k-- > 0;) {
    if (mkdir(chain[k], 0755) == 0) note_made(r, chain[k]);
    else if (errno != EEXIST) failed(r, "cannot make the cgroup `%s`: %s", chain[k], strerror(errno));
    free(chain[k]);
  }
  // A new v1 cpuset is empty, and an empty one takes no task: fill it and its parents from
  // the hierarchy's root down (manager.ts fillCpusets).
  const char *at = strstr(dir, "/cpuset/");
  if (!at) return;
  size_t base = (size_t)(at - dir) + strlen("/cpuset");
  for (size_t i = base + 1; i <= strlen(dir); i++) {
    if (dir[i] != '/' && dir[i] != 0) continue;
    char level[4200];
    snprintf(level, sizeof level, "%.*s", (int)i, dir);
    static const char *files[] = {"cpuset.cpus", "cpuset.mems"};
    for (int f = 0; f < 2; f++) {
      char mine[4300], parent[4300], val[4096];
      snprintf(mine, sizeof mine, "%s/%s", level, files[f]);
      snprintf(parent, sizeof parent, "%.*s/%s", (int)(strrchr(level, '/') - level), level, files[f]);
      int fd = open(mine, O_RDONLY | O_CLOEXEC);
      ssize_t got = fd >= 0 ? read(fd, val, sizeof val - 1) : -1;
      if (fd >= 0) close(fd);
      if (got < 0) failed(r, "cannot read `%s`: %s", mine, strerror(errno));
      while (got > 0 && (val[got - 1] == '\n' || val[got - 1] == ' ')) got--;
      if (got > 0) continue;
      fd = open(parent, O_RDONLY | O_CLOEXEC);
      got = fd >= 0 ? read(fd, val, sizeof val - 1) : -1;
      if (fd >= 0) close(fd);
      if (got < 0) failed(r, "cannot read `%s`: %s", parent, strerror(errno));
      while (got > 0 && (val[got - 1] == '\n' || val[got - 1] == ' ')) got--;
      if (write_file(mine, val, (size_t)got, 0, 0) < 0) failed(r, "cannot write `%s`: %s", mine, strerror(errno));
    }
  }
}

// v2: every controller the parent offers, at once, else one by one, errors ignored (manager.ts).
static void enable_controllers(struct run *r, const char *parent) {
  char file[4300], list[4096], want[8192];
  snprintf(file, sizeof file, "%s/cgroup.controllers", parent);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, list, sizeof list - 1) : -1;
  if (fd >= 0) close(fd);
  if (got < 0) failed(r, "cannot read `%s`: %s", file, strerror(errno));
  list[got] = 0;
  size_t len = 0;
  char *save, *tok;
  for (tok = strtok_r(list, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
    len += (size_t)snprintf(want + len, sizeof want - len, "%s+%s", len ? " " : "", tok);
  if (!len) return;
  snprintf(file, sizeof file, "%s/cgroup.subtree_control", parent);
  if (write_file(file, want, len, 0, 0) == 0) return;
  for (tok = strtok_r(want, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) write_file(file, tok, strlen(tok), 0, 0);
}

static void cgroup_write(struct run *r, const struct step *s) {
  char *path = expand_s(r, s->a);
  if (!s->b || write_file(path, s->b, s->blen, 0, 0) < 0) failed(r, "cannot write `%s`: %s", path, strerror(errno));
  free(path);
}

// newuidmap/newgidmap PID ARGS... (idmaps.ts runHelper): its stdout to /dev/null, stderr ours.
static void run_helper(struct run *r, const struct step *s) {
  if (!s->b) failed(r, "idmap-helper without arguments");
  char *args = strndup(s->b, s->blen);
  char *argv[3 * 340 + 3];
  size_t n = 0;
  argv[n++] = (char *)s->a;
  argv[n++] = r->pidstr;
  char *save;
  for (char *t = strtok_r(args, " ", &save); t && n < sizeof argv / sizeof *argv - 1; t = strtok_r(NULL, " ", &save)) argv[n++] = t;
  argv[n] = NULL;
  pid_t pid = fork();
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) dup2(devnull, 0), dup2(devnull, 1);
    execv(s->a, argv);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) failed(r, "`%s` failed", s->a);
  free(args);
}

static void write_proc(struct run *r, const char *name, const char *data, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/%s", r->pid, name);
  if (write_file(path, data, len, 0, 0) < 0) failed(r, "cannot write `%s`: %s", path, strerror(errno));
}

// Field 22 of /proc/PID/stat, after the command name in parentheses (state/proc.ts).
static void read_started(struct run *r) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", r->pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0) close(fd);
  if (got <= 0) failed(r, "cannot read `%s`", path);
  buf[got] = 0;
  char *p = strrchr(buf, ')');
  if (!p) failed(r, "cannot read `%s`", path);
  p += 2;
  for (int field = 3; field < 22 && p; field++) p = strchr(p, ' '), p = p ? p + 1 : NULL;
  if (!p) failed(r, "cannot read `%s`", path);
  size_t n = strspn(p, "0123456789");
  snprintf(r->started, sizeof r->started, "%.*s", (int)n, p);
}

// new Date().toISOString()
static void read_clock(struct run *r) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(r->created, sizeof r->created, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           ts.tv_nsec / 1000000);
}

static void write_pid_file(struct run *r) {
  const char *f = r->c->pid_file;
  const char *slash = strrchr(f, '/');
  char tmp[4400];
  if (slash) snprintf(tmp, sizeof tmp, "%.*s/.%d.pid.tmp", (int)(slash - f), f, (int)getpid());
  else snprintf(tmp, sizeof tmp, ".%d.pid.tmp", (int)getpid());
  if (write_file(tmp, r->pidstr, strlen(r->pidstr), O_CREAT | O_EXCL, 0666) < 0 || rename(tmp, f) < 0) {
    unlink(tmp);
    failed(r, "cannot write the pid file `%s`: %s", f, strerror(errno));
  }
}

static void write_state(struct run *r, const char *status) {
  size_t len;
  char *json = expand(r, r->e.state, strlen(r->e.state), status, &len);
  write_state_file(r, "state.json", json, len);
  free(json);
}

// The front's record (state/front-record.ts), its fields filled.
static void write_front(struct run *r) {
  char *out = NULL;
  size_t len = 0, cap = 0;
  put_str(&out, &len, &cap, "launch-front 1\n", 15);
  for (size_t i = 0; i < r->e.nfront; i++) {
    const struct step *f = &r->e.front[i];
    size_t vlen;
    char *v = expand(r, f->b, f->blen, "", &vlen);
    char head[128];
    int h = snprintf(head, sizeof head, "%s %zu\n", f->a, vlen);
    put_str(&out, &len, &cap, head, (size_t)h);
    put_str(&out, &len, &cap, v, vlen);
    put_str(&out, &len, &cap, "\n", 1);
    free(v);
  }
  write_state_file(r, "front", out, len);
  free(out);
}

// At the child's first sync: id maps, oom_score_adj, the cgroup, the state (run.ts record).
static void usermap_stage(struct run *r, int create) {
  for (size_t i = 0; i < r->e.nsteps; i++) {
    const struct step *s = &r->e.steps[i];
    if (!strcmp(s->key, "idmap-write")) write_proc(r, s->a, s->b ? s->b : "", s->blen);
    else if (!strcmp(s->key, "idmap-helper")) run_helper(r, s);
    else if (!strcmp(s->key, "oom")) write_proc(r, "oom_score_adj", s->a, s->alen);
  }
  for (size_t i = 0; i < r->e.nsteps; i++) {
    const struct step *s = &r->e.steps[i];
    if (strcmp(s->key, "join")) continue;
    char *dir = expand_s(r, s->a), file[4400];
    snprintf(file, sizeof file, "%s/cgroup.procs", dir);
    if (write_file(file, r->pidstr, strlen(r->pidstr), 0, 0) < 0) failed(r, "cannot move the container into `%s`: %s", dir, strerror(errno));
    free(dir);
  }
  read_started(r);
  read_clock(r);
  for (size_t i = 0; i < r->e.nsteps; i++) {
    const struct step *s = &r->e.steps[i];
    if (strcmp(s->key, "ns")) continue;
    char mine[64], self[64], a[64], b[64];
    snprintf(mine, sizeof mine, "/proc/%ld/ns/%s", r->pid, s->a);
    snprintf(self, sizeof self, "/proc/self/ns/%s", s->a);
    ssize_t n = readlink(mine, a, sizeof a - 1), m = readlink(self, b, sizeof b - 1);
    if (n <= 0 || m <= 0 || (n == m && !memcmp(a, b, (size_t)n))) failed(r, "the container's %s namespace is not its own", s->a);
    snprintf(r->nslink, sizeof r->nslink, "%.*s", (int)n, a);
  }
  if (r->c->pid_file) write_pid_file(r);
  write_state(r, create ? "creating" : "running");
  if (!create) write_front(r);
}

static void send_ack(struct run *r, int fd) {
  struct lp_msg m = {.type = LP_MSG_ACK};
  if (write(fd, &m, sizeof m) < 0 && errno != EPIPE) failed(r, "cannot write to the container's init: %s", strerror(errno));
}

// One record; 0 at end-of-file (the exec closed the socket). An fd riding along is unexpected
// (a compiled bundle has no terminal and no seccomp listener): a failure.
static int recv_msg(struct run *r, int fd, struct lp_msg *m) {
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {m, sizeof *m};
  struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(fd, &h, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == ECONNRESET) return 0;
  if (n < 0) failed(r, "cannot read from the container's init: %s", strerror(errno));
  if (h.msg_controllen) failed(r, "the container's init sent an fd");
  if (n == 0) return 0;
  if (n != sizeof *m) failed(r, "short message from the container's init");
  return 1;
}

static void sync_loop(struct run *r, int sync_fd, int create) {
  struct lp_msg m;
  while (recv_msg(r, sync_fd, &m)) {
    if (m.type == LP_MSG_ERROR) failed(r, "the container's init failed at step %u: %s", m.op, strerror(m.err));
    if (m.type == LP_MSG_PID) {
      // FORK_INIT: the init is our child too (CLONE_PARENT); its maker exits now.
      int init = (int)syscall(SYS_pidfd_open, m.aux, 0);
      if (init < 0) failed(r, "pidfd_open: %s", strerror(errno));
      siginfo_t si;
      while (waitid((idtype_t)P_PIDFD, (id_t)r->pidfd, &si, WEXITED) < 0 && errno == EINTR) {
      }
      close(r->pidfd);
      r->pidfd = init;
      r->pid = m.aux;
      snprintf(r->pidstr, sizeof r->pidstr, "%ld", r->pid);
      continue;
    }
    if (m.type != LP_MSG_SYNC) failed(r, "unexpected message %u from the container's init", m.type);
    if (m.aux == STAGE_USERMAP) usermap_stage(r, create);
    if (m.aux == STAGE_CREATED) {
      write_state(r, "created");
      write_front(r);
      send_ack(r, sync_fd);
      return;
    }
    send_ack(r, sync_fd);
  }
  if (create) failed(r, "the container's init exited before it was created");
}

// --- the start ------------------------------------------------------------------------------

static void start(struct run *r) {
  struct run_cmd *c = r->c;
  int create = !strcmp(c->verb, "create");
  snprintf(r->state_dir, sizeof r->state_dir, "%s/%s", c->root, c->id);
  if (mkdir(r->state_dir, 0700) < 0) {
    snprintf(r->why, sizeof r->why, "cannot claim `%s`: %s", r->state_dir, strerror(errno));
    fall_back(r, "miss");  // Node words it ("already exists", ...)
  }
  r->claimed = 1;
  int any_cg = 0;
  for (size_t i = 0; i < r->e.nsteps; i++) any_cg |= !strcmp(r->e.steps[i].key, "cg");
  if (any_cg) record_cgroups(r, 1);
  for (size_t i = 0; i < r->e.nsteps; i++) {
    const struct step *s = &r->e.steps[i];
    char *v = expand_s(r, s->a);
    if (!strcmp(s->key, "cg-enable")) enable_controllers(r, v);
    else if (!strcmp(s->key, "cg")) make_cgroup(r, v);
    else if (!strcmp(s->key, "cg-write")) cgroup_write(r, s);
    free(v);
  }
  // Every directory of the container's own is launch's to remove: one that was there already
  // (a container killed midway) is Node's to judge.
  for (size_t i = 0; i < r->e.nsteps; i++) {
    if (strcmp(r->e.steps[i].key, "join")) continue;
    char *d = expand_s(r, r->e.steps[i].a);
    int made = 0;
    for (size_t m = 0; m < r->nmade; m++) made |= !strcmp(r->made[m], d);
    if (!made) {
      snprintf(r->why, sizeof r->why, "the cgroup `%s` was there before", d);
      fall_back(r, "miss");
    }
    free(d);
  }
  if (any_cg) record_cgroups(r, 0);

  struct lp_decoded plan;
  char err[256];
  if (lp_decode(r->e.plan, r->e.plan_len, &plan, err, sizeof err, rewrite_id, r) < 0) failed(r, "the plan: %s", err);
  for (size_t i = 0; i < r->e.nsteps; i++) {
    if (strcmp(r->e.steps[i].key, "fifo")) continue;
    // run.ts openFifoDir: anyone may open the FIFO (the init may run as another uid), and
    // look it up in the directory; the init opens it through the directory's fd.
    char fifo[4400];
    snprintf(fifo, sizeof fifo, "%s/exec.fifo", r->state_dir);
    if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0 || chmod(r->state_dir, 0711) < 0) failed(r, "cannot make `%s`: %s", fifo, strerror(errno));
    r->dirfd = open(r->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dirfd < 0) failed(r, "cannot open `%s`: %s", r->state_dir, strerror(errno));
    for (uint32_t k = 0; k < plan.nops; k++)
      if (plan.ops[k].code == LP_WAIT_START) plan.ops[k].n[0] = (uint64_t)r->dirfd;
  }
  struct lp_spawned sp = lp_spawn(&plan, r->e.clone_flags, -1);
  if (sp.pid < 0) failed(r, "%s: %s", sp.syscall, strerror(sp.err));
  r->pid = sp.pid;
  r->pidfd = sp.pidfd;
  snprintf(r->pidstr, sizeof r->pidstr, "%d", sp.pid);
  sync_loop(r, sp.sync_fd, create);
  close(sp.sync_fd);
  lp_free(&plan);
}

// argv: --compiled FRONT_FD VERB ROOT ID BUNDLE PID_FILE|"" FLAGS DEBUG -- ARGV...
static int parse(int argc, char **argv, char **envp, struct run_cmd *c) {
  if (argc < 12 || strcmp(argv[1], "--compiled") || strcmp(argv[10], "--")) return -1;
  memset(c, 0, sizeof *c);
  char *end;
  long fd = strtol(argv[2], &end, 10);
  if (*end || fd < 0) return -1;
  c->front_fd = (int)fd;
  c->verb = argv[3];
  c->root = argv[4];
  c->id = argv[5];
  c->bundle = argv[6];
  c->pid_file = *argv[7] ? argv[7] : NULL;
  c->flags = argv[8];
  c->debug = !strcmp(argv[9], "1");
  c->detach = strstr(c->flags, "d1") != NULL;
  c->keep = strstr(c->flags, "k1") != NULL;
  c->argv = argv + 11;
  c->envp = envp;
  return strcmp(c->verb, "run") && strcmp(c->verb, "create") ? -1 : 0;
}

int compiled_main(int argc, char **argv, char **envp) {
  struct run_cmd c;
  struct run r;
  memset(&r, 0, sizeof r);
  r.pidfd = r.dirfd = -1;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &r.old_mask);
  // A closed stderr must be an EPIPE for the debug line below, not a SIGPIPE that waits,
  // blocked, to end the runner between making the container's state and removing it.
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, &r.old_pipe);
  if (parse(argc, argv, envp, &c) < 0) mon_fail("compiled: bad arguments");
  r.c = &c;
  // launch's own executable must not reach the container's process (CVE-2019-5736): the
  // child marks every fd close-on-exec anyway; the fall-back's execveat works all the same.
  if (fcntl(c.front_fd, F_SETFD, FD_CLOEXEC) < 0) mon_fail("compiled: fd %d: %s", c.front_fd, strerror(errno));
  char lookup[16384], name[17];
  size_t llen = lookup_string(&c, lookup, sizeof lookup);
  if (!llen) {
    snprintf(r.why, sizeof r.why, "the command line is too long");
    fall_back(&r, "miss");
  }
  entry_name(lookup, llen, name);
  snprintf(r.file, sizeof r.file, "%s/%s/%s", c.root, COMPILED_DIR, name);
  if (entry_load(&c, r.file, lookup, llen, &r.e, r.why, sizeof r.why) < 0) fall_back(&r, "miss");
  if (c.debug) dprintf(2, "launch: debug: compiled bundle: hit `%s`\n", r.file);
  start(&r);
  if (r.dirfd >= 0) close(r.dirfd);
  close(c.front_fd);
  // create, run --detach: the container goes on without us.
  if (!strcmp(c.verb, "create") || c.detach) return 0;
  // A foreground run waits as the monitor does after Node's start (monitor.ts handOver): the
  // signals a shell sends are passed on (signals.ts FORWARDED), then the teardown.
  char pidfd[16], forward[] = "2,15,1,3,10,12,28,18";  // writable: the monitor splits it
  snprintf(pidfd, sizeof pidfd, "%d", r.pidfd);
  char *mv[8 + 2 * 64 + 2];
  int n = 0;
  mv[n++] = "launch";
  mv[n++] = "--pidfd";
  mv[n++] = pidfd;
  mv[n++] = "--forward";
  mv[n++] = forward;
  if (!c.keep) {
    for (size_t i = r.nmade; i-- > 0;) mv[n++] = is_own(&r, r.made[i]) ? "--rmdir-own" : "--rmdir", mv[n++] = (char *)r.made[i];
    mv[n++] = "--remove-dir";
    mv[n++] = r.state_dir;
  }
  mv[n] = NULL;
  return monitor_main(n, mv);
}
