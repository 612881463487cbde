// execve of the monitor in place of Node. Context: the Node process (root or an ordinary user),
// main thread, with libuv and V8 threads still running until the kernel's execve kills them.
// The monitor itself is addon/monitor/monitor.c.
// Man pages: execve(2), execveat(2), memfd_create(2), fcntl(2) (F_ADD_SEALS, FD_CLOEXEC),
// pthread_sigmask(3), signal(7) ("A child created via fork(2) inherits ... the signal mask;
// the signal mask is preserved across execve(2)", and so are pending signals).
#include "parent/execmon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif

extern char **environ;

namespace launch {

namespace {

struct FdFlags {
  int fd;
  int flags;
};

// A single-executable build has no monitor file on disk: the bytes go into a sealed memfd and
// the kernel execs that. Sealing means nothing can change the image between write and exec.
int ImageFd(const uint8_t *elf, size_t len, const char **syscall) {
  int fd = int(::syscall(SYS_memfd_create, "launch-monitor", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return *syscall = "memfd_create", -errno;
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, elf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return *syscall = "write", -e;
    }
    off += size_t(n);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
    int e = errno;
    close(fd);
    return *syscall = "fcntl", -e;
  }
  return fd;
}

}  // namespace

int ExecMonitor(const ExecMonitorImage &image, char *const argv[], const int *keep_fds, size_t nkeep,
                const char **syscall) {
  int memfd = -1;
  if (!image.path) {
    memfd = ImageFd(image.elf, image.len, syscall);
    if (memfd < 0) return -memfd;
  }

  // Node opens its stdio close-on-exec: without this the monitor would start with no stdio.
  // The old flags are kept so that a failed exec leaves the fds as Node expects them (an fd
  // left inheritable would leak into every later child_process).
  std::vector<FdFlags> saved;
  std::vector<int> fds = {0, 1, 2};
  fds.insert(fds.end(), keep_fds, keep_fds + nkeep);
  int err = 0;
  for (int fd : fds) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) {
      if (fd <= 2 && errno == EBADF) continue;  // a closed stdio stays closed
      err = errno, *syscall = "fcntl";
      break;
    }
    if (!(flags & FD_CLOEXEC)) continue;
    if (fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
      err = errno, *syscall = "fcntl";
      break;
    }
    saved.push_back({fd, flags});
  }

  sigset_t all, old;
  sigfillset(&all);
  if (!err) {
    // A signal that arrives from here on stays pending across execve (handlers do not survive
    // it, blocked pending signals do) and the monitor reads it from its signalfd.
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (memfd >= 0) {
      // AT_EMPTY_PATH: exec the fd itself. Fine with MFD_CLOEXEC for an ELF image; only a #!
      // script would need its fd to stay open past the exec.
      ::syscall(SYS_execveat, memfd, "", argv, environ, AT_EMPTY_PATH);
      err = errno, *syscall = "execveat";
    } else {
      execve(image.path, argv, environ);
      err = errno, *syscall = "execve";
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

  for (auto it = saved.rbegin(); it != saved.rend(); ++it) fcntl(it->fd, F_SETFD, it->flags);
  if (memfd >= 0) close(memfd);
  return err;
}

}  // namespace launch
