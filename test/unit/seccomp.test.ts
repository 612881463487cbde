// linux.seccomp -> filter (lib/plan/seccomp.ts) and where buildPlan puts the SECCOMP op, with a
// fake compiler (the real one is test/native/seccomp.test.ts's).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../../lib/host.js';
import { buildExecPlan, buildPlan } from '../../lib/plan/build.js';
import { FILTER_FLAG, type SeccompCompiler, compileFilter, seccompFilter } from '../../lib/plan/seccomp.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Seccomp, Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

const specErr = (fn: () => unknown) => thrown(fn, 'spec');
const filter = (s: Seccomp, notes: string[] = []) => seccompFilter(s, notes);

describe('seccompFilter', () => {
  it('turns actions into SECCOMP_RET values; ERRNO and TRACE carry errnoRet, EPERM by default', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [
        { names: ['a'], action: 'SCMP_ACT_ALLOW' },
        { names: ['b'], action: 'SCMP_ACT_ERRNO' },
        { names: ['c'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        { names: ['d'], action: 'SCMP_ACT_TRACE', errnoRet: 7 },
        { names: ['e'], action: 'SCMP_ACT_KILL' },
        { names: ['f'], action: 'SCMP_ACT_KILL_PROCESS' },
        { names: ['g'], action: 'SCMP_ACT_TRAP' },
        { names: ['h'], action: 'SCMP_ACT_LOG' },
      ],
    });
    expect(f.defaultAction).toBe(0x00050000 + 38);
    expect(f.rules.map((r) => [r.name, r.action])).toEqual([
      ['a', 0x7fff0000], ['b', 0x00050001], ['c', 0x0005000d], ['d', 0x7ff00007], ['e', 0], ['f', 0x80000000], ['g', 0x00030000], ['h', 0x7ffc0000],
    ]);
    expect(f.flags).toBe(0);
    expect(f.notify).toBe(false);
  });

  it('leaves out rules with the default action, and gives each name its own rule and config path', () => {
    const f = filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW' }, { names: ['y', 'z'], action: 'SCMP_ACT_KILL' }] });
    expect(f.rules.map((r) => [r.name, r.configPath])).toEqual([['y', 'linux.seccomp.syscalls[1].names[0]'], ['z', 'linux.seccomp.syscalls[1].names[1]']]);
  });

  it('conditions on distinct arguments form one rule; an argument named twice splits them (any may hold)', () => {
    const f = filter({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['and'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 2, op: 'SCMP_CMP_NE' }] },
        { names: ['or'], action: 'SCMP_ACT_KILL', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }, { index: 0, value: 255, valueTwo: 9, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['big'], action: 'SCMP_ACT_KILL', args: [{ index: 2, value: 2 ** 64, op: 'SCMP_CMP_LE' }] },
      ],
    });
    expect(f.rules.map((r) => [r.name, r.conds])).toEqual([
      ['and', [[0, 4, 1n, 0n], [1, 1, 2n, 0n]]],
      ['or', [[0, 4, 8n, 0n]]],
      ['or', [[0, 7, 255n, 9n]]],
      ['big', [[2, 3, (1n << 64n) - 1n, 0n]]], // JSON's rounding of 2^64-1
    ]);
  });

  it('NOTIFY asks for a listener; WAIT_KILLABLE_RECV without it is left out with a note', () => {
    const n = filter({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/l', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'], syscalls: [{ names: ['m'], action: 'SCMP_ACT_NOTIFY' }] });
    expect(n.notify).toBe(true);
    expect(n.flags).toBe(FILTER_FLAG.NEW_LISTENER | FILTER_FLAG.WAIT_KILLABLE_RECV);
    const notes: string[] = [];
    const w = filter({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }, notes);
    expect(w.flags).toBe(FILTER_FLAG.LOG);
    expect(notes).toEqual(['linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV left out: no rule uses SCMP_ACT_NOTIFY']);
  });

  it('refuses what runc refuses, naming the config path', () => {
    expect(specErr(() => filter({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_TSYNC'] }))).toMatchObject({ configPath: 'linux.seccomp.flags[0]' });
    expect(specErr(() => filter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }))).toMatchObject({ configPath: 'linux.seccomp.syscalls[0].errnoRet' });
    expect(specErr(() => filter({ defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }))).toMatchObject({ configPath: 'linux.seccomp.defaultErrnoRet' });
    expect(specErr(() => filter({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }))).toMatchObject({ configPath: 'linux.seccomp.defaultErrnoRet' });
  });
});

/** A compiler that records its input and answers as told. */
function fake(answer: Partial<{ unknown: number[]; error: object; supported: number }> = {}): SeccompCompiler & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    compile: (...args) => {
      calls.push(args);
      if (answer.error) throw Object.assign(new Error('x'), answer.error);
      return { bpf: new Uint8Array(8), unknown: answer.unknown ?? [] };
    },
    flagsSupported: (flags) => flags & (answer.supported ?? ~0),
  };
}

