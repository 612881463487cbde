/* Plan validation, decoding and the clone, in plain C: used by the addon (addon/parent/spawn.cc,
 * in the Node process) and by the native runner of compiled bundles (addon/monitor/compiled.c,
 * a static program). Everything here runs before the clone, in the parent: allocation is fine.
 * The child's side is addon/child/child.c. */
#ifndef LAUNCH_DECODE_H
#define LAUNCH_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lp_decoded {
  uint8_t *buf; /* a copy of the wire buffer (8-aligned: malloc), which the ops point into */
  struct lc_op *ops;
  uint32_t nops;
  void **owned; /* lists and rewritten strings, freed by lp_free */
  size_t nowned, capowned;
};

/* Optional rewriting of every string and list item (not blobs) while decoding: returns a
 * string of its own (malloc'ed, kept until lp_free) or the argument unchanged. The runner fills
 * its placeholders this way; NULL for none. */
typedef const char *(*lp_rewrite)(const char *s, void *ctx);

/* Validates the buffer (magic, version, sizes, known op codes, offsets in bounds,
 * NUL-terminated strings, list counts) and decodes it. 0 on success; -1 with `err` set to a
 * sentence naming the op index and slot. Free with lp_free either way. */
int lp_decode(const uint8_t *data, size_t len, struct lp_decoded *out, char *err, size_t errlen, lp_rewrite rw, void *ctx);
void lp_free(struct lp_decoded *d);

/* The op table, for the JS encoder's agreement test. */
struct lp_opinfo {
  const char *name;
  uint32_t code;
  const char *sig;
};
extern const struct lp_opinfo lp_optable[];
extern const size_t lp_noptable;

struct lp_spawned {
  int pid, pidfd, sync_fd;
  int err;             /* errno of a failed socketpair/setns/clone3 */
  const char *syscall; /* which */
};

/* clone3 with `clone_flags` (CLONE_NEW* bits) plus CLONE_PIDFD; the child runs the plan. When
 * pidns_fd >= 0 the child is created in that pid namespace. */
struct lp_spawned lp_spawn(const struct lp_decoded *plan, uint64_t clone_flags, int pidns_fd);

#ifdef __cplusplus
}
#endif
#endif
