/* Mounts that are finished before anyone can see them, and steps that act on a mount through
 * the fd it was made with, never by looking its path up again.
 *
 * Context: the container's first process between clone and execve (see fsops.c): raw
 * syscalls and async-signal-safe calls only, buffers on the stack. Privilege: full
 * capabilities in the container's user namespace (or real root).
 *
 * Why: the rootfs belongs to whoever made it (an ordinary host user, a sibling container of the
 * same bundle), who may rename or swap any of its entries while we work. A step that mounts on
 * `/proc` and later opens `/proc/kcore` by path may mask a file of an empty directory the
 * attacker swapped in, and leave the real proc (host /proc/sys writable for a root container)
 * unmasked; a bind made read-only by a second lookup of its path may make another mount
 * read-only and leave this one writable. So:
 *  - proc, sysfs, mqueue and devpts are made with fsopen/fsmount: the mount fd names the new
 *    mount itself; its target is opened without following any symlink, and must be a directory;
 *  - a bind is cloned (open_tree), given its flags while detached (mount_setattr), then
 *    attached (move_mount): it is never writable at its target, not even for an instant;
 *  - masked and read-only paths under proc or sysfs are opened beneath that mount's fd;
 *  - a masked file gets the host's /dev/null, opened before pivot_root: the image's own
 *    /dev/null could be a symlink back to the file it should hide.
 * Man pages: fsopen(2), fsconfig(2), fsmount(2), move_mount(2), open_tree(2), mount_setattr(2),
 * openat2(2).
 */
#include "child/fsops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A detached clone of the host's /dev/null, taken before pivot_root; once attached over the
 * first masked file, each later mask clones that mount (a clone must come from a mount of our
 * namespace, and the old root's are gone after pivot_root). */
static int devnull_tree = -1;
static int devnull_attached = 0;
static int slot_fd[LC_MOUNT_SLOTS + 1] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};

/* MS_* per-mount flags -> MOUNT_ATTR_*. */
static uint64_t mount_attrs(unsigned long flags) {
  uint64_t a = 0;
  if (flags & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (flags & MS_NOSYMFOLLOW) a |= MOUNT_ATTR_NOSYMFOLLOW;
  if (flags & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
  else if (flags & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
  return a;
}

static int has_atime(unsigned long flags) {
  return (flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) != 0;
}

static int setattr_fd(int fd, uint64_t set, uint64_t clr, int recursive) {
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = set;
  attr.attr_clr = clr;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) return -errno;
  return 0;
}

static int attach(int tree, int target) {
  if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) return -errno;
  return 0;
}

/* The mount `fd` names (an open_tree/fsmount fd: the mount's root) gets `propagation`. */
static int propagate(int fd, unsigned long propagation) {
  if (!propagation) return 0;
  char p[32];
  fs_fd_path(p, fd);
  return mount(NULL, p, NULL, propagation, NULL) < 0 ? -errno : 0;
}

void fs_open_devnull(void) {
  if (devnull_tree >= 0) return;
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  struct stat st;
  /* Only the real null device will do; without one, masking a file fails (ENODEV). */
  if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))) {
    close(fd);
    fd = -1;
  }
  devnull_tree = fd;
}

/* As MS_BIND|MS_REMOUNT would: exactly `flags` on the detached top mount. A user namespace may
 * not clear flags the kernel locked on the source's mount (MNT_LOCK_*), nor change its atime
 * mode: then keep what is locked and add the asked flags. */
static int set_bind_flags(int tree, unsigned long flags) {
  uint64_t set = mount_attrs(flags);
  uint64_t all = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR__ATIME;
  int r = setattr_fd(tree, set, all & ~set, 0);
  if (r != -EPERM) return r;
  uint64_t atime = set & MOUNT_ATTR__ATIME;
  if (has_atime(flags)) {
    r = setattr_fd(tree, set, MOUNT_ATTR__ATIME, 0);
    if (r != -EPERM) return r;
  }
  return setattr_fd(tree, set & ~atime, 0, 0);
}

int fs_bind_fd(const char *src, int tree_from_parent, int target, unsigned long flags, unsigned long propagation) {
  int tree = tree_from_parent;
  if (tree < 0) {
    /* src is a host path (resolved as mount(2) would, following symlinks: the config's own). */
    tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((flags & MS_REC) ? AT_RECURSIVE : 0));
    if (tree < 0) return -errno;
  }
  int r = 0;
  if (flags & ~(unsigned long)(MS_BIND | MS_REC)) r = set_bind_flags(tree, flags);
  if (r == 0) r = attach(tree, target);
  if (r == 0) r = propagate(tree, propagation);
  if (tree != tree_from_parent) close(tree);
  return r;
}

/* fsconfig(2) of each `key` or `key=value` of a mount(2)-style data string. */
static int config_data(int fsfd, const char *data) {
  char buf[4096];
  size_t len = strlen(data);
  if (len >= sizeof buf) return -E2BIG;
  memcpy(buf, data, len + 1);
  char *p = buf;
  while (*p) {
    char *end = strchr(p, ',');
    if (end) *end = '\0';
    if (*p) {
      char *eq = strchr(p, '=');
      long r;
      if (eq) {
        *eq = '\0';
        r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, p, eq + 1, 0);
      } else {
        r = syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, p, NULL, 0);
      }
      if (r < 0) return -errno;
    }
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

