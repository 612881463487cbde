// Content digests (OCI image-spec descriptor.md#digests): parse them before they become file
// names, and check every blob against its digest and declared size, in memory or while it
// streams past.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { LaunchError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
  /** `algorithm:hex`, the form descriptors use. */
  text: string;
}

// Only the registered algorithms, with their exact lengths. The encoded part later becomes a
// path (`blobs/sha256/<hex>`), so anything looser would let a descriptor such as
// `sha256:../../../etc/shadow` name a file outside the image.
const ENCODED: Record<DigestAlgorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/** The digest, or a reason it is not one we can check. */
export function parseDigest(text: unknown): Digest | string {
  if (typeof text !== 'string') return 'a digest must be a string';
  const colon = text.indexOf(':');
  if (colon < 0) return `invalid digest ${JSON.stringify(text)}`;
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return `unsupported digest algorithm ${JSON.stringify(algorithm)}`;
  if (!ENCODED[algorithm].test(hex)) return `invalid ${algorithm} digest ${JSON.stringify(text)}`;
  return { algorithm, hex, text };
}

/** Where a blob of this digest lives in an OCI image layout. */
export function blobPath(d: Digest): string {
  return `blobs/${d.algorithm}/${d.hex}`;
}

function digestOf(hash: Hash, algorithm: DigestAlgorithm): string {
  return `${algorithm}:${hash.digest('hex')}`;
}

/** What went wrong, in words that follow "<blob>: " in the error line. */
export type Mismatch = (problem: string) => LaunchError;

/** Check a blob held in memory. */
export function verifyBuffer(data: Buffer, digest: Digest, size: number | undefined, fail: Mismatch): void {
  if (size !== undefined && data.length !== size) throw fail(`size mismatch (declared ${size} bytes, got ${data.length})`);
  const got = digestOf(createHash(digest.algorithm).update(data), digest.algorithm);
  if (got !== digest.text) throw fail(`digest mismatch (got ${got})`);
}

/** A pass-through that hashes and counts what flows through it and fails at the end of the
 * stream, before it ends its readable side, when the content is not the declared one. So a
 * consumer applying a layer sees an error instead of `end` and never commits a forged layer;
 * it must still treat everything it wrote before as untrusted until `end`. Bytes beyond the
 * declared size fail at once: an endless or oversized blob is not read to the end first. */
export function verifier(digest: Digest, size: number | undefined, fail: Mismatch): Transform {
  const hash = createHash(digest.algorithm);
  let count = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      count += chunk.length;
      if (size !== undefined && count > size) return done(fail(`size mismatch (declared ${size} bytes, got more)`));
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      if (size !== undefined && count !== size) return done(fail(`size mismatch (declared ${size} bytes, got ${count})`));
      const got = digestOf(hash, digest.algorithm);
      done(got === digest.text ? null : fail(`digest mismatch (got ${got})`));
    },
  });
}
