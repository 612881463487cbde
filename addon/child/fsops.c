/* Filesystem operations of the container's first process, between clone and execve.
 *
 * Context: the child of a fork-like clone3 of the (multi-threaded) Node process. Only
 * async-signal-safe calls and raw syscalls: no malloc, no stdio, no locale. Buffers live on
 * the stack. Privilege: full capabilities in the container's user namespace (or real root).
 *
 * Every path that names something inside the container is resolved with openat2(2) and
 * RESOLVE_IN_ROOT, so a symlink in the rootfs (or one planted while we work) cannot send a
 * mount or mkdir outside the root (CVE-2021-30465). Mounts then target the resolved file
 * through /proc/self/fd/N. Man pages: openat2(2), mount(2), pivot_root(2), statfs(2).
 */
#include "child/fsops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static int root_fd = -1;

/* With RESOLVE_IN_ROOT the kernel answers EAGAIN when a mount or rename anywhere on the host
 * (its global seqcounts) happened while it resolved a `..`: it cannot prove the walk stayed
 * inside, and openat2(2) says to retry. Containers started side by side make that common
 * enough to fail a start now and then (seen in CI: process.cwd `/data/../../..`). */
#define OPENAT2_TRIES 64

static int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  how.resolve = resolve;
  int fd = -1;
  for (int i = 0; i < OPENAT2_TRIES; i++) {
    fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return fd;
}

int fs_openat2(int dirfd, const char *path, int flags, uint64_t resolve) {
  int fd = sys_openat2(dirfd, path, (uint64_t)(flags | O_CLOEXEC), resolve);
  return fd < 0 ? -errno : fd;
}

static int sys_pivot_root(const char *new_root, const char *put_old) {
  return (int)syscall(SYS_pivot_root, new_root, put_old);
}

/* "/proc/self/fd/<fd>" into buf (at least 32 bytes). */
void fs_fd_path(char *buf, int fd) {
  static const char prefix[] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  memcpy(buf, prefix, sizeof prefix - 1);
  do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
  for (int i = 0; i < n; i++) buf[sizeof prefix - 1 + i] = digits[n - 1 - i];
  buf[sizeof prefix - 1 + n] = '\0';
}

