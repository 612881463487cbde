/* The front's entry (front.h), built two ways:
 *  - FRONT_SEGMENT: code in a segment of dist/launch, at the ELF entry (scripts/binary/front.mjs
 *    links it at a fixed address and points e_entry here). The dynamic loader has run, libc
 *    has not; falling through restores the stack pointer and %rdx (the loader's exit hook) as
 *    the kernel and ld.so left them, and jumps to Node's own entry, NODE_ENTRY.
 *  - otherwise build/Release/launch-front, which bin/launch runs: falling through execs
 *    `env node bin/launch.js ARGS...`, what bin/launch's `#!/usr/bin/env node` did. */
#include <linux/errno.h>
#include <linux/fcntl.h>

#include "front/front.h"

#ifdef FRONT_SEGMENT
#if !defined(__x86_64__) || !defined(NODE_ENTRY)
#error "the front segment is built for x86_64, with NODE_ENTRY set to Node's e_entry"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
__asm__(".section .text.entry,\"ax\"\n.globl _start\n_start:\n"
        " mov %rdx, %r12\n mov %rsp, %r13\n mov %rsp, %rdi\n and $-16, %rsp\n call front_main\n"
        " mov %r13, %rsp\n mov %r12, %rdx\n movabs $" STR(NODE_ENTRY) ", %rax\n jmp *%rax\n.previous\n");
#elif defined(__x86_64__)
__asm__(".globl _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call front_main\n hlt\n");
#elif defined(__aarch64__)
__asm__(".globl _start\n_start:\n mov x29, #0\n mov x0, sp\n bl front_main\n");
#endif

static void fall_through(int argc, char **argv, char **envp) {
#ifdef FRONT_SEGMENT
  (void)argc, (void)argv, (void)envp; /* return to _start, which jumps to Node */
#else
  /* <checkout>/build/Release/launch-front -> <checkout>/bin/launch.js */
  char self[PATH_MAX_ + 32];
  long n = sys4(__NR_readlinkat, AT_FDCWD, "/proc/self/exe", self, PATH_MAX_);
  const char *tail = "/build/Release/launch-front";
  size_t t = slen(tail);
  if (n <= (long)t || !seq(self + n - t, tail)) quit(127);
  struct buf b = {self, (size_t)n - t, sizeof self - 1, 0};
  puts_(&b, "/bin/launch.js");
  self[b.len] = 0;
  char *words[argc + 3];
  words[0] = "env";
  words[1] = "node";
  words[2] = self;
  for (int i = 1; i <= argc; i++) words[i + 2] = argv[i];
  long r = sys3(__NR_execve, "/usr/bin/env", words, envp);
  char msg[] = "launch: cannot run Node (/usr/bin/env node)\n";
  sys3(__NR_write, 2, msg, sizeof msg - 1);
  quit(r == -ENOENT ? 127 : 126);
#endif
}

/* Node words a failure record of the init's (start.ts initFailure) from the container's
 * state: the same command line, told the record, runs in Node (main.ts FRONT_START_FAILED). */
__attribute__((noreturn)) void hand_start_failure(struct cmd *c, const unsigned char *msg, size_t n) {
  char hex[2 * 64 + 1];
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n && i < 64; i++) hex[2 * i] = digits[msg[i] >> 4], hex[2 * i + 1] = digits[msg[i] & 15];
  hex[2 * (n < 64 ? n : 64)] = 0;
  char *words[c->argc + 3];
  words[0] = c->argv[0];
  words[1] = "__front-start-failed";
  words[2] = hex;
  for (int i = 1; i <= c->argc; i++) words[i + 2] = c->argv[i];
  sys3(__NR_execve, "/proc/self/exe", words, c->envp);
  char text[] = "launch: the container's process did not start\n";
  sys3(__NR_write, 2, text, sizeof text - 1);
  quit(125);
}

/* LAUNCH_NO_FRONT (any value): everything to Node, to compare both paths (front.test.ts). */
static int off(char **envp) {
  for (char **e = envp; *e; e++)
    if (prefix(*e, "LAUNCH_NO_FRONT=")) return 1;
  return 0;
}

/* A closed stdout or stderr (`launch state ID | head -c 1`, `2>&1 | head -1`) is an EPIPE for
 * the front, as it is for Node (which ignores SIGPIPE itself), not a death by SIGPIPE between
 * a verb's steps or before its --log line. Inherited across execve: the runner puts it back
 * before it hands a command line back (monitor/compiled.c), and the container's child, hooks
 * and libuv's children reset every disposition. The kernel's struct sigaction: handler,
 * flags, restorer, mask; SIG_IGN is 1, SIGPIPE 13 on x86_64 and arm64 alike. */
static void ignore_sigpipe(void) {
  unsigned long act[4] = {1, 0, 0, 0};
  sys4(__NR_rt_sigaction, 13, act, 0, 8);
}

__attribute__((used)) void front_main(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
  ignore_sigpipe();
  struct cmd c;
  struct runcmd rc;
  const char *root;
  if (!off(envp) && parse_run(argc, argv, envp, &rc) && (root = state_root(&rc.c))) run_compiled(&rc, root);
  if (!off(envp) && parse_cmd(argc, argv, envp, &c) && (root = state_root(&c))) {
    if (seq(c.verb, "state")) verb_state(&c, root);
    else if (seq(c.verb, "kill")) verb_kill(&c, root);
    else if (seq(c.verb, "start")) verb_start(&c, root);
    else if (seq(c.verb, "delete")) verb_delete(&c, root);
    else if (seq(c.verb, "pause") || seq(c.verb, "resume")) verb_pause(&c, root, seq(c.verb, "pause"));
  }
  fall_through(argc, argv, envp);
}
