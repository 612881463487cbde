/* EXEC_IMAGE and the exec through it (CVE-2019-5736; see addon/exec/trampoline.c for why).
 * Same rules as child.c: raw syscalls and async-signal-safe calls only.
 * Man pages: memfd_create(2), fcntl(2) (F_ADD_SEALS), execveat(2). */
#include <errno.h>
#include <fcntl.h>
#include <linux/memfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "child/steps.h"

int lc_exec_image_fd = -1;

/* The trampoline's bytes (the plan's blob) into a memfd sealed against any change, made before
 * the seccomp filter loads (it may not allow memfd_create). */
int lc_exec_image(const struct lc_op *op) {
  int fd = (int)syscall(SYS_memfd_create, "launch-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  const char *p = op->s[0];
  size_t left = (size_t)op->n[1];
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      return -e;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  lc_exec_image_fd = fd;
  return 0;
}

/* Decimal of a non-negative or -1 value into buf (12 bytes). */
static const char *dec(char *buf, long v) {
  char *e = buf + 11;
  *e = '\0';
  int neg = v < 0;
  unsigned long u = neg ? (unsigned long)-v : (unsigned long)v;
  do *--e = (char)('0' + u % 10); while ((u /= 10) != 0);
  if (neg) *--e = '-';
  return e;
}

/* The trampoline reports on the sync socket and the exec FIFO, so they must survive its exec:
 * cleared of close-on-exec here, before the seccomp filter loads (SECCOMP), since a profile may
 * refuse fcntl; the trampoline sets it again before its own exec. Until then a startContainer
 * hook's process closes them (steps.c). Returns 0 or -errno. */
int lc_exec_handed_over = 0;
int lc_exec_hand_over(int start_fd) {
  if (lc_exec_image_fd < 0 || lc_exec_handed_over) return 0;
  if (fcntl(lc_sync_fd, F_SETFD, 0) < 0) return -errno;
  if (start_fd >= 0 && fcntl(start_fd, F_SETFD, 0) < 0) return -errno;
  lc_exec_handed_over = 1;
  return 0;
}

int lc_exec_via_image(char *const *cand, char *const *argv, char *const *envp, uint32_t op, int start_fd, uint32_t start_op) {
  size_t ncand = 0, nargs = 0;
  while (cand[ncand]) ncand++;
  while (argv[nargs]) nargs++;
  char b[5][12];
  const char *words[6 + ncand + 1 + nargs + 1];
  size_t k = 0;
  words[k++] = "launch-exec";
  words[k++] = dec(b[0], lc_sync_fd);
  words[k++] = dec(b[1], start_fd);
  words[k++] = dec(b[2], op);
  words[k++] = dec(b[3], start_op);
  words[k++] = dec(b[4], (long)ncand);
  for (size_t i = 0; i < ncand; i++) words[k++] = cand[i];
  words[k++] = "--";
  for (size_t i = 0; i < nargs; i++) words[k++] = argv[i];
  words[k] = NULL;
  /* Without a filter (no SECCOMP op) not done yet. */
  int h = lc_exec_hand_over(start_fd);
  if (h < 0) return h;
  char *const *w = (char *const *)words;
  syscall(SYS_execveat, lc_exec_image_fd, "", w, envp, AT_EMPTY_PATH);
  /* A seccomp filter may allow execve but not execveat: the same file by its /proc name. */
  int err = errno;
  if (err == EPERM || err == ENOSYS || err == EACCES) {
    char path[32] = "/proc/self/fd/";
    char nb[12];
    const char *n = dec(nb, lc_exec_image_fd);
    size_t l = 14;
    while (*n) path[l++] = *n++;
    path[l] = '\0';
    execve(path, w, envp);
  }
  /* The child reports this and exits: close-on-exec no longer matters. */
  return -errno;
}
