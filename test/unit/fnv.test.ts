// The entry checksum and file name (lib/compiled/format.ts fnv1a64) must be the hash the
// native runner computes (addon/common/fnv.h, which both call): the published FNV-1a 64 vectors, and the
// plain 64-bit definition over random inputs.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fnv1a64 } from '../../lib/compiled/format.js';

function reference(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

describe('fnv1a64', () => {
  it('gives the published FNV-1a 64 values', () => {
    expect(fnv1a64(Buffer.from(''))).toBe('cbf29ce484222325');
    expect(fnv1a64(Buffer.from('a'))).toBe('af63dc4c8601ec8c');
    expect(fnv1a64(Buffer.from('foobar'))).toBe('85944171f73967e8');
  });
  it('matches the 64-bit definition on random inputs of every length up to 300', () => {
    for (let n = 0; n <= 300; n++) {
      const b = randomBytes(n);
      expect(fnv1a64(b), b.toString('hex')).toBe(reference(b));
    }
    const big = randomBytes(200_000);
    expect(fnv1a64(big)).toBe(reference(big));
  });
});
