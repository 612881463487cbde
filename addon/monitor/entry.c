// Reading a compiled bundle and checking that it still holds (compiled.h). An entry is
// code-like data: it is used only when its directory and file are the user's and nobody
// else's to write (the state root's rules), it parses whole, its every field is known, and
// every fact it lists is still true of this host; the plan itself is then validated as the
// addon validates it before any clone (common/decode.c). Anything else is a miss, never a guess.
// Man pages: open(2) (O_NOFOLLOW), fstat(2), access(2), uname(2), getgroups(2).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/fnv.h"
#include "monitor/compiled.h"

size_t lookup_string(const struct run_cmd *c, char *out, size_t cap) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return 0;
  int n = snprintf(out, cap, "%u%c%s%c%s%c%s%c%s%c%s", (unsigned)getuid(), 0, c->verb, 0, c->root, 0, cwd, 0, c->bundle, 0, c->flags);
  return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

void entry_name(const char *lookup, size_t len, char out[17]) { lc_fnv1a64(lookup, len, out); }

// Only the user's, and nobody else may write it (store.ts checkRoot).
static int private_to_me(const struct stat *st) { return st->st_uid == getuid() && !(st->st_mode & 022); }

static int miss(char *why, size_t len, const char *fmt, const char *arg) {
  snprintf(why, len, fmt, arg);
  return -1;
}

// A whole file into malloc'ed memory; -1 unreadable, -2 larger than `cap`.
static long slurp(const char *path, char **out, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t size = 0, alloc = 4096;
  char *buf = malloc(alloc);
  for (;;) {
    if (!buf) break;
    if (size == alloc) {
      if (alloc >= cap) {
        free(buf);
        close(fd);
        return -2;
      }
      char *n = realloc(buf, alloc *= 2);
      if (!n) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = n;
    }
    ssize_t r = read(fd, buf + size, alloc - size);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r < 0) {
        free(buf);
        buf = NULL;
      }
      break;
    }
    size += (size_t)r;
  }
  close(fd);
  if (!buf) return -1;
  *out = buf;
  return (long)size;
}

static const char *kind_of(const char *path, int follow) {
  struct stat st;
  if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) return "none";
  return S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other";
}

static int fact_file(const struct step *s) {
  if (!s->b || s->blen < 1) return 0;
  char *data = NULL;
  long n = slurp(s->a, &data, COMPILED_MAX_BYTES);
  int ok;
  if (s->b[0] == '0') ok = s->blen == 1 && n == -1;
  else ok = s->b[0] == '1' && n >= 0 && (size_t)n == s->blen - 1 && memcmp(data, s->b + 1, s->blen - 1) == 0;
  free(data);
  return ok;
}

static int fact_access(const struct step *s) {
  // "mode\0result" after the path.
  if (!s->b) return 0;
  const char *r = memchr(s->b, 0, s->blen);
  if (!r || r + 2 != s->b + s->blen) return 0;
  char *end;
  long mode = strtol(s->b, &end, 10);
  if (end != r || mode < 0 || mode > 7) return 0;
  int ok = access(s->a, (int)mode) == 0;
  return r[1] == (ok ? '1' : '0');
}

