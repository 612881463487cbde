// The cgroup v2 device program, run in a small eBPF interpreter (just the opcodes the
// generator may emit; anything else fails the test) against verdicts written out by hand from
// cgroup v1's semantics, then against the v1 oracle for every rule set × device × access.
import { describe, expect, it } from 'vitest';
import { ACC, DEV, OP, deviceAllowed, deviceFilterProgram, deviceRules, emulate } from '../../lib/cgroups/devicefilter.js';
import { planCgroup } from '../../lib/cgroups/manager.js';
import type { Resources, Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

type Rules = NonNullable<Resources['devices']>;

/** Runs `prog` on a bpf_cgroup_dev_ctx; returns r0. Registers are 64-bit, as in the kernel. */
function run(prog: Buffer, type: number, major: number, minor: number, access: number): number {
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE(type | (access << 16), 0);
  ctx.writeUInt32LE(major, 4);
  ctx.writeUInt32LE(minor, 8);
  const r = new Array<bigint>(11).fill(0n);
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  const u32 = (v: bigint) => BigInt.asUintN(32, v);
  const CTX = 1n << 40n; // r1: a fake pointer, so that loads must go through it
  r[1] = CTX;
  expect(prog.length % 8).toBe(0);
  for (let pc = 0, steps = 0; ; pc++) {
    expect(pc).toBeLessThan(prog.length / 8);
    expect(++steps).toBeLessThan(10_000);
    const code = prog.readUInt8(pc * 8);
    const dst = prog.readUInt8(pc * 8 + 1) & 0xf;
    const src = prog.readUInt8(pc * 8 + 1) >> 4;
    const off = prog.readInt16LE(pc * 8 + 2);
    const imm = BigInt(prog.readInt32LE(pc * 8 + 4));
    const k64 = u64(imm); // imm sign-extended to 64 bits, as the kernel does for BPF_JMP
    switch (code) {
      case OP.LDXW: {
        const at = r[src]! - CTX + BigInt(off);
        expect(at >= 0n && at <= 8n && at % 4n === 0n).toBe(true);
        r[dst] = BigInt(ctx.readUInt32LE(Number(at)));
        break;
      }
      case OP.AND32_K: r[dst] = u32(r[dst]! & k64); break;
      case OP.RSH32_K: r[dst] = u32(r[dst]!) >> imm; break;
      case OP.MOV32_K: r[dst] = u32(imm); break;
      case OP.MOV32_X: r[dst] = u32(r[src]!); break;
      case OP.JEQ_K: if (r[dst] === k64) pc += off; break;
      case OP.JNE_K: if (r[dst] !== k64) pc += off; break;
      case OP.JNE_X: if (r[dst] !== r[src]) pc += off; break;
      case OP.EXIT: return Number(r[0]);
      default: throw new Error(`opcode 0x${code.toString(16)} at ${pc} is not one the generator emits`);
    }
  }
}

const T = { b: DEV.b, c: DEV.c };
const acc = (s: string) => [...s].reduce((n, ch) => n | ACC[ch as 'r'], 0);
/** Verdict of the program for "c 1:3 rw" style queries. */
function verdict(rules: Rules, query: string): boolean {
  const [type, nums, access] = query.split(' ') as ['b' | 'c', string, string];
  const [major, minor] = nums.split(':').map(Number) as [number, number];
  const r0 = run(deviceFilterProgram(rules), T[type], major, minor, acc(access));
  expect([0, 1]).toContain(r0);
  return r0 === 1;
}
const expectVerdicts = (rules: Rules, allowed: string[], denied: string[]) => {
  for (const q of allowed) expect(verdict(rules, q), `${q} allowed`).toBe(true);
  for (const q of denied) expect(verdict(rules, q), `${q} denied`).toBe(false);
};

const DENY_ALL: Rules = [{ allow: false, access: 'rwm' }];
const ALLOW_ALL: Rules = [{ allow: true, access: 'rwm' }];

describe('device filter program', () => {
  it('deny-all plus runc defaults: the standard devices only', () => {
    expectVerdicts(
      DENY_ALL,
      ['c 1:3 rw', 'c 1:3 r', 'c 1:3 w', 'c 1:3 m', 'c 1:5 rw', 'c 1:7 r', 'c 1:8 r', 'c 1:9 r', 'c 5:0 rw', 'c 5:1 rw', 'c 5:2 rw',
        'c 136:0 rw', 'c 136:4242 rw', 'c 10:200 rw', 'c 1:11 m', 'b 8:0 m', 'c 4242:7 m'],
      ['c 1:11 r', 'c 1:11 w', 'c 1:11 rw', 'c 1:4 r', 'b 1:3 rw', 'b 8:0 r', 'b 8:0 w', 'c 10:201 rw', 'c 137:0 rw', 'c 1:11 rm', 'b 8:0 rm'],
    );
  });

  it('applies the defaults on an empty list too (deny-all start, as v1)', () => {
    expectVerdicts([], ['c 1:3 rw'], ['c 1:11 r']);
  });

  it('an allow after deny-all opens one device, for the access given', () => {
    const rules: Rules = [...DENY_ALL, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }];
    expectVerdicts(rules, ['c 1:11 r', 'c 1:11 m'], ['c 1:11 w', 'c 1:11 rw', 'c 1:12 r', 'b 1:11 r']);
  });

  it('merges access of two allows for one device (an rw open needs both)', () => {
    const rules: Rules = [...DENY_ALL, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }];
    expectVerdicts(rules, ['c 1:11 rw'], ['b 1:11 rw']);
    // ...but not across different exceptions: v1 wants one that covers all the access asked.
    const split: Rules = [...DENY_ALL, { allow: true, type: 'c', major: 1, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }];
    expectVerdicts(split, ['c 1:11 r', 'c 1:11 w', 'c 1:12 r'], ['c 1:11 rw', 'c 1:12 w']);
  });

  it('a later deny takes back an earlier allow of the same device', () => {
    const rules: Rules = [...DENY_ALL, { allow: true, type: 'c', major: 1, minor: 11, access: 'rw' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'w' }];
    expectVerdicts(rules, ['c 1:11 r'], ['c 1:11 w', 'c 1:11 rw']);
    // The defaults come last and win over the config (c 1:3 rwm is one of them).
    expectVerdicts([...DENY_ALL, { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' }], ['c 1:3 rw'], []);
  });

  it('m vs rw: mknod rules do not open the device', () => {
    const rules: Rules = [...DENY_ALL, { allow: true, type: 'b', major: 7, access: 'm' }];
    expectVerdicts(rules, ['b 7:0 m', 'b 7:99 m'], ['b 7:0 r', 'b 7:0 rw', 'c 7:0 r']);
  });

  it('block vs char, and wildcard majors and minors', () => {
    const rules: Rules = [...DENY_ALL, { allow: true, type: 'b', minor: 0, access: 'rw' }, { allow: true, type: 'c', major: 250, access: 'rwm' }];
    expectVerdicts(rules, ['b 8:0 rw', 'b 254:0 r', 'c 250:0 rw', 'c 250:77 rwm'], ['b 8:1 r', 'c 8:0 r', 'b 250:1 r', 'c 251:0 r']);
  });

  it('allow-all (a blacklist) with a deny: any overlap denies', () => {
    const rules: Rules = [...ALLOW_ALL, { allow: false, type: 'c', major: 1, minor: 11, access: 'w' }, { allow: false, type: 'b', access: 'rwm' }];
    // b 8:0 m: the defaults' `b *:* m` takes mknod back out of the deny.
    expectVerdicts(rules, ['c 1:11 r', 'c 1:11 m', 'c 1:12 rw', 'c 4242:1 rw', 'b 8:0 m'], ['c 1:11 w', 'c 1:11 rw', 'b 8:0 r', 'b 8:0 w', 'b 8:0 rm']);
    // A later allow of the same device takes the deny back; allow-all again resets everything.
    expectVerdicts([...rules, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }], ['c 1:11 rw'], ['b 8:0 r']);
    expectVerdicts([...rules, ...ALLOW_ALL], ['c 1:11 rw', 'b 8:0 rw'], []);
  });

  it('type a resets whatever its numbers and access say, as the v1 kernel', () => {
    expectVerdicts([...ALLOW_ALL, { allow: false, type: 'a', major: 1, minor: 3, access: 'r' }], ['c 1:3 rw'], ['c 1:11 w', 'b 8:0 r']);
  });

  it('refuses to punch a hole in a wildcard (as runc), naming the rule', () => {
    const e = thrown(() => deviceFilterProgram([...DENY_ALL, { allow: true, type: 'c', access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'rw' }]), 'spec');
    expect(e.configPath).toBe('linux.resources.devices[2]');
    expect(e.message).toContain('deny c 1:11 after `allow c *:*`');
    // runc's defaults come last and may be the hole: deny c 1:* leaves no room for allow c 1:3.
    const d = thrown(() => deviceFilterProgram([...ALLOW_ALL, { allow: false, type: 'c', major: 1, access: 'rwm' }]), 'spec');
    expect([d.configPath, d.message]).toEqual(['linux.resources.devices', expect.stringContaining("allow c 1:3 (one of runc's default rules, which come last) after `deny c 1:*`")]);
    // Removing access the wildcard does not have is fine.
    expectVerdicts([...DENY_ALL, { allow: true, type: 'c', access: 'm' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'rw' }], ['c 1:11 m'], ['c 1:11 r']);
  });

  it('checks access, major and minor as v1Writes does', () => {
    expect(thrown(() => deviceRules([{ allow: true, access: '' }]), 'spec').configPath).toBe('linux.resources.devices[0].access');
    expect(thrown(() => deviceRules([{ allow: true, access: 'rx' }]), 'spec').configPath).toBe('linux.resources.devices[0].access');
    expect(thrown(() => deviceRules([{ allow: true, type: 'c', major: -2, access: 'r' }]), 'spec').configPath).toBe('linux.resources.devices[0].major');
  });

  it('agrees with the v1 oracle for every rule set, device and access', () => {
    const sets: Rules[] = [
      [], DENY_ALL, ALLOW_ALL,
      [...ALLOW_ALL, { allow: false, type: 'c', major: 4, access: 'rw' }, { allow: false, type: 'b', major: 8, minor: 0, access: 'rm' }],
      [...DENY_ALL, { allow: true, type: 'c', major: 1, minor: 11, access: 'rm' }, { allow: true, type: 'b', access: 'r' }, { allow: false, type: 'b', access: 'r' }],
      [...ALLOW_ALL, ...DENY_ALL, { allow: true, type: 'c', minor: 3, access: 'w' }],
    ];
    const devs: [number, number][] = [[1, 3], [1, 11], [4, 3], [5, 0], [8, 0], [136, 5], [10, 200], [4095, 1048575]];
    for (const rules of sets) {
      const prog = deviceFilterProgram(rules);
      const state = emulate(deviceRules(rules));
      for (const type of ['b', 'c'] as const) {
        for (const [major, minor] of devs) {
          for (let access = 1; access <= 7; access++) {
            expect(run(prog, T[type], major, minor, access) === 1, `${JSON.stringify(rules)} ${type} ${major}:${minor} ${access}`).toBe(
              deviceAllowed(state, type, major, minor, access),
            );
          }
        }
      }
    }
  });

  it('is struct bpf_insn, little endian, starting with the ctx loads', () => {
    const prog = deviceFilterProgram(DENY_ALL);
    // ldxw r2, [r1+0]: code 0x61, dst 2 | src 1 << 4, off 0, imm 0
    expect([...prog.subarray(0, 8)]).toEqual([0x61, 0x12, 0, 0, 0, 0, 0, 0]);
    // ends with: mov32 r0, 0; exit (deny-all default)
    expect([...prog.subarray(prog.length - 16)]).toEqual([0xb4, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('the cgroup plan', () => {
  const spec = (devices?: Rules) => ({ ociVersion: '1.2.0', linux: { resources: devices ? { devices } : {} } }) as Spec;
  const host = (uid: number) => ({ uid, version: 2 as const, mount: '/nonexistent/cg', selfCgroup: '0::/a/b\n', writable: () => true });

  it('carries the program on v2 as root, none rootless (bpf(2) needs root) or without rules', () => {
    expect(planCgroup(spec(DENY_ALL), 'box', host(0))?.deviceFilter).toEqual(deviceFilterProgram(DENY_ALL));
    expect(planCgroup(spec([]), 'box', host(0))?.deviceFilter).toEqual(deviceFilterProgram([]));
    expect(planCgroup(spec(), 'box', host(0))?.deviceFilter).toBeUndefined();
    const rootless = planCgroup(spec(DENY_ALL), 'box', host(1000));
    expect(rootless?.version).toBe(2);
    expect(rootless!.deviceFilter).toBeUndefined();
  });

  it('refuses bad rules before anything is created', () => {
    expect(thrown(() => planCgroup(spec([{ allow: true, access: 'x' }]), 'box', host(0)), 'spec').configPath).toBe('linux.resources.devices[0].access');
  });
});
