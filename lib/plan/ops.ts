// The op table, mirrored from addon/common/plan.h (LP_OPS). test/native/addon.test.ts checks
// that both sides agree, so a change to one without the other fails CI.
//   n number, s string, o optional string, L list (its count goes in the next slot, '#'),
//   b blob (bytes, 8-byte aligned; their length goes in the next slot, '#'), - unused
export const OPS = {
  SYNC: { code: 1, sig: 'n-----' },
  SETNS: { code: 2, sig: 'sn----' },
  UNSHARE: { code: 3, sig: 'n-----' },
  MOUNT_ROOT_PROPAGATION: { code: 4, sig: 'n-----' },
  ROOTFS: { code: 5, sig: 's-----' },
  MOUNT: { code: 6, sig: 'osonon' },
  MKDIRS: { code: 7, sig: 'sn----' },
  MKNOD: { code: 8, sig: 'snn---' },
  SYMLINK: { code: 9, sig: 'ss----' },
  MASK: { code: 10, sig: 's-----' },
  READONLY: { code: 11, sig: 's-----' },
  PIVOT: { code: 12, sig: 'n-----' },
  REMOUNT_ROOT_RO: { code: 13, sig: '------' },
  SETHOSTNAME: { code: 14, sig: 's-----' },
  SETDOMAINNAME: { code: 15, sig: 's-----' },
  WRITE_FILE: { code: 16, sig: 'ss----' },
  RLIMIT: { code: 17, sig: 'nnn---' },
  CAPBSET: { code: 18, sig: 'nn----' },
  USER: { code: 19, sig: 'nnnL#-' },
  CAPS: { code: 20, sig: 'nnnn--' },
  UMASK: { code: 21, sig: 'n-----' },
  CHDIR: { code: 22, sig: 's-----' },
  NO_NEW_PRIVS: { code: 23, sig: '------' },
  SETSID: { code: 24, sig: '------' },
  EXEC: { code: 26, sig: 'L#L#L#' },
  SET_PDEATHSIG: { code: 27, sig: 'n-----' },
  MOUNT_SETATTR: { code: 28, sig: 'snnn--' },
  FORK_INIT: { code: 29, sig: 'n-----' },
  WAIT_START: { code: 30, sig: 'ns----' },
  PRESERVE_FDS: { code: 31, sig: 'n-----' },
  CONSOLE: { code: 32, sig: 'nnnn--' },
  RUN_HOOK: { code: 33, sig: 'sL#L#n' },
  SESSION_KEYRING: { code: 34, sig: 's-----' },
  EXEC_IMAGE: { code: 36, sig: 'b#----' },
  SECCOMP: { code: 35, sig: 'b#n---' },
  LOOPBACK: { code: 37, sig: '------' },
  BECOME_ROOT: { code: 38, sig: '------' },
  MOUNT_FS: { code: 39, sig: 'ssonnn' },
  MASK_AT: { code: 40, sig: 'ns----' },
  READONLY_AT: { code: 41, sig: 'ns----' },
  CHROOT: { code: 45, sig: 's-----' },
} as const;

export type OpName = keyof typeof OPS;

/** lp_op.flags */
export const OPF = { OPTIONAL: 1, MKDIR: 2, MKFILE: 4, IN_ROOT: 8, DUMPABLE: 16, TREE: 32 } as const;

/** Sync stages the child asks the parent for (lp_msg.aux of LP_MSG_SYNC). */
export const STAGE = { USERMAP: 1, READY: 2, CREATED: 3, HOOKS: 4 } as const;

export const MSG = { SYNC: 1, ERROR: 2, ACK: 3, ABORT: 4, PID: 5, CONSOLE: 6, SECCOMP: 7 } as const;

/** struct lp_msg (addon/common/plan.h): the 16-byte record of the sync socket (and of the exec
 * FIFO, where a created init reports a failure after `start`). */
export const MSG_SIZE = 16;

export interface MsgRecord {
  type: number;
  op: number;
  err: number;
  aux: number;
}

export function decodeMsg(buf: Buffer): MsgRecord {
  return { type: buf.readUInt32LE(0), op: buf.readUInt32LE(4), err: buf.readInt32LE(8), aux: buf.readUInt32LE(12) };
}

/** RUN_HOOK failures, in lp_msg.aux (LP_HOOK_*): the kind in the high bits, the exit status or
 * signal in the low 16. aux 0: lp_msg.err is the errno of the fork or the hook's execve. */
export const HOOK_FAIL = { EXITED: 0x10000, SIGNALED: 0x20000, TIMEDOUT: 0x30000 } as const;

/** CONSOLE arg0 flags (LP_CONSOLE_*). */
export const CONSOLE_FLAGS = { MOUNT: 1 } as const;

/** An argument: a number (or bigint for 64-bit masks), a string, null for an absent optional
 * string, a list of strings, or bytes (a blob slot). */
export type Arg = number | bigint | string | null | readonly string[] | Uint8Array;

/** Where an op came from, so a failure in the child can be reported against the config. */
export interface OpOrigin {
  configPath?: string;
  /** What the op does, in the error line's words: "mount `proc` on `/proc`". */
  what: string;
  file?: string;
}

export interface Op {
  op: OpName;
  args: Arg[];
  flags?: number;
  origin: OpOrigin;
}
