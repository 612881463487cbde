/* The plan wire format, shared by the native parent (which validates and decodes it) and the
 * child (which walks the decoded form). lib/plan/encode.ts writes the same layout; the table
 * below is exported to JS by the addon so a unit test can prove both sides agree.
 *
 * Layout (all integers little-endian, as the host):
 *   header  struct lp_header
 *   ops     nops * struct lp_op
 *   strings strings_len bytes; every string is NUL-terminated
 * An argument slot of an op holds either a number, or a string offset into the string table
 * (LP_NONE for "absent"), or - for a list - an offset in one slot and a count in the next:
 * count NUL-terminated strings stored back to back.
 * See docs/plan-format.md. */
#ifndef LAUNCH_PLAN_H
#define LAUNCH_PLAN_H

#include <stdint.h>

#define LP_MAGIC 0x484e434cu /* "LCNH" */
#define LP_VERSION 1u
#define LP_NONE 0xffffffffu
#define LP_NARGS 6
#define LP_MAX_OPS 4096
#define LP_MAX_LIST 65536
#define LP_MOUNT_SLOTS 8 /* MOUNT_FS, MASK_AT, READONLY_AT: slots 1..8 */

struct lp_header {
  uint32_t magic;
  uint32_t version;
  uint32_t length;      /* whole buffer */
  uint32_t nops;
  uint32_t strings_off; /* from the start of the buffer */
  uint32_t strings_len;
  uint32_t reserved[2];
};

struct lp_op {
  uint32_t code;
  uint32_t flags;
  uint64_t arg[LP_NARGS];
};

/* Flags of an op (lp_op.flags). */
#define LPF_OPTIONAL 1u   /* ENOENT on the target is not an error (maskedPaths, readonlyPaths) */
#define LPF_MKDIR 2u      /* create the mount target as a directory first */
#define LPF_MKFILE 4u     /* create the mount target as an empty file first */
#define LPF_IN_ROOT 8u    /* the path (or target) is resolved inside the container root */
#define LPF_DUMPABLE 16u  /* SYNC: be dumpable while the parent acts (it writes our /proc files) */
#define LPF_TREE 32u      /* MOUNT: src is /proc/self/fd/N of a detached tree (open_tree): move_mount it */

/* Argument signatures: one letter per slot.
 *   n  number          s  required string      o  optional string (LP_NONE allowed)
 *   L  list (offset; the next slot, written '#', holds the count)   -  unused
 *   b  blob: bytes at an 8-byte aligned offset of the string table; the next slot ('#') holds
 *      their length (SECCOMP's BPF program, which may contain NULs)
 * X(name, code, signature, what the child does) */
#define LP_OPS(X)                                                                              \
  X(SYNC, 1, "n-----", "ask the parent to act, wait for its ack (arg0: stage)")                \
  X(SETNS, 2, "sn----", "join the namespace at path (arg1: CLONE_NEW* type)")                  \
  X(UNSHARE, 3, "n-----", "unshare(arg0)")                                                     \
  X(MOUNT_ROOT_PROPAGATION, 4, "n-----", "mount(NULL, \"/\", NULL, arg0): propagation flags, MS_REC included when recursive")         \
  X(ROOTFS, 5, "s-----", "bind the rootfs onto itself and open it as the root for later ops")  \
  X(MOUNT, 6, "osonon", "mount src on target (in root) type flags data propagation")           \
  X(MKDIRS, 7, "sn----", "mkdir -p inside the root with mode arg1")                            \
  X(MKNOD, 8, "snn---", "mknod inside the root: mode arg1 (type|perm), dev arg2, if absent")   \
  X(SYMLINK, 9, "ss----", "symlink arg0 at path arg1 inside the root, replacing a file")       \
  X(MASK, 10, "s-----", "hide path: /dev/null over a file, read-only tmpfs over a dir")        \
  X(READONLY, 11, "s-----", "bind path onto itself read-only")                                 \
  X(PIVOT, 12, "n-----", "pivot_root into the root and detach the old one; arg0: MS_MOVE + chroot instead (--no-pivot)")                    \
  X(REMOUNT_ROOT_RO, 13, "------", "remount / read-only")                                      \
  X(SETHOSTNAME, 14, "s-----", "sethostname")                                                  \
  X(SETDOMAINNAME, 15, "s-----", "setdomainname")                                              \
  X(WRITE_FILE, 16, "ss----", "write arg1 to the existing file arg0 (sysctl)")                 \
  X(RLIMIT, 17, "nnn---", "prlimit resource arg0 soft arg1 hard arg2")                         \
  X(CAPBSET, 18, "nn----", "drop from the bounding set every cap not in mask arg0, up to arg1") \
  X(USER, 19, "nnnL#-", "setgroups(list, if arg2) setresgid(arg1) setresuid(arg0), keep caps") \
  X(CAPS, 20, "nnnn--", "capset effective arg0 permitted arg1 inheritable arg2; ambient arg3") \
  X(UMASK, 21, "n-----", "umask")                                                              \
  X(CHDIR, 22, "s-----", "chdir, resolved inside the root")                                    \
  X(NO_NEW_PRIVS, 23, "------", "prctl(PR_SET_NO_NEW_PRIVS)")                                  \
  X(SETSID, 24, "------", "setsid")                                                            \
  X(EXEC, 26, "L#L#L#", "execve the first candidate that exists: candidates, argv, envp")     \
  X(SET_PDEATHSIG, 27, "n-----", "prctl(PR_SET_PDEATHSIG, arg0)")                             \
  X(MOUNT_SETATTR, 28, "snnn--", "mount_setattr on target (in root): set arg1, clear arg2, recursive arg3") \
  X(FORK_INIT, 29, "n-----", "fork; the child goes on as pid 1 of the new pid namespace; arg0: pdeathsig") \
  X(WAIT_START, 30, "ns----", "open FIFO arg1 below dir fd arg0 for writing (blocks until `start`), write a byte") \
  X(PRESERVE_FDS, 31, "n-----", "let EXEC keep fds 3..3+arg0-1 open (runc --preserve-fds)")    \
  X(CONSOLE, 32, "nnnn--", "pty of the container's /dev/ptmx as ctty and stdio; master to the parent (arg0 LP_CONSOLE_*, rows, cols, owner uid)") \
  X(RUN_HOOK, 33, "sL#L#n", "fork and execve hook path (argv, envp), state on stdin from fd (arg5 low 32 bits), wait; timeout in s (arg5 high 32 bits, 0 none)") \
  X(SESSION_KEYRING, 34, "s-----", "join a new session keyring named arg0 and make it searchable by its user (as runc)") \
  X(EXEC_IMAGE, 36, "b#----", "put the trampoline image arg0 in a sealed memfd; EXEC then execs the program through it (CVE-2019-5736)") \
  X(SECCOMP, 35, "b#n---", "mark fds for the exec, then seccomp(SET_MODE_FILTER, flags arg2) with the BPF program arg0; with NEW_LISTENER the listener fd goes to the parent (LP_MSG_SECCOMP), then wait for its ack") \
  X(LOOPBACK, 37, "------", "bring up `lo` of the (new) network namespace, as runc does") \
  X(BECOME_ROOT, 38, "------", "setresgid(0) and setresuid(0) in the new user namespace, once it is mapped") \
  X(MOUNT_FS, 39, "ssonnn", "fsopen/fsmount a new type arg1 mount (flags arg3, data arg2) on directory arg0 (in root, no symlinks), propagation arg4; keep its fd in slot arg5 (0: none)") \
  X(MASK_AT, 40, "ns----", "mask path arg1 beneath the mount of slot arg0 (no symlinks)") \
  X(READONLY_AT, 41, "ns----", "bind path arg1 beneath the mount of slot arg0 onto itself read-only (no symlinks)") \
  X(CHROOT, 45, "s-----", "chroot into arg0 and chdir to its /: the root without a mount namespace (nothing mounted)")