describe('compileFilter', () => {
  const f = () => filter({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['a', 'b'], action: 'SCMP_ACT_KILL' }] });

  it('passes libseccomp names and notes skipped syscalls and unsupported flags', () => {
    const notes: string[] = [];
    const c = fake({ unknown: [1], supported: 0 });
    expect(compileFilter(f(), c, notes).flags).toBe(0);
    expect(c.calls).toEqual([[0x7fff0000, ['x86_64', 'x86'], [['a', 0, []], ['b', 0, []]]]]);
    expect(notes).toEqual([
      'linux.seccomp.syscalls[0].names[1]: syscall `b` is unknown to libseccomp here: skipped',
      'linux.seccomp.flags: SECCOMP_FILTER_FLAG_LOG is not supported by this kernel: left out',
    ]);
  });

  it('turns libseccomp failures into config paths', () => {
    expect(specErr(() => compileFilter(f(), fake({ error: { what: 'arch', index: 1, errno: 22 } }), []))).toMatchObject({ configPath: 'linux.seccomp.architectures[1]', errno: 22 });
    expect(specErr(() => compileFilter(f(), fake({ error: { what: 'rule', index: 1, errno: 22 } }), []))).toMatchObject({ configPath: 'linux.seccomp.syscalls[0].names[1]' });
    const lib = specErr(() => compileFilter(f(), fake({ error: { what: 'library', detail: 'libseccomp.so.2: cannot open shared object file' } }), []));
    expect(lib.message).toBe('needs libseccomp (install the libseccomp2 package): libseccomp.so.2: cannot open shared object file');
  });
});

describe('buildPlan places SECCOMP', () => {
  const bundle = mkdtempSync(join(tmpdir(), 'launch-seccomp-plan-'));
  mkdirSync(join(bundle, 'rootfs'));
  afterAll(() => rmSync(bundle, { recursive: true, force: true }));
  const host: HostFacts = { uid: 0, gid: 0, userName: 'root', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined, capLastCap: 40, cgroupVersion: 2, rootless: false };
  const spec = (nnp: boolean): Spec => {
    const s = defaultSpec({ rootless: false });
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    s.process!.noNewPrivileges = nnp;
    return s;
  };
  const tail = (ops: { op: string }[]) => ops.map((o) => o.op).slice(ops.findIndex((o) => o.op === 'RLIMIT'));

  // Issue 16: nothing of launch's may come after the filter but the startContainer hooks and
  // the exec (a profile may refuse openat2, which CHDIR uses). Before, without no_new_privs the
  // filter came before CAPBSET, USER, CAPS and CHDIR, and with `create` before SYNC/WAIT_START.
  it('with no_new_privs: after every step of launch, after `start` released the init', () => {
    expect(tail(buildPlan(spec(true), { bundle, host, seccomp: fake() }).ops)).toEqual(['RLIMIT', 'CAPBSET', 'USER', 'CAPS', 'NO_NEW_PRIVS', 'UMASK', 'CHDIR', 'SECCOMP', 'EXEC']);
    const created = buildPlan(spec(true), { bundle, host, seccomp: fake(), waitStart: { dirFd: 9, fifo: 'exec.fifo' }, preserveFds: 2 });
    expect(tail(created.ops).slice(-6)).toEqual(['CHDIR', 'PRESERVE_FDS', 'SYNC', 'WAIT_START', 'SECCOMP', 'EXEC']);
  });

  it('without it: at the same place; CAP_SYS_ADMIN stays permitted until then (loading needs it)', () => {
    const p = buildPlan(spec(false), { bundle, host, seccomp: fake() });
    expect(tail(p.ops)).toEqual(['RLIMIT', 'CAPBSET', 'USER', 'CAPS', 'UMASK', 'CHDIR', 'SECCOMP', 'EXEC']);
    const op = p.ops.find((o) => o.op === 'SECCOMP')!;
    expect(op.args).toEqual([new Uint8Array(8), 0, 0]);
    const admin = 1n << 21n;
    const caps = (q: typeof p) => q.ops.find((o) => o.op === 'CAPS')!.args[1] as bigint;
    expect(caps(p) & admin).toBe(admin);
    // With no_new_privs, or without a filter, the permitted set is the config's.
    expect(caps(buildPlan(spec(true), { bundle, host, seccomp: fake() })) & admin).toBe(0n);
    const none = spec(false);
    delete none.linux!.seccomp;
    expect(caps(buildPlan(none, { bundle, host })) & admin).toBe(0n);
  });

  it('a notify filter loads before `created`, so create hands its fd to the listener', () => {
    const s = spec(true);
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    const p = buildPlan(s, { bundle, host, seccomp: fake(), waitStart: { dirFd: 9, fifo: 'exec.fifo' } });
    expect(tail(p.ops).slice(-5)).toEqual(['CHDIR', 'SECCOMP', 'SYNC', 'WAIT_START', 'EXEC']);
  });

  it('`exec` loads it after the credentials and the cwd too', () => {
    const proc = spec(false).process!;
    const p = buildExecPlan(proc, { host, joins: [], seccompConfig: spec(false).linux!.seccomp, seccomp: fake() });
    expect(tail(p.ops)).toEqual(['RLIMIT', 'CAPBSET', 'USER', 'CAPS', 'UMASK', 'CHDIR', 'SECCOMP', 'EXEC']);
  });

  it('a notify rule records the listener for the runtime', () => {
    const s = spec(true);
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', listenerMetadata: 'm', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    const p = buildPlan(s, { bundle, host, seccomp: fake() });
    expect(p.seccompListener).toEqual({ path: '/run/agent.sock', metadata: 'm' });
    expect(p.ops.find((o) => o.op === 'SECCOMP')!.args[2]).toBe(FILTER_FLAG.NEW_LISTENER);
  });
});

