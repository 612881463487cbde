/* The command lines the front takes, and the state root (front.h). The rule is the other way
 * round from a parser's: take only what is certainly read the same as lib/cli/fastpath.ts and
 * yargs read it, and leave everything else (help, a repeated or unknown flag, --debug, `--`,
 * a value that looks like a flag, an odd path) to Node, which also words every usage error. */
#include <asm/stat.h>
#include <linux/fcntl.h>
#include <linux/stat.h>

#include "front/front.h"

/* A path Node's path.join leaves as it is: no empty, `.` or `..` part, no trailing slash;
 * printable ASCII only (so the error line and log need no escapes but `"` and `\`). */
static int clean_path(const char *p) {
  size_t n = slen(p);
  if (n == 0 || n > 2048) return 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 || p[i] > 0x7e) return 0;
  const char *part = p[0] == '/' ? p + 1 : p;
  for (;;) {
    const char *end = part;
    while (*end && *end != '/') end++;
    size_t len = (size_t)(end - part);
    if (len == 0 || (len == 1 && part[0] == '.') || (len == 2 && part[0] == '.' && part[1] == '.')) return 0;
    if (!*end) return 1;
    part = end + 1;
  }
}

/* lib/state/store.ts validateId. */
static int valid_id(const char *id) {
  size_t n = slen(id);
  if (n == 0 || n > 1024 || id[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = id[i];
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' || ch == '-' || ch == '.';
    if (!ok) return 0;
  }
  return 1;
}

/* A global flag with a value (`--root DIR`, `--root=DIR`): 1 taken, 0 not this flag, -1 Node's. */
static int valued(const char *name, char **argv, int argc, int *i, const char **out) {
  const char *w = argv[*i];
  size_t n = slen(name);
  if (!prefix(w, name) || (w[n] && w[n] != '=')) return 0;
  if (*out) return -1; /* repeated: yargs makes an array of it */
  if (w[n] == '=') {
    *out = w + n + 1;
  } else {
    /* fastpath.ts takesNext: a value that starts with `-` is not taken; Node says so. */
    if (*i + 1 >= argc || argv[*i + 1][0] == '-') return -1;
    *out = argv[++*i];
  }
  return **out ? 1 : -1;
}

/* A switch followed by `true` or `false`: yargs takes that word as the switch's value
 * (flags.ts takesNext), so `delete --force true` names no container and `kill --all false X`
 * signals X alone. Read here as an id, it deleted or killed a container Node leaves alone:
 * such a command line is Node's. */
static int switch_value(char **argv, int argc, int i) {
  return i + 1 < argc && (seq(argv[i + 1], "true") || seq(argv[i + 1], "false"));
}

int parse_cmd(int argc, char **argv, char **envp, struct cmd *c) {
  memset(c, 0, sizeof *c);
  c->argc = argc;
  c->argv = argv;
  c->envp = envp;
  const char *words[3] = {0, 0, 0};
  int nwords = 0;
  const char *format = 0;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    int r;
    if ((r = valued("--root", argv, argc, &i, &c->root)) || (r = valued("--log-format", argv, argc, &i, &format)) ||
        (r = valued("--log", argv, argc, &i, &c->log))) {
      if (r < 0) return 0;
      continue;
    }
    /* kill's and delete's own switches, after the verb only (yargs reads them there). */
    if ((seq(w, "--all") || seq(w, "-a")) && !c->all && nwords > 0) {
      if (switch_value(argv, argc, i)) return 0;
      c->all = 1;
      continue;
    }
    if ((seq(w, "--force") || seq(w, "-f")) && !c->force && nwords > 0) {
      if (switch_value(argv, argc, i)) return 0;
      c->force = 1;
      continue;
    }
    if (w[0] == '-' || nwords == 3) return 0;
    words[nwords++] = w;
  }
  if (format) {
    if (seq(format, "json")) c->log_json = 1;
    else if (!seq(format, "text")) return 0;
  }
  if (nwords < 2) return 0;
  c->verb = words[0];
  c->id = words[1];
  if (seq(c->verb, "kill")) {
    c->signal = nwords == 3 ? words[2] : "SIGTERM";
    if (c->force) return 0;
  } else if (!(seq(c->verb, "state") || seq(c->verb, "start") || seq(c->verb, "delete") || seq(c->verb, "pause") || seq(c->verb, "resume")) ||
             nwords != 2 || c->all) {
    return 0;
  }
  if (c->force && !seq(c->verb, "delete")) return 0;
  if (!valid_id(c->id)) return 0;
  if (c->root && !clean_path(c->root)) return 0;
  if (c->log && !clean_path(c->log)) return 0;
  return 1;
}

static const char *env(char **envp, const char *name) {
  size_t n = slen(name);
  for (; *envp; envp++)
    if (prefix(*envp, name) && (*envp)[n] == '=') return *envp + n + 1;
  return 0;
}

