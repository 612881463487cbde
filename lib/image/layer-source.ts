// A layer blob as a stream of plain tar bytes. The compression is read from the data's magic
// bytes, not from the descriptor's mediaType: registries and `docker save` archives are known
// to label layers wrongly (a plain tar under a +gzip type, or the reverse), and the bytes are
// what must be decoded. The mediaType only adds a note when it disagrees, and refuses what
// cannot be decoded at all (encrypted layers).
import { Readable, pipeline, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { usageError } from '../errors.js';
import { zstdDecompressor } from './zstd.js';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

/** Bytes needed to tell the formats apart (bzip2's block magic ends at byte 10). */
const SNIFF_BYTES = 10;

export function sniffCompression(head: Buffer): Compression {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x1f, 0x8b)) return 'gzip';

  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  // "BZh", a block size digit, then a block's or the end-of-stream's magic: a plain tar whose
  // first file is named "BZh9..." must not be taken for bzip2.
  const digit = head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39;
  const block = head.subarray(4, 10).toString('hex');
  if (starts(0x42, 0x5a, 0x68) && digit && (block === '314159265359' || block === '177245385090')) return 'bzip2';
  return 'none';
}

/** What the descriptor claims, or undefined for a media type we do not know. */
export function mediaTypeCompression(mediaType: string): Compression | undefined {
  if (/[+.]gzip$/.test(mediaType)) return 'gzip';
  if (/[+.]zstd$/.test(mediaType)) return 'zstd';
  if (/[+.]tar$/.test(mediaType)) return 'none';
  return undefined;
}

/** A read error of the blob itself (file, network), told apart from a decoding error. */
export class SourceError extends Error {
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
  }
}

/** Whether a stream error came from zlib/zstd decoding (corrupt or truncated data). */
export function isDecodeError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(Z_|ZSTD_|ERR_ZLIB)/.test(code);
}

export interface OpenedLayer {
  compression: Compression;
  /** Plain tar bytes. Reading errors surface as SourceError, decoding errors as zlib's. */
  tar: Readable;
}

export async function openLayer(
  layer: Readable | Buffer,
  opts: { mediaType?: string; plain?: boolean; prefix: string; note: (msg: string) => void },
): Promise<OpenedLayer> {
  if (opts.mediaType?.includes('encrypted')) {
    throw usageError(`${opts.prefix}encrypted layers are not supported (media type \`${opts.mediaType}\`)`, { code: 'LAYER_UNSUPPORTED' });
  }
  // Read just enough to sniff, then hand on those bytes and the rest as one stream.
  const it = (Buffer.isBuffer(layer) ? Readable.from([layer]) : layer)[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const first: Buffer[] = [];
  let have = 0;
  try {
    while (have < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) break;
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      first.push(b);
      have += b.length;
    }
  } catch (err) {
    throw new SourceError(err);
  }
  const head = Buffer.concat(first);
  const rest = Readable.from(
    (async function* () {
      try {
        if (head.length > 0) yield head;
        for (;;) {
          let r: IteratorResult<Buffer | string>;
          try {
            r = await it.next();
          } catch (err) {
            throw new SourceError(err);
          }
          if (r.done) return;
          yield typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        }
      } finally {
        await it.return?.(); // stops (destroys) the caller's stream when we stop early
      }
    })(),
    { objectMode: false },
  );

  const compression = sniffCompression(head);
  if (opts.plain && compression !== 'none') {
    // The image source decompressed the blob already (and checked it against its DiffID):
    // compressed data inside is a layer compressed twice, which docker and containerd refuse
    // as not a tar (the tar parser here would quietly decompress it once more).
    rest.destroy();
    throw usageError(`${opts.prefix}the uncompressed layer is ${compression} data again, not a tar`, { code: 'LAYER_CORRUPT' });
  }
  const claimed = opts.mediaType === undefined ? undefined : mediaTypeCompression(opts.mediaType);
  if (claimed !== undefined && claimed !== compression) {
    opts.note(`${opts.prefix}media type \`${opts.mediaType}\` says ${claimed === 'none' ? 'plain tar' : claimed} but the data is ${compression === 'none' ? 'not compressed' : compression}: decoding it as the data says`);
  }
  let decoder: Transform;
  switch (compression) {
    case 'none':
      return { compression, tar: rest };
    case 'gzip':
      decoder = zlib.createGunzip();
      break;
    case 'zstd':
      try {
        decoder = zstdDecompressor({ subject: opts.prefix ? opts.prefix.replace(/: $/, '') : 'layer' });
      } catch (err) {
        rest.destroy();
        throw err;
      }
      break;
    default:
      rest.destroy();
      throw usageError(`${opts.prefix}${compression}-compressed layer: OCI layers are plain tar, gzip or zstd`, { code: 'LAYER_UNSUPPORTED' });
  }
  // pipeline: an error on either side destroys both (and so the caller's stream).
  pipeline(rest, decoder, () => {});
  return { compression, tar: decoder };
}
