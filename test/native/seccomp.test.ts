// The addon's seccomp half without a container: libseccomp (dlopen'ed) compiles a filter the
// way lib/plan/seccomp.ts describes it, the plan carries it as an aligned blob, and a child
// that runs SECCOMP then EXEC is confined by it.
import { existsSync, mkdtempSync, readdirSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodePlan } from '../../lib/plan/encode.js';
import type { Op } from '../../lib/plan/ops.js';
import { FILTER_FLAG, SECCOMP_RET } from '../../lib/plan/seccomp.js';
import { native } from '../../lib/runtime/native.js';

const addon = native();
const tmp = mkdtempSync(join(tmpdir(), 'launch-seccomp-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasLibseccomp = ['/usr/lib/x86_64-linux-gnu/libseccomp.so.2', '/lib/x86_64-linux-gnu/libseccomp.so.2', '/usr/lib64/libseccomp.so.2'].some(existsSync);
const skip = hasLibseccomp ? undefined : 'needs libseccomp.so.2 (apt-get install libseccomp2)';

const o = (op: Op['op'], ...args: Op['args']): Op => ({ op, args, origin: { what: op } });
const MKDIR = existsSync('/bin/mkdir') ? '/bin/mkdir' : '/usr/bin/mkdir';
const EPERM = 1;

const waitExit = (pidfd: number) =>
  new Promise<{ code: number; signal: number }>((resolve) => addon.waitExit(pidfd, (code, signal) => resolve({ code, signal })));

describe.skipIf(skip)(`compileSeccomp ${skip ?? ''}`, () => {
  it('compiles to whole BPF instructions and reports unknown syscall names by rule index', () => {
    const out = addon.compileSeccomp(SECCOMP_RET.ALLOW, ['x86_64', 'x86'], [
      ['mkdir', SECCOMP_RET.ERRNO | EPERM, []],
      ['no_such_call', SECCOMP_RET.ERRNO | EPERM, []],
      ['personality', SECCOMP_RET.ERRNO | EPERM, [[0, 1, 0n, 0n]]],
    ]);
    expect(out.bpf.length).toBeGreaterThan(0);
    expect(out.bpf.length % 8).toBe(0);
    expect(out.unknown).toEqual([1]);
  });

  it('names the architecture or rule libseccomp refuses', () => {
    expect(() => addon.compileSeccomp(SECCOMP_RET.ALLOW, ['x86_64', 'pdp11'], [])).toThrow(expect.objectContaining({ what: 'arch', index: 1 }));
    // Argument register 6 does not exist.
    expect(() => addon.compileSeccomp(SECCOMP_RET.ALLOW, [], [['mkdir', SECCOMP_RET.ERRNO, []], ['rmdir', SECCOMP_RET.ERRNO, [[6, 4, 0n, 0n]]]]))
      .toThrow(expect.objectContaining({ what: 'rule', index: 1, errno: 22 }));
  });

  it('knows which filter flags this kernel takes', () => {
    const flags = FILTER_FLAG.LOG | FILTER_FLAG.SPEC_ALLOW;
    expect(addon.seccompFlagsSupported(flags)).toBe(flags); // both since Linux 4.17
    expect(addon.seccompFlagsSupported(1 << 20)).toBe(0);
  });
});

describe.skipIf(skip)('the SECCOMP op', () => {
  const filter = () => addon.compileSeccomp(SECCOMP_RET.ALLOW, [], [['mkdir', SECCOMP_RET.ERRNO | EPERM, []], ['mkdirat', SECCOMP_RET.ERRNO | EPERM, []]]).bpf;

  it('confines the exec\'d program: mkdir fails, the directory is not made', async () => {
    const dir = join(tmp, 'made');
    for (const withFilter of [false, true]) {
      const ops = [o('NO_NEW_PRIVS'), ...(withFilter ? [o('SECCOMP', filter(), 0, 0)] : []), o('EXEC', [MKDIR], 0, [MKDIR, dir], 0, [])];
      const child = addon.spawn(encodePlan(ops), 0, -1);
      const buf = Buffer.alloc(64);
      expect(readSync(child.syncFd, buf, 0, 64, null)).toBe(0); // EOF: the exec happened
      const st = await waitExit(child.pidfd);
      expect({ withFilter, code: st.code, made: existsSync(dir) }).toEqual({ withFilter, code: withFilter ? 1 : 0, made: !withFilter });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the blob is 8-aligned in the plan; a misaligned or oversized one is refused before any clone', () => {
    const plan = encodePlan([o('MKDIRS', '/x', 0o755), o('SECCOMP', filter(), 0, 0), o('EXEC', [MKDIR], 0, [MKDIR], 0, [])]);
    expect(addon.validatePlan(plan)).toBe(3);
    const op1 = 32 + 56; // header, then op 0
    const off = plan.readBigUInt64LE(op1 + 8);
    expect(off % 8n).toBe(0n);
    const misaligned = Buffer.from(plan);
    misaligned.writeBigUInt64LE(off + 4n, op1 + 8);
    expect(() => addon.validatePlan(misaligned)).toThrow('plan op 1 arg 0: blob out of bounds or misaligned');
    const long = Buffer.from(plan);
    long.writeBigUInt64LE(BigInt(plan.length), op1 + 16);
    expect(() => addon.validatePlan(long)).toThrow('plan op 1 arg 0: blob out of bounds or misaligned');
  });
});

describe.skipIf(skip)('the program cache (lib/runtime/seccomp.ts)', () => {
  it('a second compile of the same input reads the program back; another input gets its own', async () => {
    const { seccompCompiler, SECCOMP_CACHE } = await import('../../lib/runtime/seccomp.js');
    const dir = join(tmp, SECCOMP_CACHE);
    const c = seccompCompiler(dir);
    const rules: [string, number, [number, number, bigint, bigint][]][] = [['mkdir', SECCOMP_RET.ERRNO | EPERM, [[0, 4, 1n << 40n, 0n]]], ['no_such_call', 0, []]];
    const first = c.compile(SECCOMP_RET.ALLOW, ['x86_64', 'x86'], rules);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    // Proof that the second answer comes from the file: doctor it, and see the doctored program.
    const doctored = Buffer.alloc(16, 7);
    writeFileSync(join(dir, files[0]!), JSON.stringify({ bpf: doctored.toString('base64'), unknown: [1] }));
    expect(Buffer.from(c.compile(SECCOMP_RET.ALLOW, ['x86_64', 'x86'], rules).bpf)).toEqual(doctored);
    expect(first.unknown).toEqual([1]);
    // A different bigint value is a different input.
    const other = c.compile(SECCOMP_RET.ALLOW, ['x86_64', 'x86'], [['mkdir', SECCOMP_RET.ERRNO | EPERM, [[0, 4, 1n << 41n, 0n]]]]);
    expect(Buffer.from(other.bpf)).not.toEqual(doctored);
    expect(readdirSync(dir)).toHaveLength(2);
    // A damaged entry is compiled again, not used.
    writeFileSync(join(dir, files[0]!), '{"bpf": "AAA", "unknown": []}');
    expect(Buffer.from(c.compile(SECCOMP_RET.ALLOW, ['x86_64', 'x86'], rules).bpf)).toEqual(Buffer.from(first.bpf));
  });
});
