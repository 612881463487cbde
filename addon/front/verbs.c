/* state, kill and start, as lib/lifecycle/state.ts, kill.ts and start.ts do them (front.h). Every
 * return is a fall through to Node, so it happens before anything is changed, and with every
 * fd the front opened closed again (in the single executable Node starts in this process). */
#include <asm/stat.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/poll.h>
#include <linux/stat.h>
#include <linux/time.h>

#include "front/front.h"

#define LOCK_EX 2
#define MSG_SIZE 16 /* struct lp_msg, common/plan.h */

const char *status_name(enum status s) {
  static const char *const names[] = {"created", "running", "paused", "stopped"};
  return names[s];
}

/* A path under the state root: ROOT/ID[/NAME], as path.join makes it of clean parts. */
struct path {
  char p[PATH_MAX_];
};
static int join(struct path *out, const char *root, const char *id, const char *name) { return state_path(out->p, root, id, name); }

int state_path(char *out, const char *root, const char *id, const char *name) {
  struct buf b = {out, 0, PATH_MAX_ - 1, 0};
  puts_(&b, root);
  puts_(&b, "/");
  puts_(&b, id);
  if (name) {
    puts_(&b, "/");
    puts_(&b, name);
  }
  b.p[b.len] = 0;
  return !b.over;
}

static long uid(void) { return sys6(__NR_getuid, 0, 0, 0, 0, 0, 0); }

/* store.ts checkRoot: 1 trusted or absent, 0 only Node words what is wrong with it. */
int root_ok(const char *root) {
  struct stat st;
  long r = sys4(__NR_newfstatat, AT_FDCWD, root, &st, AT_SYMLINK_NOFOLLOW);
  if (r == -ENOENT) return 1;
  return r == 0 && S_ISDIR(st.st_mode) && (long)st.st_uid == uid() && !(st.st_mode & 022);
}