static int fact_stat(const struct step *s) {
  if (!s->b) return 0;
  struct stat st;
  char have[160];
  if (stat(s->a, &st) < 0) snprintf(have, sizeof have, "none");
  else
    snprintf(have, sizeof have, "%llu:%llu:%lld:%lld%09ld:%lld%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  // Node prints nanoseconds since the epoch as one number: no leading zeros of the seconds.
  return strlen(have) == s->blen && memcmp(have, s->b, s->blen) == 0;
}

static int fact_env(const struct step *s, char **envp) {
  const char *eq = memchr(s->a, '=', s->alen);
  size_t name = eq ? (size_t)(eq - s->a) : s->alen;
  for (char **e = envp; *e; e++)
    if (strncmp(*e, s->a, name) == 0 && (*e)[name] == '=') return eq && strcmp(*e, s->a) == 0;
  return !eq;
}

static int fact_uname(const struct step *s) {
  struct utsname u;
  if (uname(&u) < 0) return 0;
  char have[3 * 65 + 3];
  int n = snprintf(have, sizeof have, "%s%c%s%c%s", u.release, 0, u.version, 0, u.machine);
  return n > 0 && (size_t)n == s->alen + 1 + s->blen && memcmp(have, s->a, (size_t)n) == 0;
}

static int fact_ids(const struct step *s) {
  gid_t groups[256];
  int n = getgroups(256, groups);
  if (n < 0) return 0;
  char have[256 * 12 + 32];
  size_t len = (size_t)snprintf(have, sizeof have, "%u %u", (unsigned)getuid(), (unsigned)getgid());
  int has_egid = 0;
  for (int i = 0; i < n; i++) {
    len += (size_t)snprintf(have + len, sizeof have - len, " %u", (unsigned)groups[i]);
    has_egid |= groups[i] == getegid();
  }
  // Node's process.getgroups() adds the effective gid when the kernel's list lacks it.
  if (!has_egid) len += (size_t)snprintf(have + len, sizeof have - len, " %u", (unsigned)getegid());
  return len == s->alen && memcmp(have, s->a, len) == 0;
}

// A fact of the host: 1 still true, 0 changed, -1 not a fact.
static int check_fact(const struct step *s, char **envp) {
  if (!strcmp(s->key, "file")) return fact_file(s);
  if (!strcmp(s->key, "kind") || !strcmp(s->key, "lkind"))
    return s->b && !strcmp(kind_of(s->a, s->key[0] == 'k'), s->b) && strlen(s->b) == s->blen;
  if (!strcmp(s->key, "access")) return fact_access(s);
  if (!strcmp(s->key, "stat")) return fact_stat(s);
  if (!strcmp(s->key, "env")) return fact_env(s, envp);
  if (!strcmp(s->key, "uname")) return fact_uname(s);
  if (!strcmp(s->key, "ids")) return fact_ids(s);
  return -1;
}

// One `KEY LEN\nVALUE\n` field at *p; 0 at a malformed one.
static int next_field(char **p, char *end, struct step *s) {
  char *sp = *p;
  while (sp < end && *sp >= 'a' && *sp <= 'z') sp++;
  while (sp < end && (*sp == '-' || (*sp >= 'a' && *sp <= 'z'))) sp++;
  if (sp == *p || sp >= end || *sp != ' ') return 0;
  *sp = 0;
  s->key = *p;
  char *n = sp + 1, *nl = n;
  size_t v = 0;
  while (nl < end && *nl >= '0' && *nl <= '9' && nl - n < 8) v = v * 10 + (size_t)(*nl++ - '0');
  if (nl == n || nl >= end || *nl != '\n' || (*n == '0' && nl - n > 1)) return 0;
  char *value = nl + 1;
  if ((size_t)(end - value) < v + 1 || value[v] != '\n') return 0;
  value[v] = 0;
  s->a = value;
  char *nul = memchr(value, 0, v);
  s->alen = nul ? (size_t)(nul - value) : v;
  s->b = nul ? nul + 1 : NULL;
  s->blen = nul ? v - s->alen - 1 : 0;
  *p = value + v + 1;
  return 1;
}

static int is(const struct step *s, const char *key) { return !strcmp(s->key, key); }

int entry_load(const struct run_cmd *c, const char *file, const char *lookup, size_t lookup_len, struct entry *e, char *why, size_t whylen) {
  memset(e, 0, sizeof *e);
  struct stat st;
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/%s", c->root, COMPILED_DIR);
  if (lstat(c->root, &st) < 0) return miss(why, whylen, "no cache yet (no state root `%s`)", c->root);
  if (!S_ISDIR(st.st_mode) || !private_to_me(&st)) return miss(why, whylen, "the state root `%s` is not the user's alone", c->root);
  if (lstat(dir, &st) < 0) return miss(why, whylen, "no cache yet `%s`", dir);
  if (!S_ISDIR(st.st_mode) || !private_to_me(&st)) return miss(why, whylen, "the cache `%s` is not the user's alone", dir);
  int fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return miss(why, whylen, "no entry `%s`", file);
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !private_to_me(&st) || st.st_size > COMPILED_MAX_BYTES || st.st_size < 1) {
    close(fd);
    return miss(why, whylen, "the entry `%s` is not a file of the user's alone, or too large", file);
  }
  e->mem = malloc((size_t)st.st_size + 1);
  ssize_t got = e->mem ? read(fd, e->mem, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) return miss(why, whylen, "the entry `%s` cannot be read whole", file);
  e->len = (size_t)got;
  size_t m = strlen(COMPILED_MAGIC);
  if (e->len < m || memcmp(e->mem, COMPILED_MAGIC, m)) return miss(why, whylen, "the entry `%s` is of another version", file);
  // The last field, `end`, is the checksum of every byte before it (format.ts sealEntry): checked
  // first, on the bytes as read, since parsing writes NULs into them.
  static const char end_key[] = "end 16\n";
  size_t tail = sizeof end_key - 1 + 16 + 1;
  if (e->len < m + tail || memcmp(e->mem + e->len - tail, end_key, sizeof end_key - 1) || e->mem[e->len - 1] != '\n')
    return miss(why, whylen, "the entry `%s` is truncated", file);
  char sum[17];
  lc_fnv1a64(e->mem, e->len - tail, sum);
  if (memcmp(sum, e->mem + e->len - 17, 16)) return miss(why, whylen, "the entry `%s` is damaged (its checksum differs)", file);
  char *p = e->mem + m, *end = e->mem + e->len - tail;
  struct step s;
  // First the command line and caller it was made for, compared whole (it holds NULs).
  if (!next_field(&p, end, &s) || !is(&s, "lookup")) return miss(why, whylen, "the entry `%s` is malformed", file);
  if (s.alen + (s.b ? 1 + s.blen : 0) != lookup_len || memcmp(s.a, lookup, lookup_len))
    return miss(why, whylen, "the entry `%s` was made for another command line (a hash collision)", file);
  // The `stat` facts say that the launch which made the entry is unchanged, not that it is the
  // launch running now: another one beside it (an older or newer version, a checkout and a
  // binary) shares the state root, and its Node may decide otherwise. So the executable that
  // started this runner (the front, by fd) must be one of the files they name.
  // A `stat` fact's value starts `DEV:INO:`, and check_fact has just found it equal to the
  // file's own stat: comparing that text with ours needs no second stat per fact.
  struct stat self;
  if (fstat(c->front_fd, &self) < 0) return miss(why, whylen, "cannot tell which launch runs (%s)", strerror(errno));
  char me[48];
  size_t melen = (size_t)snprintf(me, sizeof me, "%llu:%llu:", (unsigned long long)self.st_dev, (unsigned long long)self.st_ino);
  int made_by_me = 0;
  int phase = 0;  // 0 facts, 1 program
  while (p < end) {
    if (!next_field(&p, end, &s)) return miss(why, whylen, "the entry `%s` is malformed", file);
    if (phase == 0 && is(&s, "plan")) {
      phase = 1;
      if (!made_by_me) return miss(why, whylen, "the entry `%s` was made by another launch", file);
    }
    if (phase == 0) {
      int ok = check_fact(&s, c->envp);
      if (ok < 0) return miss(why, whylen, "the entry has an unknown field `%s`", s.key);
      if (!ok) {
        snprintf(why, whylen, "%s `%s` changed", s.key, s.a);
        return -1;
      }
      if (is(&s, "stat") && s.b && s.blen > melen && !memcmp(s.b, me, melen)) made_by_me = 1;
      continue;
    }
    if (is(&s, "plan")) {
      if (e->plan) return miss(why, whylen, "the entry `%s` has two plans", file);
      e->plan = (const uint8_t *)s.a;
      e->plan_len = s.alen + (s.b ? 1 + s.blen : 0);
    } else if (is(&s, "clone-flags")) {
      char *x;
      e->clone_flags = strtoull(s.a, &x, 10);
      if (*x || !*s.a) return miss(why, whylen, "the entry `%s` is malformed", file);
    } else if (is(&s, "state")) {
      e->state = s.a;
      if (s.b) return miss(why, whylen, "the entry `%s` is malformed", file);
    } else if (is(&s, "front")) {
      if (e->nfront == COMPILED_MAX_FRONT || !s.b) return miss(why, whylen, "the entry `%s` is malformed", file);
      e->front[e->nfront++] = s;
    } else if (is(&s, "cg-enable") || is(&s, "cg") || is(&s, "cg-write") || is(&s, "fifo") || is(&s, "idmap-write") || is(&s, "idmap-helper") ||
               is(&s, "oom") || is(&s, "join") || is(&s, "ns")) {
      if (e->nsteps == COMPILED_MAX_STEPS) return miss(why, whylen, "the entry `%s` has too many steps", file);
      e->steps[e->nsteps++] = s;
    } else {
      return miss(why, whylen, "the entry has an unknown field `%s`", s.key);
    }
  }
  if (!e->plan || !e->state) return miss(why, whylen, "the entry `%s` is malformed", file);
  return 0;
}
