// A three-layer image for the acceptance tests of image unpacking: everything a layer can do
// to the layers below it (whiteouts, an opaque directory, a replaced file, a hard link, a FIFO,
// owners other than root, setuid/setgid/sticky modes) in one OCI layout, with a description of
// the tree that applying its layers in order must give.
//
// The tars are written header by header (raw ustar, below) rather than with tar.c over real
// files: owners like uid 1234 need no privilege that way, whiteout names are exact, and the
// bytes - and so every digest - are the same on every run.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { hostPlatform } from '../../lib/image/platform.js';
import type { RunConfig } from '../../lib/image/types.js';
import { OCI, busyboxTree, sha256, writeBlob, writeLayout, type Desc } from './image.js';
import { idMapper, type IdView } from './tree.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';

export interface TarEntry {
  /** Relative, no leading `/`; a directory's without a trailing `/`. */
  path: string;
  type: EntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  body?: string | Buffer;
  /** Symlink target, or the hard link's target path (relative to the root, as tar has it). */
  link?: string;
  mtime?: Date;
}

const TYPEFLAG: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5', fifo: '6' };
const T1 = new Date('2021-01-01T00:00:00Z');
const T2 = new Date('2022-02-02T02:02:02Z');
const T3 = new Date('2023-03-03T03:03:03Z');

/** One ustar field of `len` bytes: octal digits, NUL-terminated (POSIX pax "ustar format"). */
function octal(block: Buffer, off: number, len: number, value: number): void {
  const s = Math.trunc(value).toString(8);
  if (s.length > len - 1) throw new Error(`tar helper: ${value} does not fit a ${len}-byte field`);
  block.write(s.padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

/** A plain (uncompressed) tar of `entries`, in order, ending with the two zero blocks. */
export function rawTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const body = e.type === 'file' ? Buffer.from(e.body ?? '') : Buffer.alloc(0);
    const h = Buffer.alloc(512);
    // Names over 100 bytes go in the 155-byte prefix, split at a `/`.
    let prefix = '';
    let base = name;
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', name.length - 2);
      prefix = name.slice(0, cut);
      base = name.slice(cut + 1);
      if (cut < 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(base) > 100) throw new Error(`tar helper: ${name} is too long`);
    }
    if (Buffer.byteLength(e.link ?? '') > 100) throw new Error(`tar helper: link of ${name} is too long`);
    h.write(base, 0, 100, 'utf8');
    octal(h, 100, 8, e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644));
    octal(h, 108, 8, e.uid ?? 0);
    octal(h, 116, 8, e.gid ?? 0);
    octal(h, 124, 12, body.length);
    octal(h, 136, 12, (e.mtime ?? T1).getTime() / 1000);
    h.write(TYPEFLAG[e.type], 156, 1, 'latin1');
    h.write(e.link ?? '', 157, 100, 'utf8');
    h.write('ustar\0' + '00', 257, 8, 'latin1');
    octal(h, 329, 8, 0);
    octal(h, 337, 8, 0);
    h.write(prefix, 345, 155, 'utf8');
    // The checksum is taken with its own field as eight spaces.
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
    parts.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/data:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\napp:x:1234:\nnogroup:x:65534:\n';
const HELLO2 = 'hello from layer two\n';
const OWNED2 = 'owned by app, rewritten by layer two\n';

