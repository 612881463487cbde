// Building blocks for the config fuzzer (test/unit/spec-fuzz.test.ts): a seeded PRNG, a JSON
// tree that can say what JSON.parse cannot be handed directly (duplicate keys, `__proto__` keys,
// number literals past what a double holds), structure-aware mutations of that tree, byte-level
// mutations of the text, and random JSON values.
//
// Every case is generated from (seed, stream, case number) alone, so any failure is replayed
// from three numbers without re-running the cases before it.
import { Worker } from 'node:worker_threads';

// ---- random numbers ----------------------------------------------------------------------

/** murmur3's 32-bit finaliser: a cheap, well-mixing hash. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The seed of case `n` of `stream`. */
export function caseSeed(seed: number, stream: number, n: number): number {
  return fmix32((seed ^ fmix32(Math.imul(stream + 1, 0x9e3779b9) ^ fmix32(n))) >>> 0);
}

/** mulberry32: small, fast, and good enough to pick mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 2 ** 32) * n);
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)]!;
  }
  /** One of `choices`, each with its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = (this.u32() / 2 ** 32) * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return choices[choices.length - 1]![1];
  }
}

// ---- a JSON tree that can hold what a JS object cannot -------------------------------------

/** A literal written into the text as it is: `1e400`, `-0`, `18446744073709551616`, or a
 * nesting a thousand levels deep (kept flat here, so nothing in the test recurses on it). */
export class Raw {
  constructor(readonly text: string) {}
}
/** An object as an ordered list of entries: duplicate and `__proto__` keys are plain data. */
export class Obj {
  constructor(public entries: [string, Node][] = []) {}
}
export type Node = null | boolean | number | string | Raw | Obj | Node[];

export function toNode(v: unknown): Node {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(toNode);
  if (typeof v === 'object') return new Obj(Object.entries(v as object).map(([k, x]) => [k, toNode(x)]));
  throw new Error(`not JSON: ${typeof v}`);
}

/** JSON text of `n`; `indent` '' writes it on one line. */
export function render(n: Node, indent = ''): string {
  const out: string[] = [];
  const nl = (depth: number) => (indent ? `\n${indent.repeat(depth)}` : '');
  const walk = (v: Node, depth: number): void => {
    if (v instanceof Raw) out.push(v.text);
    else if (v instanceof Obj) {
      if (v.entries.length === 0) return void out.push('{}');
      out.push('{');
      v.entries.forEach(([k, x], i) => {
        out.push(i ? ',' : '', nl(depth + 1), JSON.stringify(k), indent ? ': ' : ':');
        walk(x, depth + 1);
      });
      out.push(nl(depth), '}');
    } else if (Array.isArray(v)) {
      if (v.length === 0) return void out.push('[]');
      out.push('[');
      v.forEach((x, i) => {
        out.push(i ? ',' : '', nl(depth + 1));
        walk(x, depth + 1);
      });
      out.push(nl(depth), ']');
    } else out.push(JSON.stringify(v));
  };
  walk(n, 0);
  return out.join('');
}

// ---- interesting values ------------------------------------------------------------------

const raw = (s: string) => new Raw(s);

/** Numbers at the edges of every integer type the schema uses, and past what JSON.parse keeps. */
export const NUMBERS: readonly Node[] = [
  0, 1, -1, 2, 5, 6, 7, 8, 0.5, -0.5, 1.5, 99.99, 100, 101, 255, 256, 340, 341, 511, 0o777, 0o1000,
  999, 1000, 1001, -1000, -1001, 999_999_999, 1_000_000_000, 0xffff, 0x10000, 2 ** 31 - 1, 2 ** 31,
  -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64,
  2 ** 65, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e21,
  raw('-0'), raw('0.0'), raw('1.0'), raw('1E2'), raw('1e-7'), raw('4294967295.0000000001'),
  raw('1e400'), raw('-1e400'), raw('1e-400'), raw('-1e-400'), raw('9007199254740993'),
  raw('9223372036854775807'), raw('9223372036854775808'), raw('-9223372036854775808'), raw('-9223372036854775809'),
  raw('18446744073709551615'), raw('18446744073709551616'), raw('36893488147419103232'),
  raw('123456789012345678901234567890123456789012345678901234567890'), raw(`1${'0'.repeat(400)}`),
  raw(`0.${'0'.repeat(400)}1`),
];

