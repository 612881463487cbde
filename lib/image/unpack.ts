// Applies one OCI/Docker image layer (a tar stream: plain, gzip or zstd) onto a root
// filesystem, as image-spec layer.md describes: entries in order, whiteouts (`.wh.NAME`,
// `.wh..wh..opq`) deleting what lower layers put there, every entry kept inside the root.
//
// Extended attributes (file capabilities above all) come from pax-xattrs.ts, which reads the
// PAX headers the tar package cannot give in full; they are set after the chown, which clears
// security.capability.
//
// tar.x is not used: its protections (no `..`, strip `/`) do not cover an entry whose parent
// is a symlink planted by an earlier layer, nor whiteouts. The tar package only parses; each
// entry is written here, with every path resolved by inroot.ts.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync, closeSync, constants as fsc, existsSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync,
  lutimesSync, mkdirSync, openSync, realpathSync, symlinkSync, writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { Parser, type ReadEntry } from 'tar';
import { LaunchError, errnoName, fromNodeError, hostError, nodeErrno, strerror, usageError } from '../errors.js';
import { native } from '../runtime/native.js';
import { InRoot, ResolveError, entryComponents, joinRel } from './inroot.js';
import { SourceError, isDecodeError, openLayer, type Compression } from './layer-source.js';
import { PaxXattrReader, xattrPolicy } from './pax-xattrs.js';

export interface ApplyLayerOptions {
  /** Not root of the initial user namespace (HostFacts.rootless): device nodes are skipped
   * (mknod needs CAP_MKNOD in the initial namespace) and a refused chown is not an error (an
   * ordinary user keeps the files as its own; a user namespace maps what it can). */
  rootless: boolean;
  /** The descriptor's media type: only checked against the data (layer-source.ts). */
  mediaType?: string;
  /** The bytes are the uncompressed tar already (ImageLayer.openTar()): compressed data is an
   * error, not something to decode once more. */
  plain?: boolean;
  /** How messages name the layer (its digest or file name). */
  name?: string;
  /** Receives what was skipped or guessed, one line each: warnings, not errors. */
  note?: (msg: string) => void;
}

type Xattrs = ReadonlyMap<string, Buffer>;
const NO_XATTRS: Xattrs = new Map();

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Mode, owner and times of an entry, as the header gives them. */
interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: Date | undefined;
  mtime: Date | undefined;
  /** Extended attributes from the entry's PAX headers (pax-xattrs.ts). */
  xattrs: Xattrs;
  /** The entry's name, for messages. */
  name: string;
}

/** Applies `layer` onto the directory `rootfs`. Rejects with a LaunchError naming the entry
 * (and the layer, if `name` is given) for an entry that would leave the root, a corrupt
 * stream, or a file system error; the root filesystem is then partly written. */
export async function applyLayer(rootfs: string, layer: Readable | Buffer, opts: ApplyLayerOptions): Promise<void> {
  const prefix = opts.name === undefined ? '' : `layer \`${opts.name}\`: `;
  const note = opts.note ?? (() => {});
  // The real path: the caller's symlinks above the root are theirs to have; below it, ours.
  let root: string;
  try {
    root = realpathSync(rootfs);
    if (!lstatSync(root).isDirectory()) throw usageError('root filesystem is not a directory', { file: rootfs, code: 'LAYER_ROOTFS' });
  } catch (err) {
    if (err instanceof LaunchError) throw err;
    throw fromNodeError('usage', 'cannot use the root filesystem', err, { file: rootfs, code: 'LAYER_ROOTFS' });
  }
  const applier = new LayerApplier(root, opts.rootless, prefix, note);
  let compression: Compression | undefined;
  try {
    const opened = await openLayer(layer, { mediaType: opts.mediaType, plain: opts.plain, prefix, note });
    compression = opened.compression;
    await parseTar(opened.tar, (entry, xattrs) => applier.entry(entry, xattrs), prefix, compression, note);
    applier.finish();
  } catch (err) {
    if (err instanceof LaunchError) throw err;
    if (err instanceof SourceError) {
      // An image source's own verdict (a digest mismatch, from lib/image/layer.ts) says more.
      if (err.error instanceof LaunchError) throw err.error;
      throw hostError(`${prefix}cannot read the layer`, { code: 'LAYER_READ', cause: err.error });
    }
    if (isDecodeError(err)) {
      // gzip's "unexpected end of file" is a truncated download as often as a corrupt one.
      const kind = compression === undefined || compression === 'none' ? 'compressed' : compression;
      throw usageError(`${prefix}corrupt ${kind} stream (${(err as Error).message})`, { code: 'LAYER_CORRUPT', cause: err });
    }
    throw err;
  }
}

