// The arithmetic and the checks behind lib/cgroups/values.ts: how an OCI value becomes the text
// a cgroup file takes, and which values no kernel would take. Pure; no I/O.
//
// Sources (runc's cgroup code now lives in github.com/opencontainers/cgroups):
//   utils.go  ConvertCPUSharesToCgroupV2Value, ConvertMemorySwapToCgroupV2Value,
//             ConvertBlkIOToIOWeightValue
//   fs2/cpu.go (cpu.max), fs2/memory.go (numToStr)
import { specError } from '../errors.js';

const U64_MAX = '18446744073709551615';
const I64_MAX = '9223372036854775807';

/** Decimal text of a uint64 that arrived as a JS number. JSON.parse turns 18446744073709551615
 * into 2**64, so that value stands for u64 max rather than overflowing it. */
export function u64(n: number): string {
  return n >= 2 ** 64 ? U64_MAX : BigInt(n).toString();
}

/** Decimal text of an int64 that arrived as a JS number (2**63 stands for i64 max). */
export function i64(n: number): string {
  return n >= 2 ** 63 ? I64_MAX : BigInt(n).toString();
}

/** cgroup v2 text of a memory-like limit: -1 is "max" (runc's numToStr; v1 takes -1 as is). */
export const v2Limit = (n: number): string => (n === -1 ? 'max' : i64(n));

/** An integer from `min` to `max`, or a spec error naming `path`. Values normally come through
 * the zod schema already; this guards callers that build Resources by hand, and ranges the
 * schema cannot know (they depend on the file the value goes to). */
export function intIn(v: number, path: string, min: number, max: number): number {
  if (!Number.isInteger(v)) throw specError(`expected an integer, got ${v}`, { configPath: path });
  if (v < min || v > max) {
    const hi = max >= 2 ** 63 ? I64_MAX : String(max);
    throw specError(`must be from ${min} to ${hi}, got ${v}`, { configPath: path });
  }
  return v;
}

/** A memory limit: a byte count, -1 for "no limit", or 0 for "leave alone" (runc's reading). */
export const memLimit = (v: number, path: string): number => intIn(v, path, -1, 2 ** 63);

/** A major or minor device number in a `MAJ:MIN` line; -1 is a wildcard only where allowed. */
export function devNum(v: number | undefined, path: string, wildcard: boolean): string {
  if (v === undefined || (wildcard && v === -1)) {
    if (wildcard) return '*';
    throw specError('is required', { configPath: path });
  }
  return String(intIn(v, path, 0, 0xffffffff));
}

const show = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

/** cpuset.cpus / cpuset.mems as the kernel's bitmap_parselist() reads them: numbers and
 * ranges separated by commas or blanks. Written verbatim, as runc does. */
export function cpuList(v: string, path: string): string {
  const items = v.split(/[,\s]+/).filter((s) => s !== '');
  const ok = items.every((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    return m !== null && (m[2] === undefined || Number(m[1]) <= Number(m[2]));
  });
  if (!ok || (items.length === 0 && v !== '')) {
    throw specError(`expected a list like "0-3,7", got ${show(v)}`, { configPath: path });
  }
  return v;
}

/** A huge page size as it appears in hugetlb file names ("2MB", "1GB", "64KB"). It becomes
 * part of a path, so nothing else may pass. */
export function pageSize(v: string, path: string): string {
  if (!/^[0-9]+[KMGT]B$/.test(v)) throw specError(`expected a page size like "2MB", got ${show(v)}`, { configPath: path });
  return v;
}

/** A word that becomes one field of a line (interface name, rdma device): a blank or a
 * newline in it would turn one command into two. */
export function word(v: string, path: string, what: string): string {
  if (!/^[^\s/\0]+$/.test(v)) throw specError(`expected ${what} without blanks or "/", got ${show(v)}`, { configPath: path });
  return v;
}

/** Shares (v1, range [2, 262144]) to weight (v2, range [1, 10000]), as runc >= 1.3.2 and
 * crun >= 1.23 do it (opencontainers/cgroups#20): a quadratic in log2(shares) that maps min,
 * max and the defaults (1024 -> 100) onto each other; out-of-range shares are clamped. */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  return Math.ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34));
}

/** The linear mapping runc used before 1.3.2: 1 + ((shares - 2) * 9999) / 262142, integer
 * division. Kept for comparison with older runtimes (1024 -> 39). */
export function cpuSharesToWeightLinear(shares: number): number {
  if (shares === 0) return 0;
  return Number(1n + ((BigInt(shares) - 2n) * 9999n) / 262142n);
}

/** blkio weight [10, 1000] to io.weight [1, 10000]: 1 + (weight - 10) * 9999 / 990, integer
 * division (runc's ConvertBlkIOToIOWeightValue). Below 10, where runc's unsigned arithmetic
 * wraps around, this gives the minimum, 1. */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  if (weight < 10) return 1;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** memory.swap.max from the OCI pair, as runc's ConvertMemorySwapToCgroupV2Value: OCI `swap`
 * is memory plus swap (v1's memsw), v2 limits swap alone. Returns -1 for "max", 0 for "leave
 * alone" (or "no swap", when swap equals the limit: the caller tells them apart). */
export function swapForV2(swap: number, limit: number, base: string): bigint {
  if (limit === -1 && swap === 0) return -1n; // unlimited memory means unlimited swap too
  if (swap === -1 || swap === 0) return BigInt(swap);
  if (limit === -1) return BigInt(swap);
  if (limit === 0) {
    throw specError(`cannot be set without ${base}.limit`, { configPath: `${base}.swap` });
  }
  const d = BigInt(i64(swap)) - BigInt(i64(limit));
  if (d < 0n) {
    throw specError(`is memory plus swap, so it must be at least ${base}.limit (${i64(limit)}), got ${i64(swap)}`, {
      configPath: `${base}.swap`,
    });
  }
  return d;
}

/** cpu.max: "<quota|max> <period>", or undefined when neither is set. A quota <= 0 is "max";
 * the period defaults to the kernel's 100000 us (runc, fs2/cpu.go). */
export function cpuMax(quota: number, period: number): string | undefined {
  if (quota === 0 && period === 0) return undefined;
  return `${quota > 0 ? i64(quota) : 'max'} ${period === 0 ? '100000' : u64(period)}`;
}