/** Layer 1: a busybox root, users, and the files the upper layers change. */
function layer1(busybox: Buffer): TarEntry[] {
  const dir = (path: string, mode = 0o755, uid = 0, gid = 0): TarEntry => ({ path, type: 'dir', mode, uid, gid });
  const file = (path: string, body: string, mode = 0o644, uid = 0, gid = 0): TarEntry => ({ path, type: 'file', body, mode, uid, gid });
  const applet = (name: string): TarEntry => ({ path: `bin/${name}`, type: 'symlink', link: 'busybox' });
  return [
    dir('bin'),
    { path: 'bin/busybox', type: 'file', body: busybox, mode: 0o755 },
    ...['sh', 'cat', 'id', 'ls', 'stat', 'echo', 'test'].map(applet),
    dir('etc'),
    file('etc/passwd', PASSWD),
    file('etc/group', GROUP),
    file('etc/hello.txt', 'hello from the image\n'),
    dir('data', 0o755, 1234, 1234),
    file('data/owned-by-1234', 'owned by app\n', 0o640, 1234, 1234),
    file('data/gone.txt', 'deleted by layer two\n'),
    { path: 'data/link', type: 'symlink', link: 'owned-by-1234', uid: 1234, gid: 1234 },
    dir('opt'),
    dir('opt/old'),
    file('opt/old/a.txt', 'a\n'),
    file('opt/old/b.txt', 'b\n'),
    dir('opt/keep'),
    file('opt/keep/k.txt', 'kept\n'),
    dir('tmp', 0o1777),
    dir('srv'),
    dir('srv/shared', 0o2775, 0, 1234),
    dir('usr'),
    dir('usr/local'),
    dir('usr/local/bin'),
    file('usr/local/bin/suid', '#!/bin/sh\nid\n', 0o4755),
    dir('var'),
    dir('var/cache'),
    dir('var/cache/app'),
    file('var/cache/app/entry', 'deleted with its directory by layer two\n'),
  ];
}

/** Layer 2: deletes, replaces and links what layer 1 put there. */
function layer2(): TarEntry[] {
  const at = { mtime: T2 };
  return [
    { path: 'data/.wh.gone.txt', type: 'file', ...at },
    { path: 'data/owned-by-1234', type: 'file', body: OWNED2, mode: 0o640, uid: 1234, gid: 1234, ...at },
    // A hard link's header carries its target's metadata, as tar writers make it: docker and
    // containerd apply it to the shared inode, GNU tar (and launch) ignore it.
    { path: 'data/hard', type: 'hardlink', link: 'data/owned-by-1234', mode: 0o640, uid: 1234, gid: 1234, ...at },
    { path: 'data/fifo', type: 'fifo', mode: 0o620, uid: 1234, gid: 1234, ...at },
    { path: 'etc/hello.txt', type: 'file', body: HELLO2, ...at },
    { path: 'opt/old', type: 'dir', mode: 0o750, ...at },
    { path: 'opt/old/.wh..wh..opq', type: 'file', ...at },
    { path: 'opt/old/new.txt', type: 'file', body: 'new\n', ...at },
    { path: 'var/.wh.cache', type: 'file', ...at },
  ];
}

/** Layer 3 (left uncompressed): a dangling absolute symlink nothing may follow, and a file. */
function layer3(): TarEntry[] {
  return [
    { path: 'etc/localtime', type: 'symlink', link: '/usr/share/zoneinfo/UTC', mtime: T3 },
    { path: 'etc/motd', type: 'file', body: 'layer three\n', mode: 0o444, mtime: T3 },
  ];
}

export const LAYERED_CONFIG: RunConfig = {
  User: 'app',
  Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'GREETING=layered'],
  Entrypoint: ['/bin/sh', '-c'],
  Cmd: ['cat /etc/hello.txt; id -u; id -g; pwd'],
  WorkingDir: '/data',
  Labels: { 'org.example.fixture': 'layered', 'org.example.layers': '3' },
  StopSignal: 'SIGTERM',
};

/** What one path of the final tree must be. Owners are container ids. */
export interface ExpectedPath {
  type: 'file' | 'dir' | 'symlink' | 'fifo';
  /** Permission bits, with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** A symlink's target. */
  target?: string;
  content?: string | Buffer;
  /** Another path that must be the same inode (a hard link). */
  sameFileAs?: string;
  /** Seconds since the epoch, for files. */
  mtime?: number;
}

