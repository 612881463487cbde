// The native runner of compiled bundles (docs/compiled-bundles.md): a `run` or `create` whose
// entry lib/compiled wrote (lib/compiled/format.ts) runs here without Node. The front
// (addon/front/run.c) execs this program for the command lines it takes; whatever the runner
// cannot do exactly as Node would (no entry, a fact that changed, any failure) goes back to
// Node with the same command line, after undoing what the runner did.
// Context: launch's own process (root or an ordinary user), a static program; every signal
// blocked until the container runs.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Must equal COMPILED_MAGIC in lib/compiled/format.ts.
#define COMPILED_MAGIC "launch-compiled 1\n"
#define COMPILED_DIR ".compiled"
#define COMPILED_MAX_BYTES (1u << 20)
#define COMPILED_MAX_STEPS 512
#define COMPILED_MAX_FRONT 32

// The command line as the front read it (front/run.c run_argv).
struct run_cmd {
  int front_fd;        // the executable to fall back to (O_PATH)
  const char *verb;    // "run" or "create"
  const char *root, *id, *bundle, *pid_file, *flags;
  int detach, keep, debug;
  char **argv;         // the original command line, for the fall-back
  char **envp;
};

struct step {
  const char *key;
  const char *a, *b;   // the value, split at its first NUL (b NULL when it has none)
  size_t alen, blen;
};

struct entry {
  char *mem;
  size_t len;
  const uint8_t *plan;
  size_t plan_len;
  uint64_t clone_flags;
  struct step steps[COMPILED_MAX_STEPS];
  size_t nsteps;
  const char *state;   // template
  struct step front[COMPILED_MAX_FRONT];
  size_t nfront;
};

// entry.c: read `file` and check every fact; 0 usable, else -1 and `why` says what missed.
int entry_load(const struct run_cmd *c, const char *file, const char *lookup, size_t lookup_len, struct entry *e, char *why, size_t whylen);
// The lookup string (format.ts lookupString) and the entry's file name (entryName).
size_t lookup_string(const struct run_cmd *c, char *out, size_t cap);
void entry_name(const char *lookup, size_t len, char out[17]);

// compiled.c
int compiled_main(int argc, char **argv, char **envp);
// monitor.c: wait for the container, then tear down (its command-line grammar).
int monitor_main(int argc, char **argv);
