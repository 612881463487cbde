/* launch-exec: the last step of a container start, as its own tiny program (CVE-2019-5736).
 *
 * Until its execve, launch's child is a copy of launch's own process, and the kernel resolves
 * the container program's `#!/proc/self/exe` (or /proc/<pid>/exe opened from inside) to the
 * binary that process runs: launch itself, which the container could then hold and write
 * over. So the child does not exec the container's program itself: it execs this program from
 * a sealed memfd (child.c, EXEC with an EXEC_IMAGE), and this program execs the container's.
 * At that moment /proc/self/exe names the sealed memfd: nothing to overwrite. (runc does the
 * same with runc-dmz.)
 *
 *   launch-exec SYNC_FD START_FD OP START_OP NCAND CAND... -- ARGV...   (envp: the program's)
 *
 * It makes itself non-dumpable (an exec made it dumpable again) and marks SYNC_FD and
 * START_FD close-on-exec again (the child cleared that to hand them
 * over: their closing at the exec is how launch learns the exec succeeded), then tries the
 * candidates as execvp(3) would; if none runs it reports the errno as child.c's fail() does,
 * on both, and exits 125. A filter that refuses both fcntl and close_range makes it fail
 * closed: it never execs with launch's socket open.
 *
 * Freestanding (no libc): static, a few KB, so copying it into a memfd costs nothing. */
#include <asm/unistd.h>
#include <linux/close_range.h>
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/prctl.h>
#include <stddef.h>
#include <stdint.h>

#include "common/plan.h"

#define MSG_NOSIGNAL 0x4000

#include "common/rawsys.h"

#if defined(__x86_64__)
__asm__(".globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call tmain\n hlt\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n mov x29, #0\n mov x0, sp\n bl tmain\n");
#endif

static long num(const char *s) {
  long v = 0, sign = 1;
  if (*s == '-') sign = -1, s++;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v * sign;
}

static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static void __attribute__((noreturn)) quit(int sync_fd, int start_fd, uint32_t op, uint32_t start_op, int err, uint32_t aux) {
  struct lp_msg m = {LP_MSG_ERROR, op, err, aux};
  sys6(__NR_sendto, sync_fd, (long)&m, sizeof m, MSG_NOSIGNAL, 0, 0);
  if (start_fd >= 0) {
    m.op = op - start_op;
    sys3(__NR_write, start_fd, &m, sizeof m);
  }
  sys3(__NR_exit_group, 125, 0, 0);
  for (;;) {}
}

__attribute__((used)) void tmain(long *sp) {
  long argc = sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  /* An exec makes a process dumpable again: until the next one, the container must not reach
   * our fds (launch's sync socket among them) through /proc, nor ptrace us. The name says
   * whose process this still is. */
  sys3(__NR_prctl, PR_SET_DUMPABLE, 0, 0);
  sys3(__NR_prctl, PR_SET_NAME, "launch:exec", 0);
  if (argc < 7) sys3(__NR_exit_group, 125, 0, 0);
  int sync_fd = (int)num(argv[1]), start_fd = (int)num(argv[2]);
  uint32_t op = (uint32_t)num(argv[3]), start_op = (uint32_t)num(argv[4]);
  long ncand = num(argv[5]);
  char **cand = argv + 6;
  char **prog = cand + ncand;
  if (ncand < 1 || 6 + ncand >= argc || !same(prog[0], "--")) quit(sync_fd, start_fd, op, start_op, EINVAL, 0);
  prog++;
  for (int fd = sync_fd; ; fd = start_fd) {
    long r = sys3(__NR_fcntl, fd, F_SETFD, FD_CLOEXEC);
    /* The container's seccomp filter is loaded: it may refuse fcntl but not close_range. */
    if (r < 0) r = sys3(__NR_close_range, fd, fd, CLOSE_RANGE_CLOEXEC);
    if (r < 0) quit(sync_fd, start_fd, op, start_op, (int)-r, 0);
    if (fd == start_fd || start_fd < 0) break;
  }
  int err = ENOENT;
  uint32_t failed = 0;
  for (uint32_t i = 0; i < (uint32_t)ncand; i++) {
    long r = sys3(__NR_execve, cand[i], prog, envp);
    /* As execvp(3): keep searching past a missing file, remember a permission problem. */
    if (r == -ENOENT || r == -ENOTDIR || r == -ESTALE || r == -ENODEV || r == -ETIMEDOUT) continue;
    err = (int)-r;
    failed = i;
    if (r != -EACCES) break;
  }
  quit(sync_fd, start_fd, op, start_op, err, failed);
}