const LONG = [64, 65, 255, 256, 4097, 70_000];
/** Strings that mean something to some field, break C strings, or stress a regular expression. */
export function interestingString(rng: Rng): string {
  switch (rng.below(6)) {
    case 0:
      return rng.pick(['', ' ', '\0', 'a\0b', '/\0', '/a\0', 'CAP_KILL\0', '\n', 'a\nb', '\r\n', '\t', '\u2028', '\u0085', '\x7f', '\x1b[31m']);
    case 1:
      return rng.pick(['\u{1F600}', '\uD800', '\uDFFF', 'é', 'ß', '日本語', '\u202E', '\u200B', '\uFEFF', 'İ', 'ﬀ', 'K']);
    case 2:
      return rng.pick(['/', '//', '/..', '/../..', '../../etc', '.', '..', '/proc/self/fd', '/dev/null', 'rootfs', '/tmp', 'a/b', '/a b']);
    case 3: {
      const n = rng.pick(LONG);
      return rng.pick([
        () => 'a'.repeat(n), () => '/' + 'a/'.repeat(n >> 1), () => '0,'.repeat(n >> 1) + 'x', () => ' '.repeat(n) + 'x',
        () => '1'.repeat(n), () => `CAP_${'A'.repeat(n)}!`, () => '\n'.repeat(n), () => 'é'.repeat(n), () => `${'0-'.repeat(n >> 1)}-`,
        () => `1.0.0-${'a.'.repeat(n >> 1)}!`, () => `${'9'.repeat(n)}MB!`, () => 'A='.repeat(n >> 1),
      ])();
    }
    case 4:
      return rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']);
    default:
      return rng.pick([
        'CAP_SYS_ADMIN', 'CAP_NOT_A_CAP', 'cap_kill', 'CAP_', 'RLIMIT_NOFILE', 'RLIMIT_NOPE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_NOTIFY',
        'SCMP_ARCH_', 'SCMP_CMP_MASKED_EQ', 'SECCOMP_FILTER_FLAG_LOG', '0-3,7', '0-', '-', ',,,', '1MB', '2MB', '1GB', 'max', '-1',
        'bind', 'rbind', 'ro', 'rro', 'idmap', 'ridmap', 'nosuid', 'mode=755', 'rprivate', 'shared', 'proc', 'sysfs', 'cgroup',
        'cgroup2', 'tmpfs', 'devpts', 'mqueue', 'PATH=', 'PATH=/bin', '=x', 'A=b=c', 'x', 'user', 'pid', 'mount', 'network',
        'time', 'cgroup', 'uts', 'ipc', 'c', 'b', 'p', 'u', 'a', 'rwm', 'rw', 'r', 'wr', 'rwmx', 'rslave', '1.0.0', '1.2.0',
        '2.0.0', '0.1.0', '1.0', '01.0.0', '1.2.3-rc.1+build.5', 'boottime', 'monotonic', 'realtime', 'eth0', 'lo:0',
        'memory.high', 'net.ipv4.ip_forward', 'net..x', 'kernel/shm', '%s%n', '${HOME}', '`id`', '\'"', '\\', 'LINUX',
        'SCHED_DEADLINE', 'IOPRIO_CLASS_RT', 'MPOL_BIND', 'SECCOMP_FILTER_FLAG_', 'guaranteed', '.', '0',
      ]);
  }
}

/** Keys to add: the spec's own names (from `vocabulary`), prototype names, and odd ones. */
export function interestingKey(rng: Rng, vocabulary: readonly string[]): string {
  if (rng.chance(0.5)) return rng.pick(vocabulary);
  return rng.pick([
    '__proto__', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '0', '-1',
    'a.b', 'a b', '\0', 'a\0', 'ü', '\u{1F600}', '\uD800', 'x'.repeat(5000), 'boottime', 'monotonic', 'memory.high',
    'net.ipv4.ip_forward', 'net..x', '../x', 'eth0', 'lo:0', 'a/b', 'mlx5_1', '\n', 'a"b',
  ]);
}