/** Feeds `tar` to tar's Parser and runs `onEntry` for each entry, one at a time, in order:
 * the parser holds back the next entry until this one is read to its end, and its write()
 * says when to stop reading the stream, so memory stays bounded by one chunk. The entry's
 * extended attributes come from a PaxXattrReader fed each chunk just before the parser. */
async function parseTar(
  tar: Readable, onEntry: (e: ReadEntry, xattrs: Xattrs) => Promise<void>, prefix: string, compression: string, note: (msg: string) => void,
): Promise<void> {
  const parser = new Parser({ zstd: false, brotli: false });
  const pax = new PaxXattrReader();
  let inStep = true;
  // The reader has seen every byte the parser has, so it has queued this entry already. Once
  // the two disagree, no attribute is trusted to belong where the reader says.
  const xattrsOf = (e: ReadEntry): Xattrs => {
    const found = inStep ? pax.next() : undefined;
    if (found?.path === e.path) return found.xattrs;
    if (inStep) note(`${prefix}extended attributes not applied from \`${e.path}\` on: the tar headers could not be followed`);
    inStep = false;
    return NO_XATTRS;
  };
  let failure: unknown;
  let allZero = true; // an empty layer (only end-of-archive blocks) is valid, not "no tar"
  let chain: Promise<void> = Promise.resolve();
  let current: ReadEntry | undefined;
  let fail: (err: unknown) => void = () => {};
  const stop = new AbortController(); // wakes the feeding loop below when something failed
  const done = new Promise<void>((resolve, reject) => {
    fail = (err) => {
      if (failure !== undefined) return;
      failure = err ?? new Error('unknown failure');
      stop.abort();
      reject(failure);
    };
    const invalid = (msg: string) =>
      usageError(`${prefix}invalid tar stream${compression === 'none' ? '' : ` (after ${compression} decoding)`}: ${msg.replace(/^TAR_[A-Z_]+: /, '')}`, { code: 'LAYER_CORRUPT' });
    // Not strict mode, only so that the empty archive can be told apart: every other warning
    // (a checksum failure, a truncated entry) is an error, never a silently skipped entry.
    parser.on('warn', (code: string, message: string | Error) => {
      const msg = message instanceof Error ? message.message : message;
      if (code === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(msg) && allZero) return;
      fail(invalid(msg));
    });
    parser.on('error', (err: Error) => fail(isDecodeError(err) || err instanceof SourceError ? err : invalid(err.message)));
    parser.on('ignoredEntry', (e: ReadEntry) => {
      if (!e.meta && failure === undefined) xattrsOf(e); // an entry to the reader too (an oversized meta header is not)
      note(`${prefix}skipped \`${e.path}\`: unsupported tar entry type ${e.header.type}`);
    });
    parser.on('entry', (e: ReadEntry) => {
      const xattrs = failure === undefined ? xattrsOf(e) : NO_XATTRS;
      chain = chain.then(() => {
        current = e;
        return failure === undefined ? onEntry(e, xattrs) : void e.resume();
      });
      chain.catch(fail);
    });
    parser.on('end', () => void chain.then(resolve, fail));
  });
  done.catch(() => {}); // observed below; this only keeps an early failure from being "unhandled"
  try {
    for await (const chunk of tar as AsyncIterable<Buffer>) {
      if (failure !== undefined) break; // leaving the loop destroys the stream and the source
      if (allZero && chunk.some((b) => b !== 0)) allZero = false;
      if (inStep) pax.write(chunk);
      if (!parser.write(chunk)) {
        try {
          await once(parser, 'drain', { signal: stop.signal });
        } catch {
          /* aborted (or the parser's 'error'): `failure` is set and the loop ends */
        }
      }
    }
    if (failure === undefined) parser.end();
  } catch (err) {
    fail(err);
  }
  try {
    await done;
  } catch (err) {
    // A stream that failed mid-entry never ends that entry: end its reader (and so close the
    // file it writes) and let the handler settle, so nothing writes after we have returned.
    if (current && !current.emittedEnd) current.destroy();
    await chain.catch(() => {});
    throw err;
  }
}

