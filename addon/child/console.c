/* CONSOLE: the container's terminal, opened inside the container (see below). Part of the
 * child's op loop (child.c); the same rules: raw syscalls, nothing that locks or allocates. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "child/fsops.h"
#include "child/steps.h"
#include "common/sendfd.h"

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
  return lc_send_fd(lc_sync_fd, &m, sizeof m, master);
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

int lc_console(uint32_t index, const struct lc_op *op) {
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
      /* The slave we hold is the source, never `/dev/pts/N` looked up again (CVE-2025-52565):
       * that name is the image's own when devpts is not mounted there (or the rootfs's owner
       * swapped /dev meanwhile), and a symlink /dev/pts/0 -> /proc/sys/kernel/core_pattern made
       * /dev/console a writable bind of the host's sysctl, outside the read-only /proc/sys. */
      int tree = (int)syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
      int target = tree < 0 ? -errno : fs_mkdirs_in_root("/dev/console", 0755, 1);
      if (tree < 0) r = target;
      else if (target < 0) r = target;
      else r = fs_bind_fd(NULL, tree, target, MS_BIND, 0);
      if (target >= 0) close(target);
      if (tree >= 0) close(tree);
    } else if (dev != -ENOENT) {
      r = dev;
    }
  }
  if (!r) r = send_master(index, master, ptn);
  /* Wait until the parent has the master (and has sized it from its own terminal, or passed
   * it to the console socket): the program must not start on a terminal still changing. */
  if (!r) lc_recv_ack();
  close(master);
  /* The controlling terminal needs a session of our own: the SETSID op comes first. */
  if (!r && ioctl(slave, TIOCSCTTY, 0) < 0) r = -errno;
  for (int i = 0; !r && i < 3; i++)
    if (dup2(slave, i) < 0) r = -errno;
  close(slave);
  return r;
}
