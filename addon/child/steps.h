/* Steps of the child's op loop (child.c) that live in their own files. Same rules as child.c:
 * after the clone, raw syscalls and async-signal-safe calls only. */
#ifndef LAUNCH_CHILD_STEPS_H
#define LAUNCH_CHILD_STEPS_H

#include <stdint.h>

#include "common/plan.h"

/* child.c: the sync socket to the parent, and waiting for its LP_MSG_ACK (exits if it is gone). */
extern int lc_sync_fd;
void lc_recv_ack(void);
/* child.c: `create`'s exec FIFO, open for writing from WAIT_START to the exec (-1 before). */
extern int lc_start_fd;

/* console.c: CONSOLE (process.terminal). */
int lc_console(uint32_t index, const struct lc_op *op);

/* steps.c: RUN_HOOK (aux gets the LP_HOOK_* failure) and SESSION_KEYRING. */
int lc_run_hook(const struct lc_op *op, uint32_t *aux);
int lc_session_keyring(const char *name);
/* steps.c: LOOPBACK. */
int lc_loopback(void);

/* execimage.c: EXEC_IMAGE, and the exec of the container's program through that trampoline
 * (CVE-2019-5736); returns only on failure, with -errno. */
extern int lc_exec_image_fd;
int lc_exec_image(const struct lc_op *op);
int lc_exec_hand_over(int start_fd);
extern int lc_exec_handed_over;
int lc_exec_via_image(char *const *cand, char *const *argv, char *const *envp, uint32_t op, int start_fd, uint32_t start_op);

/* seccomp.c: SECCOMP (linux.seccomp, compiled by the parent). */
int lc_seccomp(const struct lc_op *op);

#endif
