// Shared declarations of the monitor program (monitor.c, relay.c, hooks.c): a static C
// executable that replaces launch's Node process while a foreground `run` waits. It runs in
// launch's own process (same pid, same credentials: root or an ordinary user) after execve;
// the container's init is its child.
#pragma once

#include <stddef.h>
#include <termios.h>

#define MON_STATUS_FAILED 125  // launch's "launch failed" code (docs: exit codes)

// Print `launch: monitor: <what>` and exit 125.
__attribute__((noreturn, format(printf, 1, 2))) void mon_fail(const char *fmt, ...);

// One poststop hook as the OCI spec gives it (config.md, "POSIX-platform Hooks").
struct mon_hook {
  const char *config;  // the config path for warnings: hooks.poststop[0]
  long timeout;        // seconds; 0 = none
  const char *path;
  char **argv;         // NULL-terminated
  char **envp;         // NULL-terminated, or NULL for the monitor's environ
};

// hooks.c. A hook's failure is a warning on stderr; nothing here stops the cleanup.
void hook_run(const struct mon_hook *h, const char *state);
void remove_path(const char *path);
void remove_below(const char *dir, int depth);
void remove_state_dir(const char *dir);

// relay.c: the terminal between launch's fds 0/1 and the container's pty master.
struct relay {
  int master;
  int in_open;     // fd 0 is still read
  int out_open;    // the master still gives output
  int out_broken;  // fd 1 refused a write: drop the rest of the output
  int have_t0, have_t1;
  struct termios t0, t1;  // fd 0 and fd 1 as they were, restored at the end
  size_t in_len, in_off;  // input read from fd 0 and not yet written to the master
  char in[4096];
};

void relay_start(struct relay *r, int master);
void relay_resize(struct relay *r);
void relay_input(struct relay *r);
void relay_master(struct relay *r, short revents);
void relay_drain(struct relay *r, int ms);
void relay_restore(struct relay *r);
