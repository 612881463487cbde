// Where an image's files come from: a directory (oci:) or an indexed tar archive
// (oci-archive:, docker-archive:; see archive.ts). The readers above this never touch the file
// system themselves, so a layout reads the same from a directory and from a tar of it.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { LaunchError, fromNodeError, type ErrorKind } from '../errors.js';

export interface BlobStore {
  /** The directory or archive (absolute): the file every error line names. */
  readonly path: string;
  /** Words added to "not found" errors, e.g. that the archive looks truncated. */
  readonly hint: string;
  /** Size of a regular file, undefined when there is none by that name. */
  size(entry: string): Promise<number | undefined>;
  /** The whole file; callers check size() first and keep to small files. */
  read(entry: string): Promise<Buffer>;
  /** The file as a stream; its errors may be plain Node errors (layer.ts maps them). */
  open(entry: string): Readable;
  close(): Promise<void>;
}

/** manifest, index, config and manifest.json above this are refused, not read into memory
 * (containerd refuses manifests over 4 MiB; configs with long histories are bigger). */
export const JSON_LIMIT = 16 << 20;

/** `<what> in \`<image>\``: every image error names the directory or archive the user gave,
 * and says where inside it in `what` (`layer sha256:...: digest mismatch ...`). */
export function imageError(kind: ErrorKind, code: string, what: string, path: string, cause?: unknown): LaunchError {
  return new LaunchError(kind, `${what} in`, { code, file: path, cause });
}

/** A file every reader needs, or a clear error that it is missing. */
export async function requireSize(store: BlobStore, entry: string, subject: string): Promise<number> {
  const size = await store.size(entry);
  if (size === undefined) throw imageError('spec', 'IMAGE_MISSING', `${subject}: ${entry} is missing${store.hint}`, store.path);
  return size;
}

/** JSON.parse with the position of a syntax error, found by the config loader's scanner. That
 * module is loaded only on this error path: opening a good image does not pay for it. */
export async function parseJsonIn(data: Buffer, subject: string, path: string): Promise<unknown> {
  const text = data.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    const { jsonSyntaxError } = await import('../spec/load.js');
    let found: { offset: number; reason: string } | undefined;
    try {
      found = jsonSyntaxError(text);
    } catch {
      // A scanner bug only: V8's own words, at the start of the document, are the best there is.
    }
    const offset = found?.offset ?? 0;
    const reason = found?.reason ?? String((err as Error).message).split('\n')[0];
    const before = text.slice(0, offset).split('\n');
    const where = `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
    throw imageError('spec', 'IMAGE_JSON', `${subject}: invalid JSON (${reason}) at ${where}`, path, err);
  }
}

export function readFailure(entry: string, path: string, err: unknown): LaunchError {
  if (err instanceof LaunchError) return err;
  return fromNodeError('host', `cannot read ${entry} in`, err, { code: 'IMAGE_READ', file: path });
}

/** An OCI image layout directory. */
export class DirStore implements BlobStore {
  readonly hint = '';
  constructor(readonly path: string) {}

  async size(entry: string): Promise<number | undefined> {
    try {
      const st = await stat(join(this.path, entry));
      return st.isFile() ? st.size : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw readFailure(entry, this.path, err);
    }
  }

  async read(entry: string): Promise<Buffer> {
    try {
      return await readFile(join(this.path, entry));
    } catch (err) {
      throw readFailure(entry, this.path, err);
    }
  }

  open(entry: string): Readable {
    return createReadStream(join(this.path, entry));
  }

  async close(): Promise<void> {}
}
