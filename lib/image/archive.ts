// A tar archive (oci-archive:, docker-archive:) read in place: one pass over its headers
// records where each file's bytes are, and blobs are then read with positional reads from one
// open file. Nothing is extracted: an image's layers are read once, by whoever applies them.
// A compressed archive (`docker save | gzip`) cannot be read in place, so it is first
// decompressed into a private temporary directory that close() (or a failed open) removes.
//
// Header parsing (ustar, pax `x`/`g`, GNU long names, base-256 sizes) is the `tar` package's
// Header and Pax; only the walk from header to header is here, because the package's Parser
// streams every data byte past, and we want to skip them.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Header, Pax, type HeaderData } from 'tar';
import { LaunchError, fromNodeError } from '../errors.js';
import { imageError, type BlobStore } from './store.js';
import { zstdDecompressor } from './zstd.js';

interface Entry {
  name: string;
  offset: number;
  size: number;
  kind: 'file' | 'symlink' | 'link' | 'other';
  linkpath: string;
}

// pax and GNU long-name bodies are a few hundred bytes; a huge one is a broken or hostile file.
const META_LIMIT = 1 << 20;
const MAX_LINK_HOPS = 16;

/** `./blobs//sha256/x` and `/blobs/sha256/x` are `blobs/sha256/x`; a name that climbs out of
 * the archive (`../x`) names nothing. */
function normalizeName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '' || n === '.' ? undefined : n;
}

async function readAt(fh: FileHandle, buf: Buffer, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    // The file shrank under us since it was indexed.
    if (bytesRead === 0) throw imageError('spec', 'IMAGE_TRUNCATED', `truncated archive (it ends at offset ${position + done})`, path);
    done += bytesRead;
  }
}

async function readMeta(fh: FileHandle, offset: number, size: number, path: string): Promise<string> {
  if (size > META_LIMIT) throw imageError('spec', 'IMAGE_ARCHIVE', `tar extended header of ${size} bytes at offset ${offset - 512}`, path);
  const buf = Buffer.alloc(size);
  await readAt(fh, buf, offset, path);
  return buf.toString('utf8');
}

/** Every entry's name, kind and data position; whether the archive ended with its
 * end-of-archive block (a missing one, with files missing too, means it was cut short). */
async function indexTar(fh: FileHandle, fileSize: number, path: string, notTar: string): Promise<{ entries: Map<string, Entry>; complete: boolean }> {
  const entries = new Map<string, Entry>();
  const block = Buffer.alloc(512);
  let ex: HeaderData | undefined;
  let gex: HeaderData | undefined;
  let pos = 0;
  for (;;) {
    if (pos >= fileSize) return { entries, complete: false };
    if (pos + 512 > fileSize) {
      if (pos === 0) throw imageError('usage', 'IMAGE_FORMAT', notTar, path);
      throw imageError('spec', 'IMAGE_TRUNCATED', `truncated archive (it ends inside the tar header at offset ${pos})`, path);
    }
    await readAt(fh, block, pos, path);
    const h = new Header(block, 0, ex, gex);
    // One zero block is enough: what follows the end-of-archive marker is padding.
    if (h.nullBlock) return { entries, complete: true };
    if (!h.cksumValid) {
      if (pos === 0) throw imageError('usage', 'IMAGE_FORMAT', notTar, path);
      throw imageError('spec', 'IMAGE_ARCHIVE', `corrupt archive (bad tar header checksum at offset ${pos})`, path);
    }
    const size = h.size ?? 0;
    const data = pos + 512;
    if (data + size > fileSize) {
      throw imageError('spec', 'IMAGE_TRUNCATED', `truncated archive (${h.path} needs ${size} bytes at offset ${data}, the file has ${fileSize - data})`, path);
    }
    switch (h.type) {
      case 'ExtendedHeader':
        ex = Pax.parse(await readMeta(fh, data, size, path), ex, false);
        break;
      case 'GlobalExtendedHeader':
        gex = Pax.parse(await readMeta(fh, data, size, path), gex, true);
        break;
      case 'NextFileHasLongPath':
      case 'OldGnuLongPath':
        ex = { ...ex, path: (await readMeta(fh, data, size, path)).replace(/\0[^]*$/, '') };
        break;
      case 'NextFileHasLongLinkpath':
        ex = { ...ex, linkpath: (await readMeta(fh, data, size, path)).replace(/\0[^]*$/, '') };
        break;
      default: {
        ex = undefined;
        const name = normalizeName(h.path ?? '');
        if (name === undefined) break;
        const t = h.type;
        const kind = t === 'File' || t === 'OldFile' || t === 'ContiguousFile' ? 'file' : t === 'SymbolicLink' ? 'symlink' : t === 'Link' ? 'link' : 'other';
        // Later entries win, as when tar extracts an archive with a name twice.
        entries.set(name, { name, offset: data, size, kind, linkpath: h.linkpath ?? '' });
      }
    }
    pos = data + Math.ceil(size / 512) * 512;
  }
}

type Magic = 'gzip' | 'zstd' | 'xz' | 'bzip2' | undefined;

export function sniff(head: Buffer): Magic {
  if (head.length < 6) return undefined;
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  // "BZh", a block size digit, then a block's (or the end of stream's) magic: a tar whose first
  // member is named "BZh..." is still a tar.
  if (head.length >= 10 && head.subarray(0, 3).toString('latin1') === 'BZh' && head[3]! >= 0x31 && head[3]! <= 0x39) {
    const block = head.subarray(4, 10).toString('hex');
    if (block === '314159265359' || block === '177245385090') return 'bzip2';
  }
  return undefined;
}