/** A random JSON value at most `depth` levels deep. */
export function randomNode(rng: Rng, depth: number, vocabulary: readonly string[]): Node {
  const kind = depth <= 0 ? rng.below(5) : rng.below(8);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.6) ? rng.pick(NUMBERS) : rng.chance(0.5) ? rng.int(-5, 70000) : (rng.u32() / 2 ** 16) * (rng.chance(0.5) ? 1 : -1);
    case 3:
    case 4:
      return rng.chance(0.7) ? interestingString(rng) : randomString(rng);
    case 5:
    case 6: {
      const o = new Obj();
      for (let n = rng.below(5); n > 0; n--) o.entries.push([interestingKey(rng, vocabulary), randomNode(rng, depth - 1, vocabulary)]);
      return o;
    }
    default: {
      const a: Node[] = [];
      for (let n = rng.below(5); n > 0; n--) a.push(randomNode(rng, depth - 1, vocabulary));
      return a;
    }
  }
}

function randomString(rng: Rng): string {
  const alphabet = 'abcXYZ019_-./:=, \0\n"\\\u00e9\u{1F600}\uD800';
  const chars = [...alphabet];
  let s = '';
  for (let n = rng.below(12); n > 0; n--) s += rng.pick(chars);
  return s;
}

/** `[[[…]]]` or `{"a":{"a":…}}` `depth` levels deep, as one Raw token. */
export function deepNesting(rng: Rng, depth: number): Raw {
  if (rng.chance(0.5)) return raw('['.repeat(depth) + ']'.repeat(depth));
  return raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
}

// ---- mutations of the tree ---------------------------------------------------------------

/** A place in the tree: the root (parent null) or an entry of an object or array. */
interface Slot {
  parent: Obj | Node[] | null;
  index: number;
}

function slots(root: Node): Slot[] {
  const out: Slot[] = [{ parent: null, index: 0 }];
  const stack: Node[] = [root];
  while (stack.length) {
    const n = stack.pop()!;
    if (n instanceof Obj) n.entries.forEach(([, v], index) => (out.push({ parent: n, index }), stack.push(v)));
    else if (Array.isArray(n)) n.forEach((v, index) => (out.push({ parent: n, index }), stack.push(v)));
  }
  return out;
}

const get = (s: Slot, root: Node): Node =>
  s.parent === null ? root : s.parent instanceof Obj ? s.parent.entries[s.index]![1] : s.parent[s.index]!;

/** Sizes for "very many entries": past the schema's limits, and past what a spread into a
 * function's arguments (`push(...list)`) survives. */
const HUGE = [341, 1000, 20_000, 150_000];

