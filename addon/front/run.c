/* `run` and `create` go to the native runner of compiled bundles (addon/monitor/compiled.c,
 * the monitor program's second role), which executes a start Node compiled before, or hands
 * the same command line back to this executable with LAUNCH_COMPILED set: then the front
 * lets Node have it (entry.c). The runner is a static program with libc: in a checkout it is
 * build/Release/launch-monitor beside this front; in the single executable it is carried in
 * the front's own segment (scripts/binary/front.mjs) and run from a sealed memfd. */
#include <linux/fcntl.h>
#include <linux/memfd.h>

#include "front/front.h"

#ifdef FRONT_SEGMENT
#ifndef RUNNER_PATH
#error "the front segment carries the runner: front.mjs sets RUNNER_PATH to build/Release/launch-monitor"
#endif
/* The runner's ELF image, read-only in the segment (front.ld puts .rodata in .text). */
__asm__(".section .rodata.runner,\"a\"\n.balign 16\n.globl runner_image\nrunner_image:\n.incbin \"" RUNNER_PATH "\"\n"
        "runner_end:\n.balign 8\n.globl runner_size\nrunner_size:\n.quad runner_end - runner_image\n.previous\n");
extern const unsigned char runner_image[];
extern const unsigned long runner_size;
#endif

static long open_runner(void) {
#ifdef FRONT_SEGMENT
  if (!runner_size) return -1;
  long fd = sys3(__NR_memfd_create, "launch-runner", MFD_CLOEXEC | MFD_ALLOW_SEALING, 0);
  if (fd < 0) return -1;
  for (unsigned long off = 0; off < runner_size;) {
    long w = sys3(__NR_write, fd, runner_image + off, runner_size - off);
    if (w <= 0) {
      sys1(__NR_close, fd);
      return -1;
    }
    off += (unsigned long)w;
  }
  /* Sealed: nothing can change the program between here and its exec (as execMonitor). */
  sys3(__NR_fcntl, fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
  return fd;
#else
  char self[PATH_MAX_ + 32];
  long n = sys4(__NR_readlinkat, AT_FDCWD, "/proc/self/exe", self, PATH_MAX_);
  const char *tail = "/launch-front";
  size_t t = slen(tail);
  if (n <= (long)t || !seq(self + n - t, tail)) return -1;
  struct buf b = {self, (size_t)n - t, sizeof self - 1, 0};
  puts_(&b, "/launch-monitor");
  if (b.over) return -1;
  self[b.len] = 0;
  return sys4(__NR_openat, AT_FDCWD, self, O_PATH | O_CLOEXEC, 0);
#endif
}

void run_compiled(struct runcmd *r, const char *root) {
  char **envp = r->c.envp;
  for (char **e = envp; *e; e++)
    if (prefix(*e, "LAUNCH_COMPILED=")) return; /* the runner handed it back: Node's */
  long runner = open_runner();
  if (runner < 0) return;
  /* The executable to come back to: this one, by fd, so a binary replaced meanwhile is not
   * the one that finishes the command. Inherited by the runner (no O_CLOEXEC). */
  long self = sys4(__NR_openat, AT_FDCWD, "/proc/self/exe", O_PATH, 0);
  if (self < 0) {
    sys1(__NR_close, runner);
    return;
  }
  char fdnum[24], flags[32];
  struct buf b = {fdnum, 0, sizeof fdnum - 1, 0};
  putu(&b, (unsigned long)self);
  fdnum[b.len] = 0;
  struct buf f = {flags, 0, sizeof flags - 1, 0};
  const char *names[5] = {"d", " k", " p", " n", " f"};
  int values[5] = {r->detach, r->keep, r->no_pivot, r->no_new_keyring, r->pid_file != 0};
  for (int i = 0; i < 5; i++) {
    puts_(&f, names[i]);
    putu(&f, (unsigned long)values[i]);
  }
  flags[f.len] = 0;
  int argc = r->c.argc;
  char *words[argc + 12];
  int n = 0;
  words[n++] = "launch";
  words[n++] = "--compiled";
  words[n++] = fdnum;
  words[n++] = (char *)r->c.verb;
  words[n++] = (char *)root;
  words[n++] = (char *)r->c.id;
  words[n++] = (char *)(r->bundle ? r->bundle : ".");
  words[n++] = (char *)(r->pid_file ? r->pid_file : "");
  words[n++] = flags;
  words[n++] = r->debug ? "1" : "0";
  words[n++] = "--";
  for (int i = 0; i < argc; i++) words[n++] = r->c.argv[i];
  words[n] = 0;
  sys6(__NR_execveat, runner, (long)"", (long)words, (long)envp, AT_EMPTY_PATH, 0);
  sys1(__NR_close, self);
  sys1(__NR_close, runner);
}
