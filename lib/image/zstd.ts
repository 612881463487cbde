// zstd decoding. node:zlib has it from Node 23.8.0 and 22.15.0 on; `engines` allows Node 20,
// whose zlib has none. So no module imports `createZstdDecompress` by name: an ESM import of a
// missing export fails when the module graph links, which took every image verb down on Node
// 20 (`pull`, `images`, `rmi`... as "internal error"), zstd layer or not. The decoder is
// looked up here, when a zstd stream is actually met, and its absence is one error line that
// names what needed it and which Node would do.
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { hostError, type LaunchError } from '../errors.js';

/** The Node releases whose zlib decodes zstd (zlib.createZstdDecompress). */
export const ZSTD_NODES = 'Node >= 22.15 (or >= 23.8 on 23.x)';

type Zlib = { createZstdDecompress?: () => Transform };

export interface ZstdSubject {
  /** What the data is, first on the line: `layer sha256:...`, ``archive `FILE` ``. */
  subject: string;
  /** What kind of thing needs the newer Node. */
  kind?: 'layers' | 'archives';
}

/** Why `s.subject` cannot be decoded on this Node, or undefined when it can. `z` stands in for
 * node:zlib in tests. */
export function zstdMissing(s: ZstdSubject, z: Zlib = zlib as Zlib): LaunchError | undefined {
  // `in` first: a module namespace (or a test's stand-in) need not allow reading a name it lacks.
  if ('createZstdDecompress' in z && typeof z.createZstdDecompress === 'function') return undefined;
  return hostError(
    `${s.subject}: zstd-compressed, and zstd ${s.kind ?? 'layers'} need ${ZSTD_NODES}: this Node, ${process.version} at \`${process.execPath}\`, has no zstd decoder`,
    { code: 'NODE_NO_ZSTD' },
  );
}

/** A zstd decoding stream, or the one-line error above (thrown). */
export function zstdDecompressor(s: ZstdSubject, z: Zlib = zlib as Zlib): Transform {
  const missing = zstdMissing(s, z);
  if (missing) throw missing;
  return z.createZstdDecompress!();
}