/* Code 25 (TTY: a pty opened on the host) is retired: its slave was a node of the host's devpts,
 * invisible in the container's own (`tty` said "not a tty"). */

/* RUN_HOOK failures: lp_msg.aux of the LP_MSG_ERROR record (lp_msg.err is 0 unless aux is 0,
 * when err is the errno of the fork or of the hook's execve). */
#define LP_HOOK_EXITED 0x10000u   /* | exit status */
#define LP_HOOK_SIGNALED 0x20000u /* | signal number */
#define LP_HOOK_TIMEDOUT 0x30000u

/* CONSOLE arg0 flags. */
#define LP_CONSOLE_MOUNT 1u /* bind the slave over /dev/console (a new container, as runc) */

enum lp_code {
#define LP_ENUM(name, code, sig, doc) LP_##name = code,
  LP_OPS(LP_ENUM)
#undef LP_ENUM
  LP_CODE_MAX
};

/* Records on the sync socket (SOCK_SEQPACKET, one record per message). */
#define LP_MSG_SYNC 1u  /* child -> parent: stage = aux; wait for LP_MSG_ACK */
#define LP_MSG_ERROR 2u /* child -> parent: op index failed with errno; the child then exits */
#define LP_MSG_ACK 3u   /* parent -> child */
#define LP_MSG_ABORT 4u /* parent -> child: give up, exit */
#define LP_MSG_PID 5u   /* child -> parent: the container's init is pid aux (FORK_INIT) */
#define LP_MSG_CONSOLE 6u /* child -> parent: CONSOLE's pty master rides along (SCM_RIGHTS); aux: pty number */
#define LP_MSG_SECCOMP 7u /* child -> parent: the seccomp notify fd rides along (SCM_RIGHTS); wait for LP_MSG_ACK */

struct lp_msg {
  uint32_t type;
  uint32_t op;  /* op index, for LP_MSG_ERROR */
  int32_t err;  /* errno */
  uint32_t aux; /* stage, or detail (EXEC: index of the candidate that failed) */
};

/* Decoded form, built by the parent before clone so the child never parses anything. */
struct lc_op {
  uint32_t code;
  uint32_t flags;
  const char *s[LP_NARGS];    /* strings (and blobs), NULL when absent or not a string slot */
  uint64_t n[LP_NARGS];       /* numbers (and list counts) */
  char *const *list[LP_NARGS]; /* NULL-terminated arrays for list slots */
};

struct lc_plan {
  uint32_t nops;
  const struct lc_op *ops;
  int sync_fd;
};

#ifdef __cplusplus
extern "C" {
#endif
/* The child's entry point after clone. Never returns. */
void lc_child_main(const struct lc_plan *plan) __attribute__((noreturn));
#ifdef __cplusplus
}
#endif

#endif
