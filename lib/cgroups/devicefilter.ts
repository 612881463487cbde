// linux.resources.devices on cgroup v2: there is no devices.allow file, the kernel runs a
// BPF_PROG_TYPE_CGROUP_DEVICE program on every open/mknod of a device node instead. This
// module turns the rules into that program (runc's libcontainer/cgroups/devices: devicefilter.go
// and devices_emulator.go). Pure: the native side only loads and attaches the bytes.
//
// Semantics are cgroup v1's, so a config means the same on both versions: start from deny-all
// (as runc, and as v1Writes writes), apply the spec's rules then runc's defaults in order, the
// way the v1 kernel applies devices.allow/deny writes:
//   - type 'a' (whatever its numbers) resets: allow -> allow-all mode, deny -> deny-all mode;
//   - in deny-all mode an allow adds an exception (merged with one for the same device), a
//     deny removes access from the exception for exactly that device; allow-all is the mirror.
// The v1 kernel silently ignores a removal that only a wildcard exception covers ("deny
// c 1:3" after "allow c *:*"); runc refuses such a config instead of letting it look safe,
// and so does this (a spec error naming the rule).
// The program checks the exceptions left; they all have the same verdict (the opposite of the
// default), so their order does not matter. An allow exception must cover all the access asked
// (an open for rw needs both), a deny exception denies on any overlap: the v1 kernel's
// match_exception / match_exception_partial. (runc's program checks deny exceptions like allow
// ones, so "deny w" there lets an rw open through; v1 does not, nor does this.)
import { specError } from '../errors.js';
import { formatConfigPath } from '../spec/load.js';
import type { Resources } from '../spec/schema.js';
import { devNum } from './convert.js';

// runc's default device rules (libcontainer/specconv AllowedDevices): what every container
// may use even when the config denies all (`runc spec` does). Applied after the config's.
export const DEFAULT_DEVICE_RULES = [
  'c *:* m', 'b *:* m', 'c 1:3 rwm', 'c 1:8 rwm', 'c 1:7 rwm', 'c 5:0 rwm', 'c 1:5 rwm', 'c 1:9 rwm',
  'c 5:1 rwm', 'c 136:* rwm', 'c 5:2 rwm', 'c 10:200 rwm',
];

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  /** -1: any. */
  major: number;
  minor: number;
  /** Bits of ACC. */
  access: number;
  /** Where the rule comes from, for errors. */
  configPath: string;
  /** One of DEFAULT_DEVICE_RULES. */
  isDefault?: boolean;
}

// Kernel ABI (uapi/linux/bpf.h): struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
// u32 minor; }, access_type = type | access << 16.
export const DEV = { b: 1, c: 2 } as const;
export const ACC = { m: 1, r: 2, w: 4 } as const;
const RWM = 7;

const accessBits = (s: string) => [...s].reduce((bits, ch) => bits | ACC[ch as keyof typeof ACC], 0);
const at = (...path: (string | number)[]) => formatConfigPath(['linux', 'resources', 'devices', ...path]);

/** The spec's rules followed by runc's defaults, checked like v1Writes checks them. */
export function deviceRules(devices: NonNullable<Resources['devices']>): DeviceRule[] {
  const out = devices.map((d, i): DeviceRule => {
    const access = d.access ?? '';
    if (!/^[rwm]{1,3}$/.test(access)) {
      throw specError(access === '' ? 'must not be empty (runc refuses it too)' : `expected a combination of "r", "w" and "m", got ${JSON.stringify(access)}`, {
        configPath: at(i, 'access'),
      });
    }
    const num = (v: number | undefined, field: string) => {
      const s = devNum(v, at(i, field), true);
      return s === '*' ? -1 : Number(s);
    };
    return { allow: d.allow, type: d.type ?? 'a', major: num(d.major, 'major'), minor: num(d.minor, 'minor'), access: accessBits(access), configPath: at(i) };
  });
  for (const line of DEFAULT_DEVICE_RULES) {
    const [type, nums, access] = line.split(' ') as ['b' | 'c', string, string];
    const [major, minor] = nums.split(':').map((n) => (n === '*' ? -1 : Number(n))) as [number, number];
    out.push({ allow: true, type, major, minor, access: accessBits(access), configPath: at(), isDefault: true });
  }
  return out;
}

export interface DeviceState {
  defaultAllow: boolean;
  /** Devices whose verdict is !defaultAllow, for the access bits given. */
  exceptions: { type: 'b' | 'c'; major: number; minor: number; access: number }[];
}