/* The record: 1 read, 0 there is none, -1 Node's (unreadable, foreign, of another version). */
int read_record(const char *root, const char *id, char *mem, struct record *r) {
  struct path f;
  if (!join(&f, root, id, "front")) return -1;
  long fd = sys4(__NR_openat, AT_FDCWD, f.p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return -1;
  struct stat st;
  long n = -1;
  if (sys2(__NR_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && (long)st.st_uid == uid() && st.st_size < RECORD_MAX) {
    n = 0;
    for (long got; n < RECORD_MAX && (got = sys3(__NR_read, fd, mem + n, RECORD_MAX - n)) != 0; n += got)
      if (got < 0) {
        n = -1;
        break;
      }
  }
  sys1(__NR_close, fd);
  return n >= 0 && n < RECORD_MAX && parse_record(mem, (size_t)n, r) ? 1 : -1;
}

/* stateError(`container \`ID\` does not exist`, { file }) of store.ts. */
__attribute__((noreturn)) static void does_not_exist(struct cmd *c, const char *file) {
  char what[1100];
  struct buf b = {what, 0, sizeof what - 1, 0};
  puts_(&b, "container `");
  puts_(&b, c->id);
  puts_(&b, "` does not exist");
  b.p[b.len] = 0;
  fail(c, what, file);
}

/* No record: Node's "does not exist" when there is no state.json either, else Node's. */
static void no_record(struct cmd *c, const char *root) {
  struct path f;
  struct stat st;
  if (join(&f, root, c->id, "state.json") && sys4(__NR_newfstatat, AT_FDCWD, f.p, &st, 0) == -ENOENT) {
    does_not_exist(c, f.p);
  }
}

long read_file(const char *file, char *mem, size_t cap) {
  long fd = sys4(__NR_openat, AT_FDCWD, file, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  long n = sys3(__NR_read, fd, mem, cap - 1);
  sys1(__NR_close, fd);
  if (n >= 0) mem[n] = 0;
  return n;
}

/* proc.ts isAlive: there, not a zombie, started when the container's init did. */
int alive(const struct record *r) {
  char mem[1024], path[40];
  struct buf b = {path, 0, sizeof path - 1, 0};
  puts_(&b, "/proc/");
  putu(&b, (unsigned long)r->pid);
  puts_(&b, "/stat");
  path[b.len] = 0;
  long n = read_file(path, mem, sizeof mem);
  if (n <= 0) return 0;
  char *p = mem + n;
  while (p > mem && *p != ')') p--; /* the name may hold spaces and parentheses */
  if (p == mem || p + 2 >= mem + n) return 0;
  p += 2;
  if (*p == 'Z' || *p == 'X') return 0;
  for (int field = 0; field < 19; field++) { /* to field 22, the start time */
    while (*p && *p != ' ') p++;
    if (!*p) return 0;
    p++;
  }
  char *e = p;
  while (*e >= '0' && *e <= '9') e++;
  return parse_dec(p, (size_t)(e - p)) == (long)r->started;
}

/* control.ts: the freezer says frozen (want 1) or thawed (want 0). */
int freezer_says(const struct record *r, int want) {
  char mem[512];
  if (!r->frozen || read_file(r->frozen, mem, sizeof mem) < 0) return 0;
  if (r->frozen_v2) {
    for (char *p = mem; *p; p++)
      if (prefix(p, want ? "frozen 1" : "frozen 0")) return 1;
    return 0;
  }
  char *p = mem, *e = mem + slen(mem);
  while (*p == ' ' || *p == '\n' || *p == '\t') p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\t')) e--;
  *e = 0;
  return seq(p, want ? "FROZEN" : "THAWED");
}

/* state.ts currentState: the one rule both paths follow. */
enum status status_of(struct cmd *c, const char *root, const struct record *r) {
  if (!alive(r)) return STOPPED;
  struct path f;
  struct stat st;
  if (join(&f, root, c->id, "exec.fifo") && sys4(__NR_newfstatat, AT_FDCWD, f.p, &st, 0) == 0) return CREATED;
  return freezer_says(r, 1) ? PAUSED : RUNNING;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    long w = sys3(__NR_write, fd, p, n);
    if (w == -EINTR) continue;
    if (w <= 0) quit(0); /* as Node: stdout's errors do not change the exit status */
    p += w;
    n -= (size_t)w;
  }
}

void verb_state(struct cmd *c, const char *root) {
  char mem[RECORD_MAX];
  struct record r;
  if (!root_ok(root)) return;
  int got = load_record(c, root, mem, &r);
  if (got <= 0) return;
  enum status s = status_of(c, root, &r);
  char out[RECORD_MAX + 128];
  struct buf b = {out, 0, sizeof out, 0};
  put(&b, r.head, r.head_len);
  puts_(&b, "  \"status\": \"");
  puts_(&b, status_name(s));
  puts_(&b, "\",\n");
  if (s != STOPPED) {
    puts_(&b, "  \"pid\": ");
    putu(&b, (unsigned long)r.pid);
    puts_(&b, ",\n");
  }
  put(&b, r.tail, r.tail_len);
  puts_(&b, "\n");
  if (b.over) return;
  write_all(1, b.p, b.len);
  quit(0);
}

/* The container's state directory, locked (store.ts lock), or -1 to fall through. */
long lock_container(struct cmd *c, const char *root) {
  struct path d;
  if (!root_ok(root) || !join(&d, root, c->id, 0)) return -1;
  long fd = sys4(__NR_openat, AT_FDCWD, d.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd == -ENOENT) {
    does_not_exist(c, d.p);
  }
  if (fd < 0) return -1;
  long r;
  while ((r = sys2(__NR_flock, fd, LOCK_EX)) == -EINTR) {}
  if (r < 0) {
    sys1(__NR_close, fd);
    return -1;
  }
  return fd;
}

int load_record(struct cmd *c, const char *root, char *mem, struct record *r) {
  int got = read_record(root, c->id, mem, r);
  if (got == 0) no_record(c, root);
  return got;
}

/* Signal the container's init, and only it: through a pidfd opened before its start time is
 * checked again, so a pid that was reused since (the init gone, another process in its place)
 * is never signalled. 0, or -errno as kill(2). Without pidfds (before 5.3), kill(2). */
long signal_init(const struct record *r, int sig) {
  long fd = sys2(__NR_pidfd_open, r->pid, 0);
  if (fd == -ENOSYS) return sys2(__NR_kill, r->pid, sig);
  if (fd < 0) return fd;
  long e = alive(r) ? sys4(__NR_pidfd_send_signal, fd, sig, 0, 0) : -ESRCH;
  sys1(__NR_close, fd);
  return e;
}

/* kill.ts parseSignal, for the names os.constants.signals has; anything else is Node's. */
static int parse_signal(const char *text) {
  static const char *const names[] = {
      "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
      "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"};
  long n = parse_dec(text, slen(text));
  if (n >= 0) return n <= 64 ? (int)n : -1;
  char up[16];
  size_t len = slen(text);
  if (len >= sizeof up) return -1;
  for (size_t i = 0; i <= len; i++) up[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
  const char *name = prefix(up, "SIG") ? up + 3 : up;
  for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
    if (seq(name, names[i])) return i + 1;
  if (seq(name, "IOT")) return 6;
  if (seq(name, "POLL")) return 29;
  return -1;
}

static void what_id(struct buf *b, const char *lead, const char *id, const char *trail) {
  puts_(b, lead);
  puts_(b, id);
  puts_(b, trail);
  b->p[b->len] = 0;
}

/* kill.ts's words for a process it could not signal (process.kill's message past ESRCH). */
static void cannot_signal(struct cmd *c, struct buf *b, long pid, long e) {
  puts_(b, "cannot signal the container's process ");
  putu(b, (unsigned long)pid);
  puts_(b, e == -ESRCH ? ": no such process" : e == -EPERM ? ": kill EPERM" : ": kill EINVAL");
  b->p[b->len] = 0;
  fail(c, b->p, 0);
}

/* kill --all with a cgroup and a pid namespace of its own: every pid of cgroup.procs that is
 * the container's, in the file's order, as kill.ts. One that has exited since the file was read
 * is skipped, unless it is the init. Returns (to Node) only before anything was signalled: a
 * file that cannot be read (Node words that), or one too big for the buffer. */
static void kill_all(struct cmd *c, const struct record *r, int sig, struct buf *b) {
  int pids[PROCS_MAX];
  long count = read_procs(r, pids);
  if (count < 0) return;
  for (long i = 0; i < count; i++) {
    long pid = pids[i];
    int init = pid == r->pid;
    /* Pinned before it is looked at: a pid that exits and is reused by another process in
     * between gets ESRCH through the pidfd, never the signal. The init has signal_init's. */
    long e = 0, pfd = init ? -ENOSYS : sys2(__NR_pidfd_open, pid, 0);
    if (pfd < 0 && pfd != -ENOSYS) e = pfd;
    else if (belongs(r->ns_pid, pid))
      e = init ? signal_init(r, sig) : pfd < 0 ? sys2(__NR_kill, pid, sig) : sys4(__NR_pidfd_send_signal, pfd, sig, 0, 0);
    if (pfd >= 0) sys1(__NR_close, pfd);
    if (e == 0 || (e == -ESRCH && !init)) continue;
    cannot_signal(c, b, pid, e);
  }
  quit(0);
}

void verb_kill(struct cmd *c, const char *root) {
  int sig = parse_signal(c->signal);
  if (sig < 0) return;
  char mem[RECORD_MAX];
  struct record r;
  long fd = lock_container(c, root);
  if (fd < 0) return;
  int got = load_record(c, root, mem, &r);
  /* --all with a cgroup signals the container's processes in it (containerPids): the front's
   * when a pid namespace of its own tells them (members.ts belongs), else Node's. */
  if (got <= 0 || (c->all && r.cgroup && (!*r.ns_pid || !*r.procs))) {
    sys1(__NR_close, fd);
    return;
  }
  char what[1200];
  struct buf b = {what, 0, sizeof what - 1, 0};
  enum status s = status_of(c, root, &r);
  if (s == STOPPED) {
    /* kill.ts: --all of a stopped container signals what is left of it in its cgroup and
     * succeeds, as runc (containerd's shim runs it once the init has exited). With a pid
     * namespace of its own nothing of it is left: the kernel killed the rest with the init. */
    if (c->all) {
      if (r.cgroup) kill_all(c, &r, sig, &b);
      quit(0);
    }
    what_id(&b, "cannot kill container `", c->id, "`: container not running");
    fail(c, what, 0);
  }
  /* SIGKILL to a paused container thaws it as well (kill.ts): Node's. */
  if (s == PAUSED && sig == 9) {
    sys1(__NR_close, fd);
    return;
  }
  if (c->all && r.cgroup) {
    kill_all(c, &r, sig, &b);
    sys1(__NR_close, fd);
    return;
  }
  long e = signal_init(&r, sig);
  if (e == 0) quit(0);
  if (e == -ESRCH) cannot_signal(c, &b, r.pid, e);
  sys1(__NR_close, fd);
}

/* start.ts: let the init past its exec FIFO, and wait until it has exec'd (or failed). */
void verb_start(struct cmd *c, const char *root) {
  char mem[RECORD_MAX];
  struct record r;
  long lfd = lock_container(c, root);
  if (lfd < 0) return;
  int got = load_record(c, root, mem, &r);
  /* poststart hooks run in Node (lib/runtime/hooks.ts). */
  if (got <= 0 || !r.start_native) {
    sys1(__NR_close, lfd);
    return;
  }
  char what[1200];
  struct buf b = {what, 0, sizeof what - 1, 0};
  enum status s = status_of(c, root, &r);
  if (s == STOPPED) {
    what_id(&b, "cannot start container `", c->id, "`: it has stopped");
    fail(c, what, 0);
  }
  if (s != CREATED) {
    what_id(&b, "cannot start container `", c->id, "`: it is ");
    puts_(&b, status_name(s));
    puts_(&b, ", not created");
    b.p[b.len] = 0;
    fail(c, what, 0);
  }
  struct path fifo;
  long fd = join(&fifo, root, c->id, "exec.fifo") ? sys4(__NR_openat, AT_FDCWD, fifo.p, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0) : -ENAMETOOLONG;
  if (fd < 0) {
    sys1(__NR_close, lfd);
    return;
  }
  unsigned char msg[1 + MSG_SIZE];
  long n, have = 0;
  for (;;) {
    n = sys3(__NR_read, fd, msg + have, sizeof msg - have);
    if (n > 0) have += n;
    if (n == -EINTR) continue;
    if (n < 0 && n != -EAGAIN) { /* Node words it: "cannot read the exec FIFO" */
      sys1(__NR_close, fd);
      sys1(__NR_close, lfd);
      return;
    }
    if (n == 0 && have > 0) break;
    if (have == 0 && !alive(&r)) {
      long again = sys3(__NR_read, fd, msg, sizeof msg);
      if (again > 0) {
        have = again;
        continue;
      }
      what_id(&b, "cannot start container `", c->id, "`: its init exited before start");
      fail(c, what, 0);
    }
    if (n > 0) continue;
    struct pollfd p = {(int)fd, POLLIN, 0};
    struct timespec t = {0, 50 * 1000000};
    sys6(__NR_ppoll, (long)&p, 1, (long)&t, 0, 0, 0);
  }
  sys1(__NR_close, fd);
  sys3(__NR_unlinkat, AT_FDCWD, fifo.p, 0);
  if (have - 1 == MSG_SIZE) hand_start_failure(c, msg + 1, MSG_SIZE);
  quit(0);
}