class LayerApplier {
  private readonly fs: InRoot;
  /** Real paths (relative to the root) this layer wrote: whiteouts and opaque directories
   * only delete what lower layers put there, whatever the order of entries in the layer. */
  private readonly written = new Set<string>();
  /** Directory modes and times, set at the end: adding children changes a directory's mtime,
   * and a 0555 directory must stay writable while this layer fills it. */
  private readonly dirMeta = new Map<string, Meta>();
  private readonly skippedDevices: string[] = [];

  constructor(
    root: string,
    private readonly rootless: boolean,
    private readonly prefix: string,
    private readonly note: (msg: string) => void,
  ) {
    this.fs = new InRoot(root, rootless);
  }

  private refuse(what: string, file: string, code = 'LAYER_PATH'): LaunchError {
    return usageError(`${this.prefix}${what}`, { file, code });
  }

  async entry(e: ReadEntry, xattrs: Xattrs): Promise<void> {
    const name = e.path;
    try {
      const parts = entryComponents(name);
      if (!parts) throw this.refuse('entry leaves the root filesystem', name, 'LAYER_ESCAPE');
      await this.apply(e, name, parts, xattrs);
    } catch (err) {
      if (err instanceof LaunchError) throw err;
      if (err instanceof ResolveError) {
        throw this.refuse(`entry \`${name}\` goes through ${err.reason === 'loop' ? 'a symbolic link loop at' : 'a non-directory'}`, err.at);
      }
      throw fromNodeError('host', `${this.prefix}cannot unpack the entry`, err, { file: name, code: 'LAYER_WRITE' });
    } finally {
      e.resume(); // whatever this entry's data was not used for: the parser waits for its end
    }
  }

  private async apply(e: ReadEntry, name: string, parts: string[], xattrs: Xattrs): Promise<void> {
    const base = parts[parts.length - 1];
    if (base === undefined) {
      // `./` itself: the root directory's metadata belongs to whoever made the bundle
      // (containerd ignores it too).
      if (e.type !== 'Directory') throw this.refuse('entry replaces the root directory', name);
      return;
    }
    // aufs metadata (`.wh..wh.plnk/...`, `.wh..wh.aufs`), which old docker layers carry.
    if (parts.some((p) => p.startsWith(`${WHITEOUT}${WHITEOUT}`) && p !== OPAQUE)) {
      this.note(`${this.prefix}skipped aufs metadata \`${name}\``);
      return;
    }
    if (base.startsWith(WHITEOUT)) return this.whiteout(name, parts);

    const dir = this.fs.dir(parts.slice(0, -1), true)!;
    const rel = joinRel(dir, base);
    const meta: Meta = {
      mode: (e.mode ?? (e.type === 'Directory' ? 0o755 : 0o644)) & 0o7777,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime,
      atime: e.atime ?? e.mtime,
      xattrs,
      name,
    };
    switch (e.type) {
      case 'Directory':
      case 'GNUDumpDir':
        return this.directory(dir, rel, meta);
      case 'File':
      case 'OldFile':
      case 'ContiguousFile':
        return this.file(dir, rel, meta, e);
      case 'SymbolicLink':
        this.fs.prune(rel);
        this.fs.withAccess(dir, () => symlinkSync(e.linkpath ?? '', this.fs.abs(rel)));
        return this.finishNode(rel, meta, false);
      case 'Link':
        return this.hardLink(dir, rel, name, e.linkpath ?? '');
      case 'FIFO':
        this.fs.prune(rel);
        this.fs.withAccess(dir, () => mkfifo(this.fs.abs(rel)));
        return this.finishNode(rel, meta, true);
      case 'CharacterDevice':
      case 'BlockDevice':
        this.fs.prune(rel); // the entry replaces what was there, created or not
        if (this.rootless) {
          this.skippedDevices.push(name);
          return;
        }
        this.mknod(name, rel, e.type === 'CharacterDevice' ? 'c' : 'b', e.header.devmaj ?? 0, e.header.devmin ?? 0);
        return this.finishNode(rel, meta, true);
      default:
        this.note(`${this.prefix}skipped \`${name}\`: unsupported tar entry type ${e.type}`);
    }
  }

