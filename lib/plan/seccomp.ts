// linux.seccomp -> the filter the addon compiles with libseccomp (addon/parent/seccomp.cc), and
// the SECCOMP op the child runs. The decisions, as runc makes them:
//   - actions become the kernel's SECCOMP_RET_* values; ERRNO and TRACE carry errnoRet
//     (defaultErrnoRet for the default action), EPERM when absent;
//   - a rule whose action is the default action is left out (libseccomp refuses it, and it
//     changes nothing);
//   - conditions on distinct arguments form one rule (all must hold); when an argument is
//     named twice, every condition becomes a rule of its own (any may hold), since a rule
//     cannot compare one argument twice;
//   - syscall names unknown to this kernel's libseccomp are skipped, with a --debug note;
//   - flags the kernel does not know are dropped with a note; flags runc does not accept are
//     refused.
import { specError } from '../errors.js';
import type { Seccomp } from '../spec/schema.js';

/** SECCOMP_RET_* (linux/seccomp.h), which libseccomp's SCMP_ACT_* equal. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000, KILL_THREAD: 0, TRAP: 0x00030000, ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000, TRACE: 0x7ff00000, LOG: 0x7ffc0000, ALLOW: 0x7fff0000,
} as const;

/** SECCOMP_FILTER_FLAG_* (linux/seccomp.h). */
/** A rule (or the default) hands calls to a listener: the filter then loads before `created`
 * (lib/plan/build.ts), otherwise after `start` released the init. */
export const seccompNotifies = (s: Seccomp): boolean =>
  s.defaultAction === 'SCMP_ACT_NOTIFY' || (s.syscalls ?? []).some((c) => c.action === 'SCMP_ACT_NOTIFY');

export const FILTER_FLAG = { TSYNC: 1, LOG: 2, SPEC_ALLOW: 4, NEW_LISTENER: 8, TSYNC_ESRCH: 16, WAIT_KILLABLE_RECV: 32 } as const;
// What a config may ask for; NEW_LISTENER follows from NOTIFY rules, TSYNC has no meaning for
// a single-threaded init.
const SETTABLE_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_LOG: FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: FILTER_FLAG.WAIT_KILLABLE_RECV,
};

/** The flag names a config may use (`launch features` lists them). */
export const SECCOMP_FLAG_NAMES = Object.keys(SETTABLE_FLAGS);

/** enum scmp_compare of libseccomp. */
const COMPARE: Record<string, number> = {
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4, SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
};

const EPERM = 1;
const U64_MAX = (1n << 64n) - 1n;
// JSON numbers past 2^53 arrive rounded: an all-ones mask reads as 2^64.
const u64 = (v: number): bigint => (v >= 2 ** 64 ? U64_MAX : BigInt(v));

export type Condition = [index: number, op: number, a: bigint, b: bigint];

export interface FilterRule {
  name: string;
  action: number;
  conds: Condition[];
  /** linux.seccomp.syscalls[i].names[k], for errors and notes. */
  configPath: string;
}

export interface SeccompFilter {
  defaultAction: number;
  /** libseccomp's names ("x86_64"), in the config's order. */
  archs: string[];
  rules: FilterRule[];
  /** SECCOMP_FILTER_FLAG_* asked for (NEW_LISTENER included when a rule notifies). */
  flags: number;
  /** Some action is SCMP_ACT_NOTIFY: the listener fd goes to linux.seccomp.listenerPath. */
  notify: boolean;
}

function actionValue(action: Seccomp['defaultAction'], errnoRet: number | undefined, configPath: string): number {
  switch (action) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return SECCOMP_RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return SECCOMP_RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return SECCOMP_RET.TRAP;
    case 'SCMP_ACT_ERRNO':
    case 'SCMP_ACT_TRACE': {
      const value = errnoRet ?? EPERM;
      if (value > 0xffff) throw specError(`must be at most 65535, got ${value}`, { configPath });
      return ((action === 'SCMP_ACT_ERRNO' ? SECCOMP_RET.ERRNO : SECCOMP_RET.TRACE) | value) >>> 0;
    }
    case 'SCMP_ACT_ALLOW':
      return SECCOMP_RET.ALLOW;
    case 'SCMP_ACT_LOG':
      return SECCOMP_RET.LOG;
    case 'SCMP_ACT_NOTIFY':
      return SECCOMP_RET.USER_NOTIF;
  }
}

/** "SCMP_ARCH_X86_64" -> "x86_64", libseccomp's name for it. */
export const archName = (arch: string): string => arch.replace(/^SCMP_ARCH_/, '').toLowerCase();