/** Apply `count` random mutations to `root` (in place where it can) and return the new root. */
export function mutateTree(rng: Rng, root: Node, count: number, vocabulary: readonly string[]): Node {
  for (let m = 0; m < count; m++) {
    const all = slots(root);
    let slot = rng.pick(all);
    let cur = get(slot, root);
    const set = (v: Node) => {
      if (slot.parent === null) root = v;
      else if (slot.parent instanceof Obj) slot.parent.entries[slot.index]![1] = v;
      else slot.parent[slot.index] = v;
    };
    const op = rng.weighted<string>([
      [6, 'delete'], [6, 'random'], [5, 'number'], [5, 'string'], [5, 'retype'], [5, 'addKey'], [3, 'duplicateKey'],
      [2, 'proto'], [3, 'wrap'], [3, 'arrayOps'], [1, 'deep'], [0.15, 'huge'],
    ]);
    switch (op) {
      case 'delete':
        if (slot.parent instanceof Obj) slot.parent.entries.splice(slot.index, 1);
        else if (Array.isArray(slot.parent)) slot.parent.splice(slot.index, 1);
        else root = rng.pick([null, new Obj(), []]);
        break;
      case 'random':
        set(randomNode(rng, rng.below(4), vocabulary));
        break;
      case 'number':
        set(rng.pick(NUMBERS));
        break;
      case 'string':
        set(interestingString(rng));
        break;
      case 'retype':
        set(retype(rng, cur));
        break;
      case 'addKey': {
        const target = cur instanceof Obj ? cur : null;
        if (target) target.entries.splice(rng.below(target.entries.length + 1), 0, [interestingKey(rng, vocabulary), randomNode(rng, 2, vocabulary)]);
        else set(new Obj([[interestingKey(rng, vocabulary), cur]]));
        break;
      }
      case 'duplicateKey': {
        // The same key twice: JSON.parse keeps the last, so put the bad value first or last.
        if (!(slot.parent instanceof Obj)) break;
        const [key] = slot.parent.entries[slot.index]!;
        const other = rng.chance(0.5) ? randomNode(rng, 2, vocabulary) : rng.pick([null, 0, '', []]);
        slot.parent.entries.splice(rng.chance(0.5) ? slot.index : slot.parent.entries.length, 0, [key, other]);
        break;
      }
      case 'proto': {
        // A prototype-pollution attempt: a valid-looking section hidden behind __proto__ or
        // constructor.prototype, where a careless copy would let it through unvalidated.
        const section = new Obj([[rng.pick(vocabulary), randomNode(rng, 2, vocabulary)], ['args', ['']], ['cwd', 'relative']]);
        const key = rng.pick(['__proto__', 'constructor', 'prototype']);
        const value: Node = key === 'constructor' ? new Obj([['prototype', section]]) : section;
        if (cur instanceof Obj) cur.entries.push([key, value]);
        else set(new Obj([[key, value]]));
        break;
      }
      case 'wrap':
        // Arrays where objects are expected and the other way round.
        set(rng.pick([
          () => [cur],
          () => new Obj([['0', cur]]),
          () => (cur instanceof Obj ? cur.entries.map(([, v]) => v) : Array.isArray(cur) ? new Obj(cur.map((v, i) => [String(i), v])) : [cur]),
        ])());
        break;
      case 'arrayOps':
        if (Array.isArray(cur) && cur.length > 0) {
          const i = rng.below(cur.length);
          if (rng.chance(0.5)) cur.splice(i, 0, clone(cur[i]!));
          else cur.splice(i, 0, randomNode(rng, 2, vocabulary));
        } else if (Array.isArray(cur)) cur.push(randomNode(rng, 2, vocabulary));
        else set([]);
        break;
      case 'deep':
        set(deepNesting(rng, rng.pick([50, 1000, 10_000, 100_000])));
        break;
      case 'huge': {
        // Many copies of one entry of a list: a quadratic check shows up as a slow case.
        const lists = all.filter((s) => Array.isArray(get(s, root)));
        if (lists.length > 0 && !Array.isArray(cur) && rng.chance(0.8)) {
          slot = rng.pick(lists);
          cur = get(slot, root);
        }
        const item = Array.isArray(cur) && cur.length > 0 ? cur[rng.below(cur.length)]! : cur;
        // At most ~3 MB of text: still past the spread limit with small entries.
        const n = Math.min(rng.pick(HUGE), Math.floor(3e6 / (render(item).length + 1)));
        const copy = Array.isArray(cur) && rng.chance(0.5) ? (i: number) => numbered(item, i) : () => item;
        set(Array.from({ length: n }, (_, i) => copy(i)));
        break;
      }
    }
  }
  return root;
}

/** `item` with its numbers shifted by `i`, so copies of an id mapping do not overlap. */
function numbered(item: Node, i: number): Node {
  if (typeof item === 'number') return item + i;
  if (item instanceof Obj) return new Obj(item.entries.map(([k, v]) => [k, typeof v === 'number' ? v + i : v]));
  return item;
}

function clone(n: Node): Node {
  if (n instanceof Obj) return new Obj(n.entries.map(([k, v]) => [k, clone(v)]));
  if (Array.isArray(n)) return n.map(clone);
  return n;
}

/** The same content in another JSON type. */
function retype(rng: Rng, v: Node): Node {
  if (typeof v === 'number') return rng.pick([String(v), v !== 0, [v], null]);
  if (typeof v === 'string') return rng.pick([Number(v) || 0, v !== '', [v], new Obj([[v, v]]), null]);
  if (typeof v === 'boolean') return rng.pick([String(v), v ? 1 : 0, null, [v]]);
  if (v === null) return rng.pick([0, '', false, [], new Obj()]);
  if (v instanceof Obj) return rng.pick([v.entries.map(([, x]) => x), v.entries.length, JSON.stringify(render(v)), null]);
  if (Array.isArray(v)) return rng.pick([new Obj(v.map((x, i) => [String(i), x])), v.length, v.join(','), null]);
  return null;
}

// ---- mutations of the bytes --------------------------------------------------------------

