/* Steps of the child's op loop (child.c) that live in their own files. Same rules as child.c:
 * after the clone, raw syscalls and async-signal-safe calls only. */
#ifndef LAUNCH_CHILD_STEPS_H
#define LAUNCH_CHILD_STEPS_H

#include <stdint.h>

#include "common/plan.h"

/* child.c: the sync socket to the parent, and waiting for its LP_MSG_ACK (exits if it is gone). */
extern int lc_sync_fd;
void lc_recv_ack(void);

/* console.c: CONSOLE (process.terminal). */
int lc_console(uint32_t index, const struct lc_op *op);

/* steps.c: RUN_HOOK (aux gets the LP_HOOK_* failure) and SESSION_KEYRING. */
int lc_run_hook(const struct lc_op *op, uint32_t *aux);
int lc_session_keyring(const char *name);

/* seccomp.c: SECCOMP (linux.seccomp, compiled by the parent). */
int lc_seccomp(const struct lc_op *op);

#endif