  /** `.wh.NAME` deletes NAME of lower layers; `.wh..wh..opq` everything lower layers put in its
   * directory. Neither ever appears in the result. What this layer wrote itself stays, so the
   * result does not depend on whether the whiteout comes before or after it in the tar. */
  private whiteout(name: string, parts: string[]): void {
    const base = parts[parts.length - 1]!;
    const dirParts = parts.slice(0, -1);
    if (base === OPAQUE) {
      if (dirParts.length === 0) {
        this.fs.pruneChildren('', this.written);
        return;
      }
      // The opaque directory itself is not followed if a lower layer made it a symlink: the
      // layer's directory replaces that symlink, it does not empty the symlink's target.
      const up = this.fs.dir(dirParts.slice(0, -1), false);
      if (up === undefined) return;
      const rel = joinRel(up, dirParts[dirParts.length - 1]!);
      const st = this.fs.lstat(rel);
      if (st?.isDirectory()) this.fs.pruneChildren(rel, this.written);
      else if (st) this.fs.prune(rel, this.written);
      return;
    }
    const target = base.slice(WHITEOUT.length);
    if (target === '' || target === '.' || target === '..') throw this.refuse('invalid whiteout', name);
    const dir = this.fs.dir(dirParts, false);
    if (dir !== undefined) this.fs.prune(joinRel(dir, target), this.written);
  }

  /** A directory over a directory keeps its contents; over anything else, replaces it. */
  private directory(dir: string, rel: string, meta: Meta): void {
    const st = this.fs.lstat(rel);
    if (!st?.isDirectory()) {
      if (st) this.fs.prune(rel);
      // Owner-only until finish(): nobody else looks while the layer is applied.
      this.fs.withAccess(dir, () => mkdirSync(this.fs.abs(rel), 0o700));
    }
    this.chown(() => lchownSync(this.fs.abs(rel), meta.uid, meta.gid));
    // A lower layer's directory may be 0555 by now: user.* needs write access to the inode.
    this.setXattrs(rel, meta, (fn) => this.fs.withAccess(rel, fn));
    this.written.add(rel);
    this.dirMeta.set(rel, meta);
  }

  private async file(dir: string, rel: string, meta: Meta, e: ReadEntry): Promise<void> {
    this.fs.prune(rel);
    // O_EXCL|O_NOFOLLOW: what prune() removed cannot have come back as a symlink to follow.
    const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
    const fd = this.fs.withAccess(dir, () => openSync(this.fs.abs(rel), flags, 0o600));
    this.written.add(rel);
    try {
      for await (const chunk of e as AsyncIterable<Buffer>) {
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      }
      // chown before chmod: chown clears setuid/setgid. Attributes after chown (which clears
      // security.capability) and before chmod (user.* needs write access to the inode).
      this.chown(() => fchownSync(fd, meta.uid, meta.gid));
      this.setXattrs(rel, meta);
      fchmodSync(fd, meta.mode);
      if (meta.mtime) futimesSync(fd, meta.atime ?? meta.mtime, meta.mtime);
    } finally {
      closeSync(fd);
    }
  }

  /** Hard link targets are resolved like entry names, inside the root; a link to a file of a
   * lower layer is allowed (docker writes those). */
  private hardLink(dir: string, rel: string, name: string, linkpath: string): void {
    const parts = entryComponents(linkpath);
    if (!parts || parts.length === 0) throw this.refuse(`hard link \`${name}\` points outside the root filesystem`, linkpath, 'LAYER_ESCAPE');
    const targetDir = this.fs.dir(parts.slice(0, -1), false);
    const target = targetDir === undefined ? undefined : joinRel(targetDir, parts[parts.length - 1]!);
    const st = target === undefined ? undefined : this.fs.lstat(target);
    if (!st || target === undefined) throw this.refuse(`hard link \`${name}\` points to a missing file`, linkpath, 'LAYER_LINK');
    if (st.isDirectory()) throw this.refuse(`hard link \`${name}\` points to a directory`, linkpath, 'LAYER_LINK');
    this.written.add(rel);
    if (target === rel) return;
    this.fs.prune(rel);
    // link(2) does not follow a symlink as its source: the link is to the symlink itself.
    this.fs.withAccess(dir, () => linkSync(this.fs.abs(target), this.fs.abs(rel)));
  }

