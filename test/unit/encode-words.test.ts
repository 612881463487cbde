// The plan's 64-bit words (lib/plan/encode.ts) as the addon reads them: two's complement of
// the number or BigInt given, exact beyond 2^53 where the value is, and a RangeError for a
// number that is not an integer. encodePlan writes them as two 32-bit halves (it runs in the
// interpreter on a cold start), so the halves' arithmetic is held to BigInt.asUintN here.
import { describe, expect, it } from 'vitest';
import { encodePlan } from '../../lib/plan/encode.js';

const HEADER = 32;
const word = (v: number | bigint) => encodePlan([{ op: 'SYNC', args: [v] } as never]).readBigUInt64LE(HEADER + 8);

describe('plan words', () => {
  const values: (number | bigint)[] = [0, 1, -1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 60, -(2 ** 63), 2 ** 64,
    0n, -1n, 2n ** 63n, 2n ** 64n - 1n, -(2n ** 63n), 0xdeadbeefcafen];
  for (const v of values) {
    it(`encodes ${typeof v} ${v} as BigInt.asUintN(64, ...)`, () => {
      expect(word(v)).toBe(BigInt.asUintN(64, BigInt(v)));
    });
  }
  it('refuses a number that is not an integer', () => {
    expect(() => word(1.5)).toThrow(RangeError);
    expect(() => word(Number.NaN)).toThrow(RangeError);
  });
  it('writes the op code and flags', () => {
    const b = encodePlan([{ op: 'MKNOD', flags: 7, args: ['/x', 1, 2] } as never]);
    expect([b.readUInt32LE(HEADER), b.readUInt32LE(HEADER + 4)]).toEqual([8, 7]);
  });
  it('places every string, non-ASCII ones and those around a blob, at the offset its word names', () => {
    const strs = ['/ä', 'e\u0301', '/日本', 'x\ud800y', ''];
    const ops = [...strs.map((s) => ({ op: 'MASK', args: [s] })), { op: 'SECCOMP', args: [new Uint8Array([1, 2, 3]), 0, 0] }, { op: 'MASK', args: ['/після'] }];
    const b = encodePlan(ops as never);
    const table = HEADER + ops.length * (8 + 6 * 8);
    const at = (i: number) => {
      const off = table + Number(b.readBigUInt64LE(HEADER + i * 56 + 8));
      return b.toString('utf8', off, b.indexOf(0, off));
    };
    [...strs, undefined, '/після'].forEach((s, i) => s !== undefined && expect(at(i)).toBe(Buffer.from(s).toString('utf8')));
  });
});
