/* The record `create` leaves for the front (lib/state/front-record.ts writes it): a magic
 * line, then fields `KEY LEN\nVALUE\n`, LEN being VALUE's bytes, so that values may hold any
 * byte. A field the front does not know is a record it does not take. */
#include "front/front.h"

static const char *field(char **p, char *end, const char *key, size_t *len) {
  size_t k = slen(key);
  if ((size_t)(end - *p) < k + 1 || !prefix(*p, key) || (*p)[k] != ' ') return 0;
  char *n = *p + k + 1, *nl = n;
  while (nl < end && *nl != '\n') nl++;
  long v = parse_dec(n, (size_t)(nl - n));
  if (nl == end || v < 0 || (size_t)(end - nl - 1) < (size_t)v + 1) return 0;
  char *value = nl + 1;
  if (value[v] != '\n') return 0;
  value[v] = 0; /* values are used as C strings too (paths) */
  *len = (size_t)v;
  *p = value + v + 1;
  return value;
}

static int number(char **p, char *end, const char *key, long *out) {
  size_t n;
  const char *v = field(p, end, key, &n);
  if (!v) return 0;
  *out = parse_dec(v, n);
  return *out >= 0;
}

int parse_record(char *text, size_t len, struct record *r) {
  memset(r, 0, sizeof *r);
  size_t m = slen(FRONT_RECORD_MAGIC), n;
  if (len < m || !prefix(text, FRONT_RECORD_MAGIC)) return 0;
  char *p = text + m, *end = text + len;
  long pid, started, v2, cgroup, start_native, delete_native, pause_native;
  if (!number(&p, end, "pid", &pid) || pid < 1 || !number(&p, end, "started", &started)) return 0;
  r->pid = pid;
  r->started = (unsigned long)started;
  if (!number(&p, end, "cgroup", &cgroup) || !number(&p, end, "frozen-v2", &v2) || !number(&p, end, "start-native", &start_native) ||
      !number(&p, end, "delete-native", &delete_native))
    return 0;
  r->delete_native = delete_native != 0;
  if (!number(&p, end, "pause-native", &pause_native)) return 0;
  r->pause_native = pause_native != 0;
  r->cgroup = cgroup != 0;
  r->frozen_v2 = v2 != 0;
  r->start_native = start_native != 0;
  const char *frozen = field(&p, end, "frozen", &n);
  if (!frozen) return 0;
  r->frozen = n ? frozen : 0;
  if (!(r->procs = field(&p, end, "procs", &n)) || !(r->ns_pid = field(&p, end, "ns-pid", &n))) return 0;
  if (!(r->rmdirs = field(&p, end, "rmdirs", &n)) || !(r->parents = field(&p, end, "parents", &n))) return 0;
  if (!(r->head = field(&p, end, "head", &r->head_len))) return 0;
  if (!(r->tail = field(&p, end, "tail", &r->tail_len))) return 0;
  return p == end;
}