/* lib/host.ts inUserNamespace: anything but the initial user namespace's one full line. */
static int in_user_namespace(void) {
  char t[256];
  long fd = sys4(__NR_openat, AT_FDCWD, "/proc/self/uid_map", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 1;
  long n = sys3(__NR_read, fd, t, sizeof t - 1);
  sys1(__NR_close, fd);
  if (n <= 0) return 1;
  t[n] = 0;
  /* Words of the first line, and whether another line follows. */
  const char *want[3] = {"0", "0", "4294967295"};
  char *p = t;
  for (int k = 0; k < 3; k++) {
    while (*p == ' ' || *p == '\t') p++;
    char *s = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
    char save = *p;
    *p = 0;
    int same = seq(s, want[k]);
    *p = save;
    if (!same) return 1;
  }
  while (*p == ' ' || *p == '\t' || *p == '\n') p++;
  return *p != 0;
}

/* lib/state/store.ts defaultRoot. */
const char *state_root(struct cmd *c) {
  if (c->root) return c->root;
  long uid = sys6(__NR_getuid, 0, 0, 0, 0, 0, 0);
  if (uid == 0 && !in_user_namespace()) return "/run/launch";
  struct buf b = {c->rootbuf, 0, sizeof c->rootbuf - 1, 0};
  const char *xdg = env(c->envp, "XDG_RUNTIME_DIR");
  if (xdg && *xdg) {
    /* path.join normalises; the front takes only a value it would leave as it is. */
    if (!clean_path(xdg)) return 0;
    puts_(&b, xdg);
    puts_(&b, "/launch");
  } else {
    puts_(&b, "/run/user/");
    putu(&b, (unsigned long)uid);
    b.p[b.len] = 0;
    struct stat st;
    long r = sys4(__NR_newfstatat, AT_FDCWD, b.p, &st, AT_SYMLINK_NOFOLLOW);
    if (r == 0 && S_ISDIR(st.st_mode) && (long)st.st_uid == uid && !(st.st_mode & 022)) {
      puts_(&b, "/launch");
    } else {
      b.len = 0;
      puts_(&b, "/tmp/launch-");
      putu(&b, (unsigned long)uid);
    }
  }
  if (b.over) return 0;
  b.p[b.len] = 0;
  return b.p;
}

/* `[GLOBAL] run|create [FLAGS] ID` with only the flags the native runner replays
 * (addon/monitor/compiled.c), each once, values as parse_cmd takes them; --debug too (the
 * runner says hit, Node says why not). 1 taken (and `r` filled), 0 Node's. */
int parse_run(int argc, char **argv, char **envp, struct runcmd *r) {
  memset(r, 0, sizeof *r);
  r->c.argc = argc;
  r->c.argv = argv;
  r->c.envp = envp;
  const char *format = 0, *verb = 0;
  int debug = 0;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i];
    int k;
    if (!verb) {
      if ((k = valued("--root", argv, argc, &i, &r->c.root)) || (k = valued("--log-format", argv, argc, &i, &format)) ||
          (k = valued("--log", argv, argc, &i, &r->c.log))) {
        if (k < 0) return 0;
        continue;
      }
      if (seq(w, "--debug") && !debug) {
        if (switch_value(argv, argc, i)) return 0;
        debug = r->debug = 1;
        continue;
      }
      if (!seq(w, "run") && !seq(w, "create")) return 0;
      verb = w;
      continue;
    }
    if (r->c.id) return 0; /* nothing after the id (yargs would read it; the runner does not) */
    if ((k = valued("--bundle", argv, argc, &i, &r->bundle)) || (k = valued("-b", argv, argc, &i, &r->bundle)) ||
        (k = valued("--pid-file", argv, argc, &i, &r->pid_file))) {
      if (k < 0) return 0;
      continue;
    }
    int run = seq(verb, "run");
    int *flag = (seq(w, "-d") || seq(w, "--detach")) && run ? &r->detach : seq(w, "--keep") && run ? &r->keep
              : seq(w, "--no-pivot") ? &r->no_pivot : seq(w, "--no-new-keyring") ? &r->no_new_keyring : 0;
    if (flag) {
      if (*flag || switch_value(argv, argc, i)) return 0;
      *flag = 1;
      continue;
    }
    if (w[0] == '-') return 0;
    r->c.id = w;
  }
  if (!verb || !r->c.id || !valid_id(r->c.id)) return 0;
  if (r->bundle && !clean_path(r->bundle) && !seq(r->bundle, ".")) return 0;
  if (r->pid_file && !clean_path(r->pid_file)) return 0;
  if (format && !seq(format, "json") && !seq(format, "text")) return 0;
  if (r->c.root && !clean_path(r->c.root)) return 0;
  if (r->c.log && !clean_path(r->c.log)) return 0;
  r->c.verb = verb;
  return 1;
}