/** Apply the rules the way the v1 kernel (and runc's emulator) does; see the header. */
export function emulate(rules: readonly DeviceRule[]): DeviceState {
  let defaultAllow = false;
  let ex = new Map<string, DeviceState['exceptions'][number]>();
  const key = (type: string, major: number, minor: number) => `${type} ${major < 0 ? '*' : major}:${minor < 0 ? '*' : minor}`;
  for (const r of rules) {
    if (r.type === 'a') {
      defaultAllow = r.allow;
      ex = new Map();
      continue;
    }
    const k = key(r.type, r.major, r.minor);
    if (r.allow !== defaultAllow) {
      const old = ex.get(k);
      ex.set(k, { type: r.type, major: r.major, minor: r.minor, access: (old?.access ?? 0) | r.access });
      continue;
    }
    // A removal: refused when a wildcard exception covering this device keeps some of it.
    for (const [major, minor] of [[-1, r.minor], [r.major, -1], [-1, -1]] as const) {
      const wide = ex.get(key(r.type, major, minor));
      if (key(r.type, major, minor) !== k && wide && wide.access & r.access) {
        const what = (allow: boolean) => (allow ? 'allow' : 'deny');
        throw specError(
          `cannot ${what(r.allow)} ${k}${r.isDefault ? ' (one of runc\'s default rules, which come last)' : ''} after \`${what(!r.allow)} ${key(r.type, major, minor)}\`: rules cannot punch a hole in a wildcard rule (cgroup v1 would silently ignore it; runc refuses it too)`,
          { configPath: r.configPath },
        );
      }
    }
    const old = ex.get(k);
    if (!old) continue;
    const left = old.access & ~r.access;
    if (left) ex.set(k, { ...old, access: left });
    else ex.delete(k);
  }
  return { defaultAllow, exceptions: [...ex.values()] };
}

const matches = (e: DeviceState['exceptions'][number], type: 'b' | 'c', major: number, minor: number) =>
  e.type === type && (e.major === -1 || e.major === major) && (e.minor === -1 || e.minor === minor);

/** The verdict for one access (bits of ACC), as the v1 kernel decides it; the tests' oracle. */
export function deviceAllowed(state: DeviceState, type: 'b' | 'c', major: number, minor: number, access: number): boolean {
  if (state.defaultAllow) return !state.exceptions.some((e) => matches(e, type, major, minor) && e.access & access);
  return state.exceptions.some((e) => matches(e, type, major, minor) && (access & ~e.access) === 0);
}

// eBPF encoding (struct bpf_insn: u8 code, u8 dst:4 | src:4, s16 off, s32 imm).
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_K: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  JEQ_K: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JNE_X: 0x5d, // BPF_JMP | BPF_JNE | BPF_X
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

const JUMPS = new Set<number>([OP.JEQ_K, OP.JNE_K, OP.JNE_X]);

interface Insn { code: number; dst: number; src: number; off: number; imm: number }
const insn = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** The program for `linux.resources.devices` (with runc's defaults after it). */
export function deviceFilterProgram(devices: NonNullable<Resources['devices']>): Buffer {
  return encodeProgram(emulate(deviceRules(devices)));
}

export function encodeProgram(state: DeviceState): Buffer {
  // r2 = device type, r3 = access asked, r4 = major, r5 = minor (r1 = ctx, then scratch).
  const prog: Insn[] = [
    insn(OP.LDXW, 2, 1, 0, 0), insn(OP.AND32_K, 2, 0, 0, 0xffff),
    insn(OP.LDXW, 3, 1, 0, 0), insn(OP.RSH32_K, 3, 0, 0, 16),
    insn(OP.LDXW, 4, 1, 4, 0),
    insn(OP.LDXW, 5, 1, 8, 0),
  ];
  const verdict = state.defaultAllow ? 0 : 1;
  for (const e of state.exceptions) {
    // Each test jumps past the block (to the next one, or to the default) when it fails;
    // offsets count from the next instruction, so they are fixed up once the block is built.
    const block: Insn[] = [insn(OP.JNE_K, 2, 0, 0, DEV[e.type])];
    if (e.access !== RWM) {
      block.push(insn(OP.MOV32_X, 1, 3, 0, 0), insn(OP.AND32_K, 1, 0, 0, e.access));
      // allow: (asked & access) != asked -> not covered; deny: (asked & access) == 0 -> no overlap.
      block.push(state.defaultAllow ? insn(OP.JEQ_K, 1, 0, 0, 0) : insn(OP.JNE_X, 1, 3, 0, 0));
    }
    // 64-bit compares with a sign-extended imm, as runc: numbers >= 2^31 then match nothing,
    // which is right, the kernel's majors and minors being 12 and 20 bits.
    if (e.major !== -1) block.push(insn(OP.JNE_K, 4, 0, 0, e.major | 0));
    if (e.minor !== -1) block.push(insn(OP.JNE_K, 5, 0, 0, e.minor | 0));
    block.push(insn(OP.MOV32_K, 0, 0, 0, verdict), insn(OP.EXIT, 0, 0, 0, 0));
    block.forEach((ins, i) => {
      if (JUMPS.has(ins.code)) ins.off = block.length - 1 - i;
    });
    prog.push(...block);
  }
  prog.push(insn(OP.MOV32_K, 0, 0, 0, state.defaultAllow ? 1 : 0), insn(OP.EXIT, 0, 0, 0, 0));
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt8(p.code, i * 8);
    buf.writeUInt8(p.dst | (p.src << 4), i * 8 + 1);
    buf.writeInt16LE(p.off, i * 8 + 2);
    buf.writeInt32LE(p.imm, i * 8 + 4);
  });
  return buf;
}