int fs_open_in_root(const char *path, int flags) {
  if (root_fd < 0) return -EBADF;
  /* A magic link (/proc/self/fd/N, /proc/self/cwd) would lead out of the root: refuse. */
  return fs_openat2(root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* As fs_open_in_root, but the last component must not be a symlink (runc: "must be mounted
 * on ordinary directory"): the parent is resolved in the root, symlinks and all, then the name
 * is opened beneath it with none. */
int fs_open_in_root_nofollow(const char *path, int flags) {
  char parent[4096];
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  if (len >= sizeof parent) return -ENAMETOOLONG;
  memcpy(parent, path, len);
  parent[len] = '\0';
  char *slash = strrchr(parent, '/');
  const char *name = parent;
  int pfd;
  if (slash) {
    *slash = '\0';
    name = slash + 1;
    pfd = fs_open_in_root(parent[0] ? parent : "/", O_PATH | O_DIRECTORY);
  } else {
    pfd = fs_open_in_root(".", O_PATH | O_DIRECTORY);
  }
  if (pfd < 0) return pfd;
  if (!*name) name = ".";
  int r = fs_openat2(pfd, name, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  close(pfd);
  return r;
}

/* mkdir -p inside the root. With make_file, the last component is created as an empty file.
 * Returns an O_PATH fd of the last component, or -errno. */
int fs_mkdirs_in_root(const char *path, int mode, int make_file) {
  char prefix[4096];
  size_t len = strlen(path);
  if (len >= sizeof prefix) return -ENAMETOOLONG;
  int parent = dup(root_fd);
  if (parent < 0) return -errno;
  size_t i = 0;
  while (i < len) {
    while (i < len && path[i] == '/') i++;
    if (i >= len) break;
    size_t start = i;
    while (i < len && path[i] != '/') i++;
    size_t clen = i - start;
    int last = i >= len || path[i + strspn(path + i, "/")] == '\0';
    memcpy(prefix, path, i);
    prefix[i] = '\0';
    int fd = fs_open_in_root(prefix, O_PATH);
    if (fd == -ENOENT) {
      char name[256];
      if (clen >= sizeof name) { close(parent); return -ENAMETOOLONG; }
      memcpy(name, path + start, clen);
      name[clen] = '\0';
      int r;
      if (last && make_file) {
        /* O_NOFOLLOW|O_EXCL: never create through a dangling symlink. */
        r = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (r >= 0) close(r);
      } else {
        r = mkdirat(parent, name, (mode_t)mode);
      }
      if (r < 0 && errno != EEXIST) { int e = errno; close(parent); return -e; }
      fd = fs_open_in_root(prefix, O_PATH);
    }
    close(parent);
    if (fd < 0) return fd;
    parent = fd;
  }
  return parent;
}

/* Flags a less privileged user namespace may not clear on a mount it did not create
 * (the kernel's MNT_LOCK_*): a remount must repeat them. */
static unsigned long locked_flags(const char *target) {
  struct statfs st;
  if (statfs(target, &st) < 0) return 0;
  unsigned long f = 0;
  if (st.f_flags & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flags & ST_NODEV) f |= MS_NODEV;
  if (st.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flags & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flags & ST_RELATIME) f |= MS_RELATIME;
  if (st.f_flags & ST_RDONLY) f |= MS_RDONLY;
  return f;
}

static int remount_bind(const char *target, unsigned long flags) {
  unsigned long base = MS_BIND | MS_REMOUNT | (flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT));
  if (mount(NULL, target, NULL, base, NULL) == 0) return 0;
  if (errno != EPERM) return -errno;
  /* Rootless: retry keeping the flags the kernel locked on the source mount. */
  if (mount(NULL, target, NULL, base | (locked_flags(target) & ~(unsigned long)MS_RDONLY), NULL) == 0) return 0;
  return -errno;
}

int fs_mount(const char *src, const char *target, const char *type, unsigned long flags, const char *data,
             unsigned long propagation, unsigned opflags) {
  char procpath[32];
  int fd;
  if (opflags & (LPF_MKDIR | LPF_MKFILE)) fd = fs_mkdirs_in_root(target, 0755, (opflags & LPF_MKFILE) != 0);
  else fd = fs_open_in_root(target, O_PATH);
  if (fd < 0) return fd;
  fs_fd_path(procpath, fd);
  int r = 0;
  if (flags & MS_BIND) {
    /* Flags and propagation are set on the clone before or through its own fd, never by a
     * second lookup of the target (mountfd.c). */
    int tree = -1;
    if (opflags & LPF_TREE) {
      /* A tree the parent cloned (open_tree) for a source the container cannot reach. */
      tree = 0;
      for (const char *p = src + sizeof "/proc/self/fd/" - 1; *p >= '0' && *p <= '9'; p++) tree = tree * 10 + (*p - '0');
    }
    r = fs_bind_fd(src, tree, fd, flags, propagation);
    close(fd);
    return r;
  } else if (mount(src, procpath, type, flags, data) < 0) {
    r = -errno;
  }
  if (r == 0 && propagation) {
    close(fd);
    fd = fs_open_in_root(target, O_PATH);
    if (fd < 0) return fd;
    fs_fd_path(procpath, fd);
    if (mount(NULL, procpath, NULL, propagation, NULL) < 0) r = -errno;
  }
  close(fd);
  return r;
}

int fs_rootfs(const char *path) {
  /* The host's /dev/null, for masks (mountfd.c), while the host's tree is still ours. */
  fs_open_devnull();
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) return -errno;
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  if (root_fd >= 0) close(root_fd);
  root_fd = fd;
  return 0;
}

int fs_mknod(const char *path, unsigned mode, unsigned long dev) {
  int fd = fs_open_in_root(path, O_PATH);
  if (fd >= 0) { close(fd); return 0; } /* present already: keep what the rootfs has */
  /* Create the parent, then the node by name inside it. */
  char parent[4096];
  size_t len = strlen(path);
  if (len >= sizeof parent) return -ENAMETOOLONG;
  memcpy(parent, path, len + 1);
  char *slash = strrchr(parent, '/');
  const char *name = path;
  int pfd;
  if (slash) {
    *slash = '\0';
    name = path + (slash - parent) + 1;
    pfd = parent[0] ? fs_mkdirs_in_root(parent, 0755, 0) : dup(root_fd);
  } else {
    pfd = dup(root_fd);
  }
  if (pfd < 0) return pfd;
  int r = mknodat(pfd, name, (mode_t)mode, (dev_t)dev) < 0 ? -errno : 0;
  close(pfd);
  return r;
}

int fs_symlink(const char *target, const char *path) {
  char parent[4096];
  size_t len = strlen(path);
  if (len >= sizeof parent) return -ENAMETOOLONG;
  memcpy(parent, path, len + 1);
  char *slash = strrchr(parent, '/');
  if (!slash) return -EINVAL;
  *slash = '\0';
  const char *name = path + (slash - parent) + 1;
  int pfd = parent[0] ? fs_mkdirs_in_root(parent, 0755, 0) : dup(root_fd);
  if (pfd < 0) return pfd;
  /* Replace a plain file or an old link (an image's /dev/ptmx); never a directory. */
  if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR) { int e = errno; close(pfd); return -e; }
  int r = symlinkat(target, pfd, name) < 0 ? -errno : 0;
  close(pfd);
  return r;
}

int fs_pivot(int no_pivot) {
  int r = 0;
  if (no_pivot) {
    /* --no-pivot (a root on ramfs, where pivot_root fails), as runc: move the root over / and
     * chroot into it. The old root's mounts stay in the namespace, below the chroot: weaker
     * than pivot_root, which is why it is only done when asked. */
    if (fchdir(root_fd) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0) return -errno;
    close(root_fd);
    root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root_fd < 0 ? -errno : 0;
  }
  /* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." afterwards
   * removes it. Making it a slave first keeps the unmount from propagating to the host. */
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) return -errno;
  if (fchdir(root_fd) < 0 || sys_pivot_root(".", ".") < 0) r = -errno;
  else if (fchdir(oldroot) < 0) r = -errno;
  else if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) r = -errno;
  else if (umount2(".", MNT_DETACH) < 0) r = -errno;
  else if (chdir("/") < 0) r = -errno;
  close(oldroot);
  if (r) return r;
  /* From here on "inside the root" means inside the new /. */
  close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root_fd < 0 ? -errno : 0;
}