export interface LayeredExpect {
  /** Absolute container paths. */
  present: Record<string, ExpectedPath>;
  /** Paths that must not exist after all layers. */
  absent: string[];
  config: RunConfig;
  /** What the default command prints when run as the image's user in its WorkingDir. */
  stdout: string;
  /** The compression of each layer blob in the layout, in order. */
  compressions: ('gzip' | 'zstd' | 'none')[];
}

const secs = (d: Date) => d.getTime() / 1000;

function expectation(busybox: Buffer, zstd: boolean): LayeredExpect {
  const f = (content: string, mode: number, uid = 0, gid = 0, mtime = T1): ExpectedPath => ({ type: 'file', mode, uid, gid, content, mtime: secs(mtime) });
  const d = (mode: number, uid = 0, gid = 0): ExpectedPath => ({ type: 'dir', mode, uid, gid });
  return {
    present: {
      '/bin/busybox': { type: 'file', mode: 0o755, uid: 0, gid: 0, mtime: secs(T1), content: busybox },
      '/bin/sh': { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: 'busybox' },
      '/etc/passwd': f(PASSWD, 0o644),
      '/etc/group': f(GROUP, 0o644),
      '/etc/hello.txt': f(HELLO2, 0o644, 0, 0, T2),
      '/etc/motd': f('layer three\n', 0o444, 0, 0, T3),
      '/etc/localtime': { type: 'symlink', mode: 0o777, uid: 0, gid: 0, target: '/usr/share/zoneinfo/UTC' },
      '/data': d(0o755, 1234, 1234),
      '/data/owned-by-1234': f(OWNED2, 0o640, 1234, 1234, T2),
      '/data/hard': { ...f(OWNED2, 0o640, 1234, 1234, T2), sameFileAs: '/data/owned-by-1234' },
      '/data/link': { type: 'symlink', mode: 0o777, uid: 1234, gid: 1234, target: 'owned-by-1234' },
      '/data/fifo': { type: 'fifo', mode: 0o620, uid: 1234, gid: 1234 },
      '/opt/old': d(0o750),
      '/opt/old/new.txt': f('new\n', 0o644, 0, 0, T2),
      '/opt/keep/k.txt': f('kept\n', 0o644),
      '/tmp': d(0o1777),
      '/srv/shared': d(0o2775, 0, 1234),
      '/usr/local/bin/suid': f('#!/bin/sh\nid\n', 0o4755),
      '/var': d(0o755),
    },
    absent: ['/data/gone.txt', '/data/.wh.gone.txt', '/opt/old/a.txt', '/opt/old/b.txt', '/opt/old/.wh..wh..opq', '/var/cache', '/var/.wh.cache'],
    config: LAYERED_CONFIG,
    stdout: `${HELLO2}1234\n1234\n/data\n`,
    compressions: ['gzip', zstd ? 'zstd' : 'gzip', 'none'],
  };
}

/** The raw tars of the three layers (uncompressed), e.g. for tests that apply them directly. */
export function layeredTars(busybox: Buffer): Buffer[] {
  return [rawTar(layer1(busybox)), rawTar(layer2()), rawTar(layer3())];
}

/** Write the layered image as an OCI layout `dir/layout`, tagged `tag`, for the host's
 * platform: layer 1 gzip, layer 2 zstd (gzip with `zstd: false`), layer 3 a plain tar. The
 * uncompressed tars, and so the config, are the same either way. `zstd: false` is for
 * skopeo's docker-archive: skopeo 1.9 refuses to convert a zstd layer's manifest ("zstd
 * compression is not supported for docker images") even though it decompresses the layers. */
