/* Strings, numbers and the error line, for the front (front.h). */
#include <linux/errno.h>
#include <linux/fcntl.h>
#include <linux/time.h>

#include "front/front.h"

/* gcc may call these for struct copies and zeroing even in freestanding code. */
void *memcpy(void *d, const void *s, size_t n) {
  char *o = d;
  const char *i = s;
  while (n--) *o++ = *i++;
  return d;
}
void *memset(void *d, int c, size_t n) {
  char *o = d;
  while (n--) *o++ = (char)c;
  return d;
}

size_t slen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
int seq(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}
int prefix(const char *s, const char *p) {
  while (*p && *s == *p) s++, p++;
  return *p == 0;
}

void put(struct buf *b, const char *s, size_t n) {
  if (b->over || n > b->cap - b->len) {
    b->over = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}
void puts_(struct buf *b, const char *s) { put(b, s, slen(s)); }
void putu(struct buf *b, unsigned long v) {
  char t[24];
  int i = sizeof t;
  do t[--i] = (char)('0' + v % 10), v /= 10;
  while (v);
  put(b, t + i, sizeof t - i);
}

long parse_dec(const char *s, size_t n) {
  if (n == 0 || n > 18 || (n > 1 && s[0] == '0')) return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

void nap_ms(long ms) {
  struct timespec t = {ms / 1000, ms % 1000 * 1000000};
  sys2(__NR_nanosleep, &t, 0);
}

__attribute__((noreturn)) void quit(int code) {
  sys1(__NR_exit_group, code);
  for (;;) {}
}

static void put2(struct buf *b, unsigned v) {
  char t[2] = {(char)('0' + v / 10 % 10), (char)('0' + v % 10)};
  put(b, t, 2);
}

/* new Date().toISOString(): 2026-12-05T14:30:00.123Z (days to civil date: H. Hinnant's). */
static void put_iso_time(struct buf *b) {
  struct timespec ts = {0, 0};
  sys2(__NR_clock_gettime, CLOCK_REALTIME, &ts);
  long secs = ts.tv_sec, days = secs / 86400, rem = secs % 86400;
  long z = days + 719468, era = z / 146097, doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  putu(b, (unsigned long)(y + (m <= 2)));
  puts_(b, "-");
  put2(b, (unsigned)m);
  puts_(b, "-");
  put2(b, (unsigned)d);
  puts_(b, "T");
  put2(b, (unsigned)(rem / 3600));
  puts_(b, ":");
  put2(b, (unsigned)(rem / 60 % 60));
  puts_(b, ":");
  put2(b, (unsigned)(rem % 60));
  puts_(b, ".");
  unsigned ms = (unsigned)(ts.tv_nsec / 1000000);
  char t[3] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
  put(b, t, 3);
  puts_(b, "Z");
}

/* JSON.stringify of a string the front words: only ASCII without control characters reaches
 * here (parse_cmd leaves any other root to Node), so `"` and `\` are all there is to escape. */
static void put_json_string(struct buf *b, const char *s, size_t n) {
  puts_(b, "\"");
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"' || s[i] == '\\') puts_(b, "\\");
    put(b, s + i, 1);
  }
  puts_(b, "\"");
}

/* lib/cli/log.ts writeLog: best effort, as there. */
static void write_log(struct cmd *c, const char *msg, size_t n) {
  if (!c->log) return;
  char mem[PATH_MAX_ * 2 + 256];
  struct buf b = {mem, 0, sizeof mem, 0};
  if (c->log_json) {
    puts_(&b, "{\"level\":\"error\",\"msg\":");
    put_json_string(&b, msg, n);
    puts_(&b, ",\"time\":\"");
    put_iso_time(&b);
    puts_(&b, "\"}\n");
  } else {
    puts_(&b, "time=\"");
    put_iso_time(&b);
    puts_(&b, "\" level=error msg=");
    put_json_string(&b, msg, n);
    puts_(&b, "\n");
  }
  if (b.over) return;
  long fd = sys4(__NR_openat, AT_FDCWD, c->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return;
  sys3(__NR_write, fd, b.p, b.len);
  sys1(__NR_close, fd);
}

/* lib/errors.ts formatError for a LaunchError with a context, a message and maybe a file. */
__attribute__((noreturn)) void fail(struct cmd *c, const char *what, const char *file) {
  char mem[PATH_MAX_ * 2 + 256];
  struct buf b = {mem, 0, sizeof mem, 0};
  puts_(&b, "launch: ");
  size_t from = b.len;
  puts_(&b, c->verb);
  puts_(&b, " ");
  puts_(&b, c->id);
  puts_(&b, ": ");
  puts_(&b, what);
  if (file) {
    puts_(&b, " `");
    puts_(&b, file);
    puts_(&b, "`");
  }
  size_t end = b.len;
  puts_(&b, "\n");
  if (!b.over) {
    sys3(__NR_write, 2, b.p, b.len);
    write_log(c, b.p + from, end - from);
  }
  quit(125);
}