/* CHROOT: no mount namespace of the container's own (as runc's chroot() without NEWNS): the
 * root changes for this process only, and nothing is mounted. chroot(2) of the directory
 * itself, then into it, so that a later `..` cannot climb out through the old cwd. */
int fs_chroot(const char *path) {
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -errno;
  int r = fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0 ? -errno : 0;
  close(fd);
  if (r) return r;
  close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root_fd < 0 ? -errno : 0;
}

int fs_remount_root_ro(void) {
  return remount_bind("/", MS_RDONLY);
}

int fs_setattr(const char *target, uint64_t set, uint64_t clr, int recursive) {
  /* mount_setattr(2) (Linux 5.12): the only way to change flags of a whole mount tree at once
   * (runc's rro, rnosuid...): MS_REMOUNT only ever touches the top mount of an rbind. */
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr = {set, clr, 0, 0};
  int fd = fs_open_in_root(target, O_PATH);
  if (fd < 0) return fd;
  int r = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr);
  r = r < 0 ? -errno : 0;
  close(fd);
  return r;
}

int fs_chdir(const char *path) {
  int fd = fs_open_in_root(path, O_PATH | O_DIRECTORY);
  if (fd < 0) return fd;
  int r = fchdir(fd) < 0 ? -errno : 0;
  close(fd);
  return r;
}

int fs_write_file(const char *path, const char *content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -errno;
  size_t len = strlen(content);
  ssize_t w = write(fd, content, len);
  int r = w < 0 ? -errno : ((size_t)w != len ? -EIO : 0);
  close(fd);
  return r;
}

void fs_close_root(void) {
  if (root_fd >= 0) close(root_fd);
  root_fd = -1;
}

void fs_use_host_root(void) {
  /* Without a rootfs op (no mount namespace), paths resolve against the host's /. */
  if (root_fd < 0) root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}
