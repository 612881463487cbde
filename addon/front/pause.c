/* pause and resume, as lib/lifecycle/pause.ts and lib/cgroups/control.ts setFrozen do them (front.h),
 * for a container in a cgroup launch made (the record's pause-native). The freezer takes the
 * whole cgroup, so pause first makes sure that only the container's processes are in it
 * (cgroups/members.ts): any other sends the verb to Node, which refuses it and names them.
 * A freezer that cannot be written, or does not settle, is Node's too: writing it again there
 * does no harm, and Node words the failure. */
#include <linux/errno.h>
#include <linux/fcntl.h>

#include "front/front.h"

/* /proc/PID/FILE into out. */
static void proc_path(char *out, size_t cap, long pid, const char *file) {
  struct buf b = {out, 0, cap - 1, 0};
  puts_(&b, "/proc/");
  putu(&b, (unsigned long)pid);
  puts_(&b, "/");
  puts_(&b, file);
  out[b.len] = 0;
}

/* The parent of `pid` from /proc/PID/stat, or -1. */
static long parent_of(long pid) {
  char path[48], mem[1024];
  proc_path(path, sizeof path, pid, "stat");
  long n = read_file(path, mem, sizeof mem);
  if (n <= 0) return -1;
  char *p = mem + n;
  while (p > mem && *p != ')') p--;
  if (p == mem || p + 4 >= mem + n) return -1;
  p += 4; /* ") S " */
  char *e = p;
  while (*e >= '0' && *e <= '9') e++;
  return parse_dec(p, (size_t)(e - p));
}

/* members.ts belongs, for a cgroup launch made with a pid namespace to tell by (front.h). */
int belongs(const char *ns, long pid) {
  for (int depth = 0; pid > 1 && depth < 256; depth++) {
    char path[48], link[128];
    proc_path(path, sizeof path, pid, "ns/pid");
    long n = sys4(__NR_readlinkat, AT_FDCWD, path, link, sizeof link - 1);
    if (n > 0) {
      link[n] = 0;
      if (seq(link, ns)) return 1;
    }
    pid = parent_of(pid);
  }
  return 0;
}

/* The pids of the record's cgroup.procs, in the file's order (front.h). */
long read_procs(const struct record *r, int *pids) {
  char mem[RECORD_MAX];
  long n = read_file(r->procs, mem, sizeof mem);
  if (n < 0 || n == (long)sizeof mem - 1) return -1;
  long count = 0;
  for (char *p = mem; *p;) {
    char *e = p;
    while (*e >= '0' && *e <= '9') e++;
    long pid = parse_dec(p, (size_t)(e - p));
    if (pid <= 0 || pid > 0x7fffffff || *e != '\n') return -1;
    pids[count++] = (int)pid;
    p = e + 1;
  }
  return count;
}

/* 1 when a process that is not the container's (and still there) is in its cgroup; -1 when
 * that cannot be told here. */
static int others_in(const struct record *r) {
  if (!*r->ns_pid) return 0; /* no pid namespace of its own: all in a cgroup launch made are its */
  int pids[PROCS_MAX];
  long count = read_procs(r, pids);
  if (count < 0) return -1;
  for (long i = 0; i < count; i++) {
    char path[48], st[16];
    proc_path(path, sizeof path, pids[i], "stat");
    if (!belongs(r->ns_pid, pids[i]) && read_file(path, st, sizeof st) >= 0) return 1;
  }
  return 0;
}

/* The freezer's control file: freezer.state (v1), or cgroup.freeze beside cgroup.events. */
static int control_file(const struct record *r, char *out) {
  struct buf b = {out, 0, PATH_MAX_ - 1, 0};
  size_t n = slen(r->frozen), t = slen("cgroup.events");
  if (!r->frozen_v2) puts_(&b, r->frozen);
  else if (n > t && seq(r->frozen + n - t, "cgroup.events")) {
    put(&b, r->frozen, n - t);
    puts_(&b, "cgroup.freeze");
  } else return 0;
  out[b.len] = 0;
  return !b.over;
}

void verb_pause(struct cmd *c, const char *root, int freeze) {
  char mem[RECORD_MAX], file[PATH_MAX_];
  struct record r;
  long lfd = lock_container(c, root);
  if (lfd < 0) return;
  int got = load_record(c, root, mem, &r);
  if (got <= 0 || !r.cgroup || !r.pause_native || !control_file(&r, file)) {
    sys1(__NR_close, lfd);
    return;
  }
  enum status s = status_of(c, root, &r), want = freeze ? RUNNING : PAUSED;
  if (s != want) {
    char what[1200];
    struct buf b = {what, 0, sizeof what - 1, 0};
    puts_(&b, "container `");
    puts_(&b, c->id);
    puts_(&b, "` is ");
    puts_(&b, status_name(s));
    puts_(&b, ", not ");
    puts_(&b, status_name(want));
    what[b.len] = 0;
    fail(c, what, 0);
  }
  if (freeze && others_in(&r) != 0) {
    sys1(__NR_close, lfd);
    return;
  }
  const char *value = r.frozen_v2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED");
  long fd = sys4(__NR_openat, AT_FDCWD, file, O_WRONLY | O_CLOEXEC, 0);
  long w = fd < 0 ? fd : sys3(__NR_write, fd, value, slen(value));
  if (fd >= 0) sys1(__NR_close, fd);
  /* FREEZING can take a moment while tasks reach a safe point; Node (and runc) poll too. */
  for (int i = 0; w >= 0 && i < 500; i++) {
    if (freezer_says(&r, freeze)) quit(0);
    nap_ms(10);
  }
  sys1(__NR_close, lfd);
}