export async function writeLayeredImage(dir: string, opts: { zstd?: boolean } = {}): Promise<{ layout: string; tag: string; expect: LayeredExpect }> {
  const zstd = opts.zstd ?? true;
  const busybox = readFileSync(join(busyboxTree(join(dir, 'busybox')), 'bin/busybox'));
  const tars = layeredTars(busybox);
  const layout = join(dir, 'layout');
  const tag = 'v1';
  const h = hostPlatform();
  const platform = { os: 'linux', architecture: h.architecture, ...(h.variant ? { variant: h.variant } : {}) };
  const config = {
    created: T3.toISOString(),
    ...platform,
    config: LAYERED_CONFIG,
    rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256(t)) },
    history: tars.map((_, i) => ({ created: T3.toISOString(), created_by: `test/helpers/layered-image.ts layer ${i + 1}` })),
  };
  const layers: Desc[] = [
    writeBlob(layout, OCI.layerGzip, gzipSync(tars[0]!)),
    zstd ? writeBlob(layout, `${OCI.layer}+zstd`, zstdCompressSync(tars[1]!)) : writeBlob(layout, OCI.layerGzip, gzipSync(tars[1]!)),
    writeBlob(layout, OCI.layer, tars[2]!),
  ];
  const manifest = { schemaVersion: 2, mediaType: OCI.manifest, config: writeBlob(layout, OCI.config, JSON.stringify(config)), layers };
  const desc = writeBlob(layout, OCI.manifest, JSON.stringify(manifest));
  writeLayout(layout, [{ desc: { ...desc, platform }, tag }]);
  return { layout, tag, expect: expectation(busybox, zstd) };
}

/** Where the tree under `rootfs` is not what `expect` says, one line each (empty: it is).
 * `owners: 'skip'` leaves ownership out (an unpack without root keeps files as the caller's);
 * else owners are read through the IdView (tree.ts) and compared as container ids. */
export function checkLayeredTree(rootfs: string, expect: LayeredExpect, opts: { owners: 'skip' | IdView }): string[] {
  const problems: string[] = [];
  const id = opts.owners === 'skip' ? undefined : idMapper(opts.owners);
  const at = (p: string) => join(rootfs, p);
  for (const [path, want] of Object.entries(expect.present)) {
    let st;
    try {
      st = lstatSync(at(path));
    } catch (err) {
      problems.push(`${path}: missing (${(err as NodeJS.ErrnoException).code})`);
      continue;
    }
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : 'other';
    const bad = (what: string, got: unknown, wanted: unknown) => problems.push(`${path}: ${what} ${String(got)}, expected ${String(wanted)}`);
    if (type !== want.type) {
      bad('type', type, want.type);
      continue;
    }
    if ((st.mode & 0o7777) !== want.mode) bad('mode', (st.mode & 0o7777).toString(8), want.mode.toString(8));
    if (id) {
      const owner = `${id('uid', st.uid)}:${id('gid', st.gid)}`;
      if (owner !== `${want.uid}:${want.gid}`) bad('owner', owner, `${want.uid}:${want.gid}`);
    }
    if (want.target !== undefined && readlinkSync(at(path)) !== want.target) bad('target', readlinkSync(at(path)), want.target);
    if (want.content !== undefined) {
      const got = readFileSync(at(path));
      if (!got.equals(Buffer.from(want.content))) bad('content', JSON.stringify(got.subarray(0, 80).toString()), JSON.stringify(Buffer.from(want.content).subarray(0, 80).toString()));
    }
    if (want.mtime !== undefined && Math.floor(st.mtimeMs / 1000) !== want.mtime) bad('mtime', Math.floor(st.mtimeMs / 1000), want.mtime);
    if (want.sameFileAs !== undefined) {
      const other = lstatSync(at(want.sameFileAs), { throwIfNoEntry: false });
      if (!other || other.ino !== st.ino || other.dev !== st.dev) bad('inode', st.ino, `that of ${want.sameFileAs} (${other?.ino ?? 'missing'})`);
    }
  }
  for (const path of expect.absent) {
    if (lstatSync(at(path), { throwIfNoEntry: false })) problems.push(`${path}: exists, expected it deleted`);
  }
  return problems;
}