static int new_mount(const char *type, unsigned long flags, const char *data) {
  int fsfd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
  if (fsfd < 0) return -errno;
  int r = 0;
  if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", type, 0) < 0) r = -errno;
  if (r == 0 && data) r = config_data(fsfd, data);
  /* Superblock flags, which mount(2) took from its flags. */
  if (r == 0 && (flags & MS_RDONLY) && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) r = -errno;
  if (r == 0 && (flags & MS_SYNCHRONOUS) && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "sync", NULL, 0) < 0) r = -errno;
  if (r == 0 && (flags & MS_DIRSYNC) && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "dirsync", NULL, 0) < 0) r = -errno;
  if (r == 0 && (flags & MS_LAZYTIME) && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "lazytime", NULL, 0) < 0) r = -errno;
  if (r == 0 && syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) r = -errno;
  int mnt = -1;
  if (r == 0) {
    mnt = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, (unsigned)mount_attrs(flags));
    if (mnt < 0) r = -errno;
  }
  close(fsfd);
  return r < 0 ? r : mnt;
}

int fs_mount_fs(const char *target, const char *type, unsigned long flags, const char *data, unsigned long propagation,
                unsigned slot, unsigned opflags) {
  if (slot > LC_MOUNT_SLOTS) return -EINVAL;
  /* Not a symlink, and a directory (runc: "must be mounted on ordinary directory"): a link
   * (/proc -> /dev/shm/../../q) would put proc where the rootfs's owner chose, and the masks
   * that followed the path would miss it. Masks now act through the mount's fd anyway. */
  int fd = fs_open_in_root_nofollow(target, O_PATH | O_DIRECTORY);
  if (fd == -ENOENT && (opflags & LPF_MKDIR)) {
    int made = fs_mkdirs_in_root(target, 0755, 0);
    if (made < 0) return made;
    close(made);
    fd = fs_open_in_root_nofollow(target, O_PATH | O_DIRECTORY);
  }
  if (fd < 0) return fd;
  int mnt = new_mount(type, flags, data);
  int r = mnt < 0 ? mnt : attach(mnt, fd);
  if (r == 0) r = propagate(mnt, propagation);
  close(fd);
  if (r == 0 && slot) {
    if (slot_fd[slot] >= 0) close(slot_fd[slot]);
    slot_fd[slot] = mnt;
  } else if (mnt >= 0) {
    close(mnt);
  }
  return r;
}

/* Hide what fd names: an empty read-only tmpfs over a directory, /dev/null over anything else.
 * The tmpfs is made detached and attached to fd itself: masks run after pivot_root, where
 * /proc/self/fd/N would be looked up in the container's /proc, which a mount through an image
 * symlink (/data -> /proc/self) or a swapped rootfs entry can replace, sending the mask
 * elsewhere and leaving the masked directory (/sys/firmware) as it was (CVE-2025-31133's kind). */
static int mask_fd(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (S_ISDIR(st.st_mode)) {
    int mnt = new_mount("tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0k");
    if (mnt < 0) return mnt;
    int r = attach(mnt, fd);
    close(mnt);
    return r;
  }
  if (devnull_tree < 0) return -ENODEV;
  if (!devnull_attached) {
    int r = attach(devnull_tree, fd);
    if (r == 0) devnull_attached = 1;
    return r;
  }
  int tree = (int)syscall(SYS_open_tree, devnull_tree, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0) return -errno;
  int r = attach(tree, fd);
  close(tree);
  return r;
}

/* A read-only bind of what fd names onto itself, read-only before it is attached. */
static int readonly_fd(int fd) {
  int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (tree < 0) return -errno;
  int r = setattr_fd(tree, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, 0, 1);
  if (r == -EPERM) r = setattr_fd(tree, MOUNT_ATTR_RDONLY, 0, 1);
  if (r == 0) r = attach(tree, fd);
  close(tree);
  return r;
}

/* A path beneath the mount of `slot`: no symlink, no magic link, never above that mount. */
static int open_in_slot(unsigned slot, const char *rel) {
  if (slot == 0 || slot > LC_MOUNT_SLOTS) return -EINVAL;
  if (slot_fd[slot] < 0) return -EBADF;
  return fs_openat2(slot_fd[slot], rel, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

/* Apply `act` to what `fd` names (or pass on its -errno), then close it. */
static int act_on(int fd, int (*act)(int)) {
  if (fd < 0) return fd;
  int r = act(fd);
  close(fd);
  return r;
}

int fs_mask(const char *path) { return act_on(fs_open_in_root(path, O_PATH), mask_fd); }
int fs_readonly(const char *path) { return act_on(fs_open_in_root(path, O_PATH), readonly_fd); }
int fs_mask_at(unsigned slot, const char *rel) { return act_on(open_in_slot(slot, rel), mask_fd); }
int fs_readonly_at(unsigned slot, const char *rel) { return act_on(open_in_slot(slot, rel), readonly_fd); }
