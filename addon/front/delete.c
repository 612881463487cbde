/* delete [--force], as lib/lifecycle/delete.ts does it (front.h), for the containers whose record
 * says nothing of Node's is needed (no poststop hooks, no systemd unit). What only Node does —
 * kill a container with a cgroup whose init's death does not take the rest (killCgroup: the
 * freezer, a shared cgroup's members; see init_takes_all), stop a network helper — sends the
 * verb to Node before anything is done. The one step that may fail
 * after something was done, a cgroup that will not go, hands the verb to Node too: the steps
 * before it are done again there, finding nothing left to do, and Node words the failure. */
#include <asm/stat.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/signal.h>
#include <linux/time.h>

#include "front/front.h"

struct dirent64_ {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

static int exists(const char *root, const char *id, const char *name) {
  char p[PATH_MAX_];
  struct stat st;
  return state_path(p, root, id, name) && sys4(__NR_newfstatat, AT_FDCWD, p, &st, 0) == 0;
}

/* rmdir each line of `list`, last first; 1 when all are gone (or were never there). */
static int remove_dirs(const char *list) {
  int ok = 1;
  const char *end = list + slen(list);
  while (end > list) {
    const char *start = end;
    while (start > list && start[-1] != '\n') start--;
    char d[PATH_MAX_];
    size_t n = (size_t)(end - start);
    if (n > 0 && n < sizeof d) {
      memcpy(d, start, n);
      d[n] = 0;
      long r = sys3(__NR_unlinkat, AT_FDCWD, d, AT_REMOVEDIR);
      if (r < 0 && r != -ENOENT) ok = 0;
    }
    end = start > list ? start - 1 : start;
  }
  return ok;
}

/* store.ts remove: the state directory and what is in it, state.json last (until then Node
 * could still take over). 0 when something is left that only Node removes. */
static int remove_state(const char *root, const char *id) {
  char dir[PATH_MAX_];
  if (!state_path(dir, root, id, 0)) return 0;
  long fd = sys4(__NR_openat, AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  char mem[4096];
  int ok = 1;
  for (long n; ok && (n = sys3(__NR_getdents64, fd, mem, sizeof mem)) > 0;) {
    for (long at = 0; at < n;) {
      struct dirent64_ *e = (struct dirent64_ *)(mem + at);
      at += e->reclen;
      if (seq(e->name, ".") || seq(e->name, "..") || seq(e->name, "state.json")) continue;
      long r = sys3(__NR_unlinkat, fd, e->name, 0);
      if (r == -EISDIR) r = sys3(__NR_unlinkat, fd, e->name, AT_REMOVEDIR);
      if (r < 0 && r != -ENOENT) ok = 0;
    }
  }
  if (ok) ok = sys3(__NR_unlinkat, fd, "state.json", 0) == 0;
  sys1(__NR_close, fd);
  return ok && sys3(__NR_unlinkat, AT_FDCWD, dir, AT_REMOVEDIR) == 0;
}

/* Killing a container with a cgroup (killCgroup, control.ts) is the front's only when the
 * init's SIGKILL takes everything of the container's: it has a pid namespace of its own (the
 * kernel kills every other process in it when its init dies, `exec`'d ones too), and it is not
 * paused (a frozen task's SIGKILL waits for the thaw, which Node does around its kill). A dead
 * init's namespace is gone already. Anything else in the cgroup is not the container's: rmdir
 * keeps failing then, and Node words that. Without a pid namespace of its own, descendants
 * outlive the init: Node's (it kills the cgroup's members). This is podman's and containerd's
 * `delete --force` after every container, stopped or not. */
static int init_takes_all(const struct record *r, int is_alive) {
  if (!r->ns_pid || !r->ns_pid[0]) return 0;
  if (!is_alive) return 1;
  return !r->frozen || freezer_says(r, 0);
}

void verb_delete(struct cmd *c, const char *root) {
  char mem[RECORD_MAX];
  struct record r;
  char dir[PATH_MAX_];
  /* --force of an id that does not exist: done, as runc (and Node: nothing to remove). But
   * only in a root that is the user's: Node refuses any other with its own line. */
  struct stat st;
  if (!root_ok(root)) return;
  if (c->force && state_path(dir, root, c->id, 0) && sys4(__NR_newfstatat, AT_FDCWD, dir, &st, AT_SYMLINK_NOFOLLOW) == -ENOENT) quit(0);
  long lfd = lock_container(c, root);
  if (lfd < 0) return;
  /* Without a record, --force is Node's (it cleans up after a create that died). */
  int got = c->force ? read_record(root, c->id, mem, &r) : load_record(c, root, mem, &r);
  int is_alive = got > 0 && alive(&r);
  int created = got > 0 && exists(root, c->id, "exec.fifo");
  /* delete.ts: a stopped container without a pid namespace of its own may have left its
   * init's descendants in its cgroup; they are killed (Node's, see init_takes_all). */
  int kill_it = got > 0 && (c->force || (is_alive && created) || (!is_alive && r.cgroup && !(r.ns_pid && r.ns_pid[0])));
  if (got <= 0 || !r.delete_native || exists(root, c->id, "network.json") || exists(root, c->id, "pasta.pid") || (kill_it && r.cgroup && !init_takes_all(&r, is_alive))) {
    sys1(__NR_close, lfd);
    return;
  }
  if (is_alive && !c->force && !created) {
    char what[1200];
    struct buf b = {what, 0, sizeof what - 1, 0};
    puts_(&b, "cannot delete container `");
    puts_(&b, c->id);
    puts_(&b, "` that is not stopped: running (use --force)");
    what[b.len] = 0;
    fail(c, what, 0);
  }
  if (kill_it && is_alive) {
    signal_init(&r, SIGKILL);
    for (int i = 0; i < 500 && alive(&r); i++) nap_ms(10);
  }
  /* A dead init's descendants leave its cgroup a moment after it: rmdir says EBUSY till then. */
  int gone = remove_dirs(r.rmdirs);
  for (int i = 0; i < 200 && !gone; i++) {
    nap_ms(10);
    gone = remove_dirs(r.rmdirs);
  }
  if (!gone || (remove_dirs(r.parents), !remove_state(root, c->id))) {
    sys1(__NR_close, lfd);
    return;
  }
  quit(0);
}