/** `docker save | gzip` into a private temporary file; the directory is removed on failure. */
async function decompressToTemp(path: string, magic: 'gzip' | 'zstd'): Promise<string> {
  const decoder = magic === 'gzip' ? createGunzip() : zstdDecompressor({ subject: `archive \`${path}\``, kind: 'archives' });
  const dir = await mkdtemp(join(tmpdir(), 'launch-image-'));
  const out = join(dir, 'archive.tar');
  try {
    await pipeline(createReadStream(path), decoder, createWriteStream(out, { mode: 0o600 }));
    return dir;
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    // zlib's own errors (Z_BUF_ERROR "unexpected end of file", Z_DATA_ERROR) are the archive's;
    // anything with a syscall (ENOSPC writing the copy) is the host's.
    if (e.syscall) throw fromNodeError('host', `cannot decompress the archive into \`${dir}\` from`, err, { code: 'IMAGE_READ', file: path });
    throw imageError('spec', 'IMAGE_TRUNCATED', `truncated or corrupt ${magic} stream (${e.message})`, path, err);
  }
}

const CHUNK = 256 << 10;

/** One member's bytes, by positional reads on the archive's shared handle: several layers
 * may stream at once, and destroying a stream leaves the handle open for the others (a
 * FileHandle's own createReadStream closes the handle when the stream is destroyed). */
class RangeStream extends Readable {
  private pos: number;
  private left: number;

  constructor(private readonly fh: FileHandle, offset: number, size: number, private readonly path: string) {
    super({ highWaterMark: CHUNK });
    this.pos = offset;
    this.left = size;
  }

  override _read(): void {
    if (this.left === 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, this.left));
    this.fh.read(buf, 0, buf.length, this.pos).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) {
          this.destroy(imageError('spec', 'IMAGE_TRUNCATED', `truncated archive (it ends at offset ${this.pos})`, this.path));
          return;
        }
        this.pos += bytesRead;
        this.left -= bytesRead;
        this.push(buf.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }
}

export class TarStore implements BlobStore {
  readonly hint: string;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private readonly entries: Map<string, Entry>,
    complete: boolean,
    private readonly tempDir: string | undefined,
  ) {
    this.hint = complete ? '' : ' (the archive has no end-of-archive marker: it may be truncated)';
  }

  /** Open and index `path`. `what` names the format in errors ("an oci-archive"). */
  static async open(path: string, what: string, directoryHint: string): Promise<TarStore> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw fromNodeError('usage', 'cannot open image', err, { code: 'IMAGE_OPEN', file: path });
    }
    let tempDir: string | undefined;
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw imageError('usage', 'IMAGE_FORMAT', `a directory is not ${what}${directoryHint}`, path);
      if (st.size === 0) throw imageError('usage', 'IMAGE_FORMAT', `empty file, not ${what}`, path);
      const head = Buffer.alloc(Math.min(512, st.size));
      await readAt(fh, head, 0, path);
      const magic = sniff(head);
      let size = st.size;
      if (magic === 'xz' || magic === 'bzip2') {
        throw imageError('usage', 'IMAGE_FORMAT', `${what} compressed with ${magic}, which launch does not read (decompress it first)`, path);
      }
      if (magic) {
        tempDir = await decompressToTemp(path, magic);
        await fh.close();
        fh = await open(join(tempDir, 'archive.tar'), 'r');
        size = (await fh.stat()).size;
      }
      const { entries, complete } = await indexTar(fh, size, path, `not ${what} (not a tar archive)`);
      return new TarStore(path, fh, entries, complete, tempDir);
    } catch (err) {
      await fh.close().catch(() => undefined);
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      if (err instanceof LaunchError) throw err;
      throw fromNodeError('host', 'cannot read', err, { code: 'IMAGE_READ', file: path });
    }
  }

  /** The regular file a name stands for, through symbolic and hard links (docker save links
   * `<id>/layer.tar` to the copy another image id already has). */
  private lookup(name: string): Entry | undefined {
    let n = normalizeName(name);
    for (let hop = 0; n !== undefined && hop <= MAX_LINK_HOPS; hop++) {
      const e = this.entries.get(n);
      if (!e) return undefined;
      if (e.kind === 'file') return e;
      if (e.kind === 'symlink') n = normalizeName(e.linkpath.startsWith('/') ? e.linkpath : posix.join(posix.dirname(e.name), e.linkpath));
      else if (e.kind === 'link') n = normalizeName(e.linkpath);
      else return undefined;
    }
    return undefined;
  }

  async size(entry: string): Promise<number | undefined> {
    return this.lookup(entry)?.size;
  }

  async read(entry: string): Promise<Buffer> {
    const e = this.lookup(entry);
    if (!e) throw imageError('spec', 'IMAGE_MISSING', `${entry} is missing${this.hint}`, this.path);
    const buf = Buffer.alloc(e.size);
    await readAt(this.fh, buf, e.offset, this.path);
    return buf;
  }

  /** The first `n` bytes (fewer when the file is shorter): enough to tell compression. */
  async head(entry: string, n: number): Promise<Buffer> {
    const e = this.lookup(entry);
    if (!e) throw imageError('spec', 'IMAGE_MISSING', `${entry} is missing${this.hint}`, this.path);
    const buf = Buffer.alloc(Math.min(n, e.size));
    await readAt(this.fh, buf, e.offset, this.path);
    return buf;
  }

  open(entry: string): Readable {
    const e = this.lookup(entry);
    if (!e) throw imageError('spec', 'IMAGE_MISSING', `${entry} is missing${this.hint}`, this.path);
    return new RangeStream(this.fh, e.offset, e.size, this.path);
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    if (this.tempDir) await rm(this.tempDir, { recursive: true, force: true });
  }
}