/** Translate linux.seccomp (already validated by the schema). */
export function seccompFilter(s: Seccomp, notes: string[], base = 'linux.seccomp'): SeccompFilter {
  const defaultAction = actionValue(s.defaultAction, s.defaultErrnoRet, `${base}.defaultErrnoRet`);
  if (s.defaultErrnoRet !== undefined && s.defaultAction !== 'SCMP_ACT_ERRNO' && s.defaultAction !== 'SCMP_ACT_TRACE') {
    throw specError(`only applies to defaultAction SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${s.defaultAction}`, { configPath: `${base}.defaultErrnoRet` });
  }
  let flags = 0;
  (s.flags ?? []).forEach((name, i) => {
    const bit = SETTABLE_FLAGS[name];
    if (bit === undefined) {
      throw specError(`unsupported flag \`${name}\` (supported: ${Object.keys(SETTABLE_FLAGS).join(', ')})`, { configPath: `${base}.flags[${i}]` });
    }
    flags |= bit;
  });
  let notify = s.defaultAction === 'SCMP_ACT_NOTIFY';
  const rules: FilterRule[] = [];
  (s.syscalls ?? []).forEach((call, i) => {
    const at = `${base}.syscalls[${i}]`;
    if (call.errnoRet !== undefined && call.action !== 'SCMP_ACT_ERRNO' && call.action !== 'SCMP_ACT_TRACE') {
      throw specError(`only applies to action SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${call.action}`, { configPath: `${at}.errnoRet` });
    }
    const action = actionValue(call.action, call.errnoRet, `${at}.errnoRet`);
    if (action === defaultAction) return;
    if (call.action === 'SCMP_ACT_NOTIFY') notify = true;
    const conds: Condition[] = (call.args ?? []).map((arg) => [arg.index, COMPARE[arg.op]!, u64(arg.value), u64(arg.valueTwo ?? 0)]);
    const indexes = conds.map((c) => c[0]);
    const sets = new Set(indexes).size === indexes.length ? [conds] : conds.map((c) => [c]);
    call.names.forEach((name, k) => {
      for (const set of sets) rules.push({ name, action, conds: set, configPath: `${at}.names[${k}]` });
    });
  });
  if (notify) flags |= FILTER_FLAG.NEW_LISTENER;
  else if (flags & FILTER_FLAG.WAIT_KILLABLE_RECV) {
    flags &= ~FILTER_FLAG.WAIT_KILLABLE_RECV;
    notes.push(`${base}.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV left out: no rule uses SCMP_ACT_NOTIFY`);
  }
  return { defaultAction, archs: (s.architectures ?? []).map(archName), rules, flags, notify };
}

/** What the addon gives back (native.ts: compileSeccomp). */
export interface Compiled {
  bpf: Uint8Array;
  unknown: number[];
}

export interface SeccompCompiler {
  compile(defaultAction: number, archs: string[], rules: [string, number, Condition[]][]): Compiled;
  flagsSupported(flags: number): number;
}

const FLAG_NAMES = Object.fromEntries(Object.entries(SETTABLE_FLAGS).map(([k, v]) => [v, k]));

/** Compile the filter; errors name the config path of the arch or rule libseccomp refused. */
export function compileFilter(f: SeccompFilter, c: SeccompCompiler, notes: string[], base = 'linux.seccomp'): { bpf: Uint8Array; flags: number } {
  let out: Compiled;
  try {
    out = c.compile(f.defaultAction, f.archs, f.rules.map((r) => [r.name, r.action, r.conds]));
  } catch (err) {
    const e = err as { what?: string; index?: number; errno?: number; detail?: string };
    if (e.what === 'library') {
      throw specError(`needs libseccomp (install the libseccomp2 package): ${e.detail ?? 'libseccomp.so.2 not found'}`, { configPath: base });
    }
    if (e.what === 'arch') {
      throw specError('architecture unknown to this libseccomp', { configPath: `${base}.architectures[${e.index}]`, errno: e.errno });
    }
    if (e.what === 'rule' && e.index !== undefined && f.rules[e.index]) {
      const r = f.rules[e.index]!;
      throw specError(`libseccomp refused the rule for \`${r.name}\``, { configPath: r.configPath, errno: e.errno });
    }
    throw specError('cannot compile the seccomp filter', { configPath: base, errno: e.errno, cause: err });
  }
  for (const i of out.unknown) notes.push(`${f.rules[i]!.configPath}: syscall \`${f.rules[i]!.name}\` is unknown to libseccomp here: skipped`);
  const supported = c.flagsSupported(f.flags);
  for (let bit = 1; bit <= f.flags; bit <<= 1) {
    if (!(f.flags & bit) || supported & bit) continue;
    if (bit === FILTER_FLAG.NEW_LISTENER) throw specError('SCMP_ACT_NOTIFY needs a kernel with seccomp user notification (5.0 or newer)', { configPath: base });
    notes.push(`${base}.flags: ${FLAG_NAMES[bit] ?? bit} is not supported by this kernel: left out`);
  }
  return { bpf: out.bpf, flags: f.flags & supported };
}
