// Layer streams: the stored bytes, checked while they flow, and optionally decompressed and
// checked again against the config's DiffID. Every stage's error reaches the consumer as one
// LaunchError on the stream it reads, in place of `end`; a consumer that stops early (destroys
// its stream) stops the stages behind it, so no file read is left running.
import type { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LaunchError } from '../errors.js';
import { verifier, type Digest } from './digest.js';
import { imageError, readFailure, type BlobStore } from './store.js';
import type { Compression, ImageLayer } from './types.js';
import { zstdDecompressor } from './zstd.js';

type Stage = {
  stream: Readable | Transform;
  mapError: (err: unknown) => LaunchError;
  /** A verifier: its verdict explains any error downstream of it. */
  verifies?: boolean;
};

/** Pipe the stages and return the last one, the stream the consumer reads. When a stage
 * that is not a verifier fails (gunzip on a flipped byte, usually long before the end of the
 * blob), the nearest verifier upstream is first read to its end: if the blob is not the one
 * its digest names, "digest mismatch" is the error, the cause rather than the symptom. */
function chain(stages: Stage[]): Readable {
  const last = stages[stages.length - 1]!.stream;
  let settled = false;
  let draining = -1;
  const fail = (e: LaunchError) => {
    if (settled) return;
    settled = true;
    for (const s of stages) if (s.stream !== last && !s.stream.destroyed) s.stream.destroy();
    if (!last.destroyed) last.destroy(e);
  };
  stages.forEach((stage, i) => {
    const next = stages[i + 1]?.stream;
    if (next) stage.stream.pipe(next as Transform);
    stage.stream.on('error', (err) => {
      const e = stage.mapError(err);
      if (draining >= 0) {
        // Only what still feeds the drained verifier matters now.
        if (i <= draining) fail(e);
        return;
      }
      let j = i - 1;
      while (j >= 0 && !stages[j]!.verifies) j--;
      // A verifier that has already ended passed the blob: the data itself is bad (a gzip
      // stream cut short inside a blob that matches its digest).
      if (stage.verifies || j < 0 || stages[j]!.stream.readableEnded) return fail(e);
      draining = j;
      const v = stages[j]!.stream;
      v.unpipe();
      v.on('end', () => fail(e));
      v.resume();
    });
  });
  // The consumer gave up (destroyed its stream): stop reading the file behind it.
  last.on('close', () => {
    settled = true;
    for (const s of stages) if (!s.stream.destroyed) s.stream.destroy();
  });
  return last;
}

/** The decoder of `subject`'s data; on a Node without zstd, a zstd layer's error line (thrown
 * before any file is opened, so nothing is left reading). */
function decompressor(c: Exclude<Compression, 'none'>, subject: string): Transform {
  return c === 'gzip' ? createGunzip() : zstdDecompressor({ subject });
}

/** Errors of one stage: a LaunchError (a verifier's) as it is, a zlib error as corrupt data,
 * anything else (EIO) as a read failure of the entry. */
function mapperFor(store: BlobStore, entry: string, subject: string, compression?: Compression): (err: unknown) => LaunchError {
  return (err) => {
    if (err instanceof LaunchError) return err;
    const e = err as NodeJS.ErrnoException;
    if (compression && !e.syscall) return imageError('spec', 'IMAGE_CORRUPT', `${subject}: corrupt ${compression} data (${e.message})`, store.path, err);
    return readFailure(entry, store.path, err);
  };
}

export interface OciLayerInit {
  store: BlobStore;
  entry: string;
  digest: Digest;
  size: number;
  mediaType: string;
  compression: Compression;
  diffID: Digest;
  /** Index in the manifest's layers, for error lines. */
  index: number;
}

/** A layer stored as its blob (OCI layouts): digest and size are the stored bytes'. */
export function ociLayer(l: OciLayerInit): ImageLayer {
  const subject = `layer ${l.digest.text}`;
  const blobStages = (): Stage[] => {
    const fail = (problem: string) => imageError('spec', 'IMAGE_DIGEST', `${subject}: ${problem}`, l.store.path);
    return [
      { stream: l.store.open(l.entry), mapError: mapperFor(l.store, l.entry, subject) },
      { stream: verifier(l.digest, l.size, fail), mapError: mapperFor(l.store, l.entry, subject), verifies: true },
    ];
  };
  return {
    digest: l.digest.text,
    size: l.size,
    mediaType: l.mediaType,
    compression: l.compression,
    diffID: l.diffID.text,
    open: () => chain(blobStages()),
    openTar: () => {
      if (l.compression === 'none') return chain(blobStages());
      const fail = (problem: string) =>
        imageError('spec', 'IMAGE_DIGEST', `${subject}: uncompressed, not rootfs.diff_ids[${l.index}] ${l.diffID.text}: ${problem}`, l.store.path);
      const decoder = decompressor(l.compression, subject);
      return chain([
        ...blobStages(),
        { stream: decoder, mapError: mapperFor(l.store, l.entry, subject, l.compression) },
        { stream: verifier(l.diffID, undefined, fail), mapError: mapperFor(l.store, l.entry, subject), verifies: true },
      ]);
    },
  };
}

export interface ArchivedLayerInit {
  store: BlobStore;
  entry: string;
  /** How the file in the archive is compressed (sniffed: docker-archive does not say). */
  stored: Compression;
  storedSize: number;
  diffID: Digest;
  index: number;
}

/** A docker-archive layer: the only digest the image records is the config's DiffID, of the
 * uncompressed tar, so that is what open() yields and checks, decompressing first when the
 * file in the archive is compressed (then its size is not known before reading it). */
export function archivedLayer(l: ArchivedLayerInit): ImageLayer {
  const subject = `layer ${l.diffID.text} (${l.entry})`;
  const size = l.stored === 'none' ? l.storedSize : undefined;
  const open = () => {
    const fail = (problem: string) => imageError('spec', 'IMAGE_DIGEST', `${subject}: ${problem}`, l.store.path);
    const decoder = l.stored === 'none' ? undefined : decompressor(l.stored, subject);
    const stages: Stage[] = [{ stream: l.store.open(l.entry), mapError: mapperFor(l.store, l.entry, subject) }];
    if (decoder) stages.push({ stream: decoder, mapError: mapperFor(l.store, l.entry, subject, l.stored) });
    stages.push({ stream: verifier(l.diffID, size, fail), mapError: mapperFor(l.store, l.entry, subject), verifies: true });
    return chain(stages);
  };
  return {
    digest: l.diffID.text,
    size,
    mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
    compression: 'none',
    diffID: l.diffID.text,
    open,
    openTar: open,
  };
}