  /** Device nodes are made only by root, through coreutils' mknod: Node has no mknod and the
   * addon none yet. Rare enough in images (a few in /dev) that a process each is fine. */
  private mknod(name: string, rel: string, type: 'c' | 'b', major: number, minor: number): void {
    const tool = ['/usr/bin/mknod', '/bin/mknod'].find((p) => existsSync(p)) ?? 'mknod';
    try {
      execFileSync(tool, ['-m', '0600', this.fs.abs(rel), type, String(major), String(minor)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const why = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop() || (err as Error).message;
      throw hostError(`${this.prefix}cannot create the device node (${why.replace(/^[^:]*mknod: /, '')})`, { file: name, code: 'LAYER_WRITE', cause: err });
    }
  }

  /** Owner, mode and times of a symlink, FIFO or device node, never following the node. */
  private finishNode(rel: string, meta: Meta, chmod: boolean): void {
    const abs = this.fs.abs(rel);
    this.written.add(rel);
    this.chown(() => lchownSync(abs, meta.uid, meta.gid));
    this.setXattrs(rel, meta);
    if (chmod) chmodSync(abs, meta.mode); // not a symlink (Linux has no lchmod): just made by us
    if (meta.mtime) lutimesSync(abs, meta.atime ?? meta.mtime, meta.mtime);
  }

  /** The entry's extended attributes (xattrPolicy decides which), never following a symlink.
   * What an ordinary user may not set (security.capability, trusted.*: EPERM; a file system
   * without them: EOPNOTSUPP) is a note, as is any refused attribute that is only set where
   * possible; as root a refused capability is an error: the image would run without it. */
  private setXattrs(rel: string, meta: Meta, access: (fn: () => void) => void = (fn) => fn()): void {
    for (const [key, value] of meta.xattrs) {
      const policy = xattrPolicy(key);
      if (policy === 'skip') continue;
      try {
        access(() => lsetxattr(this.fs.abs(rel), key, value));
      } catch (err) {
        const errno = nodeErrno(err) ?? 0;
        const code = errnoName(errno);
        if (policy === 'optional' || (this.rootless && (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP'))) {
          this.note(`${this.prefix}skipped the extended attribute \`${key}\` of \`${meta.name}\`: ${strerror(errno)} (${code})`);
          continue;
        }
        throw fromNodeError('host', `${this.prefix}cannot set the extended attribute \`${key}\` of`, err, { file: meta.name, code: 'LAYER_WRITE' });
      }
    }
  }

  /** Root always owns what it unpacks as the layer says. Without root, a chown may be refused
   * (EPERM: an ordinary user; EINVAL: an id the user namespace does not map) and the file
   * stays ours: the container sees it as whatever our id maps to. */
  private chown(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.rootless && (code === 'EPERM' || code === 'EINVAL')) return;
      throw err;
    }
  }

  /** Directory modes and times, deepest first (a parent's mode may take away our access to
   * its children), then the modes of directories we opened up for ourselves. */
  finish(): void {
    const rels = new Set([...this.dirMeta.keys(), ...this.fs.opened.keys()]);
    const depth = (rel: string) => (rel === '' ? -1 : rel.split('/').length);
    for (const rel of [...rels].sort((a, b) => depth(b) - depth(a))) {
      if (!this.fs.isRealDir(rel)) continue; // removed or replaced later in this layer
      const meta = this.dirMeta.get(rel);
      const abs = this.fs.abs(rel);
      try {
        chmodSync(abs, meta?.mode ?? this.fs.opened.get(rel)!);
        if (meta?.mtime) lutimesSync(abs, meta.atime ?? meta.mtime, meta.mtime);
      } catch (err) {
        throw fromNodeError('host', `${this.prefix}cannot set the mode of the directory`, err, { file: rel, code: 'LAYER_WRITE' });
      }
    }
    if (this.skippedDevices.length > 0) {
      const shown = this.skippedDevices.slice(0, 5).map((n) => `\`${n}\``).join(', ');
      const more = this.skippedDevices.length > 5 ? ` and ${this.skippedDevices.length - 5} more` : '';
      this.note(`${this.prefix}skipped ${this.skippedDevices.length} device node(s) a rootless unpack cannot create: ${shown}${more}`);
    }
  }
}

/** Node has no lsetxattr either. Fails as fs calls do: InRoot.withAccess looks for EACCES. */
function lsetxattr(abs: string, name: string, value: Buffer): void {
  const errno = native().lsetxattr(abs, name, value);
  if (errno !== 0) throw Object.assign(new Error(`lsetxattr ${abs} ${name}`), { code: errnoName(errno), errno: -errno, syscall: 'lsetxattr' });
}

/** Node has no mkfifo; the addon does (it needs one for `create`'s exec FIFO). */
function mkfifo(abs: string): void {
  const errno = native().mkfifo(abs, 0o600);
  if (errno !== 0) throw Object.assign(new Error(`mkfifo ${abs}`), { code: errnoName(errno), errno: -errno, syscall: 'mkfifo' });
}