const GARBAGE: readonly (readonly number[])[] = [
  [0x7b], [0x7d], [0x5b], [0x5d], [0x2c], [0x3a], [0x22], [0x5c], [0x20], [0x0a], [0x0d], [0x09], [0x00], [0x2d], [0x2e],
  [0x65], [0x30], [0x31], [0x74], [0x6e], [0xff], [0xfe], [0xc3], [0xe2, 0x80], [0xe2, 0x80, 0xa8], [0xef, 0xbb, 0xbf],
  [0xf0, 0x9f, 0x98, 0x80], [0xed, 0xa0, 0x80], [0x2f, 0x2a], [0x5c, 0x75], [0x5c, 0x75, 0x30, 0x30],
];

/** 1 to 4 byte-level changes: truncation, flipped bits, garbage inserted, ranges cut or doubled. */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let m = rng.int(1, 4); m > 0; m--) {
    const at = rng.below(b.length + 1);
    switch (rng.below(7)) {
      case 0:
        b = b.subarray(0, at);
        break;
      case 1:
        if (at < b.length) b[at] = b[at]! ^ (1 << rng.below(8));
        break;
      case 2:
        if (at < b.length) b[at] = rng.below(256);
        break;
      case 3: {
        const bytes: number[] = [];
        for (let n = rng.int(1, 3); n > 0; n--) bytes.push(...rng.pick(GARBAGE));
        b = Buffer.concat([b.subarray(0, at), Buffer.from(bytes), b.subarray(at)]);
        break;
      }
      case 4: {
        const end = Math.min(b.length, at + rng.int(1, 64));
        b = Buffer.concat([b.subarray(0, at), b.subarray(end)]);
        break;
      }
      case 5: {
        const end = Math.min(b.length, at + rng.int(1, 64));
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      default: {
        // A quote or bracket dropped or added is the commonest hand-editing mistake.
        const i = b.indexOf(rng.pick([0x22, 0x7d, 0x5d, 0x2c, 0x3a]), at);
        if (i >= 0) b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
        break;
      }
    }
  }
  return b;
}

// ---- watchdog ----------------------------------------------------------------------------

/** A case that never returns cannot be timed from the thread running it, so a worker watches
 * a heartbeat in shared memory: when one case has been running for longer than the limit, it
 * prints how to replay the case and kills the process (the main thread is stuck in sync code,
 * nothing else can stop it). */
export class Watchdog {
  private readonly shared = new Int32Array(new SharedArrayBuffer(5 * 4));
  private readonly worker: Worker;
  constructor(seed: number, streams: readonly string[], hangMs: number) {
    this.worker = new Worker(WATCHDOG_SOURCE, { eval: true, workerData: { sab: this.shared.buffer, seed, streams, hangMs } });
    this.worker.unref();
  }
  /** Case `n` of stream `stream` starts; the watchdog allows it `limitMs` at least. */
  enter(stream: number, n: number, limitMs: number): void {
    Atomics.store(this.shared, 1, stream);
    Atomics.store(this.shared, 2, n);
    Atomics.store(this.shared, 3, Math.ceil(limitMs));
    Atomics.add(this.shared, 0, 1);
  }
  leave(): void {
    Atomics.store(this.shared, 3, 0);
    Atomics.add(this.shared, 0, 1);
  }
  async stop(): Promise<void> {
    Atomics.store(this.shared, 4, 1);
    Atomics.notify(this.shared, 4);
    await this.worker.terminate();
  }
}

// Slots: 0 heartbeat (bumped on enter and leave), 1 stream, 2 case, 3 limit in ms (0 between
// cases), 4 stop flag.
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const s = new Int32Array(workerData.sab);
let beat = -1, since = Date.now();
for (;;) {
  Atomics.wait(s, 4, 0, 250);
  if (Atomics.load(s, 4) !== 0) break;
  const b = Atomics.load(s, 0);
  if (b !== beat) { beat = b; since = Date.now(); continue; }
  const limit = Atomics.load(s, 3);
  if (limit === 0 || Date.now() - since < Math.max(workerData.hangMs, 5 * limit)) continue;
  const stream = workerData.streams[Atomics.load(s, 1)], n = Atomics.load(s, 2);
  writeSync(2, '\\nspec fuzz: case ' + stream + ':' + n + ' has run for ' + (Date.now() - since) + ' ms without returning (seed ' +
    workerData.seed + '). Replay it with LAUNCH_FUZZ_SEED=' + workerData.seed + ' LAUNCH_FUZZ_CASE=' + stream + ':' + n + '\\n');
  process.kill(process.pid, 'SIGKILL');
}
`;
