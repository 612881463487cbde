/* launch's native front: the hot verbs (state, start, kill, delete, pause, resume) run here, before Node starts, from
 * the record `create` wrote (lib/state/front-record.ts). It decides nothing new: anything it
 * cannot do exactly as the Node path would (an unknown flag, a record of another version, an
 * error it does not word itself) falls through to Node *before* it has done anything, so both
 * paths behave the same. Freestanding (no libc, no writable globals): in the single executable
 * it runs at the ELF entry, before Node's libc is initialised (scripts/binary/front.mjs).
 * test/integration/front.test.ts runs every case through both paths and compares the bytes. */
#ifndef LAUNCH_FRONT_H
#define LAUNCH_FRONT_H
#include <stddef.h>
#include <stdint.h>

#include "common/rawsys.h"

/* Must equal FRONT_RECORD_VERSION in lib/state/front-record.ts. */
#define FRONT_RECORD_MAGIC "launch-front 1\n"
#define PATH_MAX_ 4096

/* An output line or file text, built on the stack. Overflow marks it failed, never truncates. */
struct buf {
  char *p;
  size_t len, cap;
  int over;
};

void put(struct buf *b, const char *s, size_t n);
void puts_(struct buf *b, const char *s);
void putu(struct buf *b, unsigned long v);
size_t slen(const char *s);
int seq(const char *a, const char *b);
int prefix(const char *s, const char *p);
/* Decimal digits only, no sign, no leading zero unless "0"; -1 when not such. */
long parse_dec(const char *s, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

/* What a command line asks, when it is one the front takes. */
struct cmd {
  int argc;
  char **argv, **envp;
  const char *verb; /* "state", "start", "kill", "delete", "pause", "resume" */
  const char *id;
  const char *signal; /* kill: as typed, "SIGTERM" when not given */
  int all;            /* kill --all */
  int force;          /* delete --force */
  const char *root;   /* --root, or NULL */
  const char *log;    /* --log, or NULL */
  int log_json;       /* --log-format json */
  char rootbuf[PATH_MAX_];
};

/* `run` and `create` for the native runner of compiled bundles (addon/monitor/compiled.c). */
struct runcmd {
  struct cmd c; /* verb, id, root, log, argv, envp */
  const char *bundle, *pid_file;
  int detach, keep, no_pivot, no_new_keyring, debug;
};
int parse_run(int argc, char **argv, char **envp, struct runcmd *r);
/* Exec the runner with this command line; returns only to fall through (nothing done). */
void run_compiled(struct runcmd *r, const char *root);

/* 1 when the front takes this command line (and fills `c`), 0 when Node must read it. */
int parse_cmd(int argc, char **argv, char **envp, struct cmd *c);
/* The state root, as lib/state/store.ts defaultRoot; NULL when only Node can tell. */
const char *state_root(struct cmd *c);

/* The container's record. Strings point into the caller's buffer. */
struct record {
  long pid;
  unsigned long started;
  const char *frozen; /* freezer.state (v1) or cgroup.events (v2) to read, or NULL */
  int frozen_v2;
  int cgroup;         /* the container has a cgroup (kill --all must read it: Node's) */
  int start_native;   /* start needs nothing the front does not do (no poststart hooks) */
  int delete_native;  /* nor delete (no poststop hooks, no systemd unit) */
  int pause_native;   /* pause and resume: a freezer, a cgroup launch made */
  const char *procs;  /* its cgroup.procs */
  const char *ns_pid; /* the container's pid namespace (readlink), or "": all in it are its */
  const char *rmdirs; /* delete: the container's own cgroups, one a line, parents first */
  const char *parents; /* then the parents launch made for them */
  const char *head;   /* the OCI state's lines before "status" */
  size_t head_len;
  const char *tail;   /* its lines after "pid", closing brace included */
  size_t tail_len;
};

/* 1 parsed, 0 not a record the front takes. */
int parse_record(char *text, size_t len, struct record *r);

/* The container, as verbs.c reads it. */
enum status { CREATED, RUNNING, PAUSED, STOPPED };
/* As launch state prints it. */
const char *status_name(enum status s);
/* store.ts checkRoot: 1 trusted or absent, 0 only Node words what is wrong with it. */
int root_ok(const char *root);
/* The state directory, locked (store.ts lock); -1 to fall through; exits on ENOENT. */
long lock_container(struct cmd *c, const char *root);
/* The record: 1 read (into mem, RECORD_MAX bytes), 0 none (and Node's words for that are
 * printed when it has no state either), -1 fall through. */
#define RECORD_MAX 65536
int load_record(struct cmd *c, const char *root, char *mem, struct record *r);
/* The same without words: 1, 0 or -1. */
int read_record(const char *root, const char *id, char *mem, struct record *r);
int alive(const struct record *r);
long signal_init(const struct record *r, int sig);
void nap_ms(long ms);
int freezer_says(const struct record *r, int want);
/* members.ts belongs: `pid` (or an ancestor) is in the pid namespace `ns` (pause.c). */
int belongs(const char *ns, long pid);
/* The pids of the record's cgroup.procs (PROCS_MAX at most: a pid and its newline are two
 * bytes at least), in the file's order; -1 when it cannot be read whole or holds what is not
 * a pid (pause.c). */
#define PROCS_MAX (RECORD_MAX / 2)
long read_procs(const struct record *r, int *pids);
long read_file(const char *file, char *mem, size_t cap);
enum status status_of(struct cmd *c, const char *root, const struct record *r);
/* ROOT/ID/NAME into out (PATH_MAX_ bytes); 0 when too long. */
int state_path(char *out, const char *root, const char *id, const char *name);

/* Verbs: return only to fall through (nothing done yet); otherwise they exit. */
void verb_state(struct cmd *c, const char *root);
void verb_kill(struct cmd *c, const char *root);
void verb_start(struct cmd *c, const char *root);
void verb_delete(struct cmd *c, const char *root);
void verb_pause(struct cmd *c, const char *root, int freeze);

/* The error line Node would print for `c`, to stderr and --log; then exit 125. */
__attribute__((noreturn)) void fail(struct cmd *c, const char *what, const char *file);
__attribute__((noreturn)) void quit(int code);

/* Fall through to Node with the same words, but a failure record of start's FIFO to word. */
__attribute__((noreturn)) void hand_start_failure(struct cmd *c, const unsigned char *msg, size_t n);

#endif
