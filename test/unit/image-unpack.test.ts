// applyLayer (lib/image/unpack.ts): image layers applied in order onto a root filesystem in a
// temporary sandbox. Layers are tar streams built here, header by header with tar's Header
// (so that hostile entries - `../evil`, whiteouts, devices, uid 1234 - need no privilege or
// real files to make), plus one from tar.c over a real directory.
//
// Runs as root and as an ordinary user (CI runs both): ownership and device nodes are asserted
// as created when root, and as skipped/kept-as-ours otherwise; everything else is the same.
//
// How these were checked to fail: each change below was made to lib/image, this file run, the
// named tests seen failing, and the change undone.
// - inroot.ts dir(): a symlink component taken as a directory (`|| st.isSymbolicLink()`):
//   'a symlink in the parent path...' (the file appeared in <sandbox>/outside), 'a hard link
//   through a symlink...', 'a whiteout through a symlink...', 'a symlink loop...'.
// - inroot.ts entryComponents(): `..` at the root ignored instead of refused: the four
//   'one clear error, nothing written outside' cases.
// - unpack.ts whiteout(): no keep set for an opaque directory: 'an opaque marker after the
//   layer's own entries...'; for `.wh.NAME`: 'a whiteout never deletes what the same layer
//   wrote...'; the opaque directory resolved through its symlink: 'an opaque directory where a
//   lower layer has a symlink...'; the root's marker ignored: 'an opaque root directory...'.
// - unpack.ts file(): fchmod before fchown: the setuid test, as root (chown clears the bit).
// - unpack.ts directory(): modes set at once instead of in finish(): the mode/mtime test;
//   inroot.ts openUp() disabled: the 0555 test, as the unprivileged user.
// - unpack.ts finish(): existsSync instead of isRealDir: 'directory modes set at the end...'.
// - unpack.ts parseTar(): no allZero exception: 'an empty layer'; the current entry not
//   destroyed on failure: 'a truncated gzip stream' (its file was left open).
// - unpack.ts: devices not skipped when rootless; chown a no-op (as root); a directory over a
//   directory pruned; layer-source.ts: gzip not sniffed - each failed its own test.
// - unpack.ts setXattrs(): called before the chown (as root: 'file capabilities...', the chown
//   of bin/su cleared its capability); after the fchmod (as the unprivileged user: the same
//   test, EACCES on the 0444 file); without withAccess for a directory (unprivileged: 'a lower
//   layer's directory...'). parseTar(): no reader entry taken for an ignored entry: 'attributes
//   land on their own entry...'.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync,
  writeFileSync, chmodSync, createReadStream,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { Header, c as tarCreate } from 'tar';
import { LaunchError, formatError } from '../../lib/errors.js';
import { applyLayer, type ApplyLayerOptions } from '../../lib/image/unpack.js';
import { native } from '../../lib/runtime/native.js';
import { CAP_NET_RAW, CAP_SETUID, fileCaps, longNameHeader, paxHeader } from '../helpers/pax.js';

const isRoot = process.getuid?.() === 0;
const T0 = new Date('2020-01-02T03:04:05Z');

interface Entry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice' | 'BlockDevice';
  body?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkpath?: string;
  devmaj?: number;
  devmin?: number;
  mtime?: Date;
  /** Records of a PAX `x` header written before the entry (a `path` record: the entry's own
   * header gets the name cut to 99 bytes). */
  pax?: [string, string | Buffer][];
  /** The name goes in a GNU `L` header (after any `x`); the entry's own header gets it cut. */
  longName?: boolean;
  /** Raw blocks written before everything else of this entry. */
  before?: Buffer;
}

/** A tar archive of these entries, in this order. A path ending in `/` is a directory. */
function tarOf(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? (e.path.endsWith('/') ? 'Directory' : 'File');
    if (e.before) blocks.push(e.before);
    if (e.pax) blocks.push(paxHeader(e.pax));
    if (e.longName) blocks.push(longNameHeader(e.path));
    const named = e.longName || e.pax?.some(([k]) => k === 'path');
    const h = new Header({
      path: named ? e.path.slice(0, 99) : e.path, type, size: body.length, mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? T0, linkpath: e.linkpath, devmaj: e.devmaj ?? 0, devmin: e.devmin ?? 0,
      uname: '', gname: '',
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    if (h.needPax && !named) throw new Error(`test helper: ${e.path} needs a pax header`);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024)); // end of archive
  return Buffer.concat(blocks);
}

let sandbox: string;
let rootfs: string;
let outside: string;
let notes: string[];

beforeEach(() => {
  sandbox = mkdtempSync(join(tmpdir(), 'launch-unpack-'));
  // Two levels deep, so that `../..` from the root is still inside the sandbox, where we can
  // see whether anything landed.
  rootfs = join(sandbox, 'a', 'rootfs');
  outside = join(sandbox, 'outside');
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(outside);
  mkdirSync(join(sandbox, 'etc'));
  writeFileSync(join(sandbox, 'etc', 'passwd'), 'host secret\n');
  writeFileSync(join(outside, 'victim'), 'host file\n');
  notes = [];
});

afterEach(() => {
  // A test may leave a 0555 directory behind; as an ordinary user rm needs write access.
  const open = (p: string) => {
    for (const n of readdirSync(p)) {
      const c = join(p, n);
      if (lstatSync(c).isDirectory()) {
        chmodSync(c, 0o755);
        open(c);
      }
    }
  };
  try {
    open(sandbox);
  } catch {
    /* best effort */
  }
  rmSync(sandbox, { recursive: true, force: true });
});

const apply = (layer: Buffer | NodeJS.ReadableStream, opts: Partial<ApplyLayerOptions> = {}) =>
  applyLayer(rootfs, layer as Buffer, { rootless: !isRoot, note: (m) => notes.push(m), ...opts });

async function rejection(p: Promise<unknown>): Promise<LaunchError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LaunchError);
    expect(formatError(err)).not.toContain('\n');
    return err as LaunchError;
  }
  throw new Error('expected applyLayer to fail');
}

/** Every path under `dir` (relative), `/` after directories, `@target` after symlinks. */
function tree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const n of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) out.push(`${r}/`, ...tree(dir, r));
    else if (st.isSymbolicLink()) out.push(`${r}@${readlinkSync(join(dir, r))}`);
    else out.push(r);
  }
  return out;
}

/** The sandbox outside the root filesystem, with file contents: must never change. */
function hostSide(): string[] {
  return tree(sandbox)
    .filter((p) => p !== 'a/' && !p.startsWith('a/rootfs'))
    .map((p) => (p.endsWith('/') || p.includes('@') ? p : `${p}=${readFileSync(join(sandbox, p), 'utf8')}`));
}
const HOST_SIDE = ['etc/', 'etc/passwd=host secret\n', 'outside/', 'outside/victim=host file\n'];

const r = (p: string) => join(rootfs, p);
const mode = (p: string) => lstatSync(r(p)).mode & 0o7777;

describe('layers in order', () => {
  it('a base layer from tar.c (gzip, as a stream) then a plain layer over it', async () => {
    const src = join(sandbox, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    mkdirSync(join(src, 'usr', 'bin'), { recursive: true });
    writeFileSync(join(src, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    writeFileSync(join(src, 'usr', 'bin', 'tool'), Buffer.alloc(3 * 1024 * 1024, 7), { mode: 0o755 }); // several chunks
    const tgz = join(sandbox, 'base.tar.gz');
    await tarCreate({ gzip: true, cwd: src, file: tgz, portable: true }, ['.']);
    await apply(createReadStream(tgz), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' });
    await apply(tarOf([{ path: 'etc/hostname', body: 'box\n' }]), { mediaType: 'application/vnd.oci.image.layer.v1.tar' });
    expect(tree(rootfs)).toEqual(['etc/', 'etc/hostname', 'etc/passwd', 'usr/', 'usr/bin/', 'usr/bin/tool']);
    expect(readFileSync(r('usr/bin/tool')).equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);
    expect(mode('usr/bin/tool')).toBe(0o755);
    expect(notes).toEqual([]);
  });

  it('zstd layers (Node 24 zlib), told by their magic bytes even under a wrong media type', async () => {
    await apply(zlib.zstdCompressSync(tarOf([{ path: 'z', body: 'zstd' }])), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', name: 'l1' });
    expect(readFileSync(r('z'), 'utf8')).toBe('zstd');
    expect(notes).toEqual(['layer `l1`: media type `application/vnd.oci.image.layer.v1.tar+gzip` says gzip but the data is zstd: decoding it as the data says']);
  });

  it('an image\'s uncompressed layer (plain) must be a tar: compressed once more, it is refused', async () => {
    await apply(tarOf([{ path: 'p', body: 'plain' }]), { plain: true });
    expect(readFileSync(r('p'), 'utf8')).toBe('plain');
    const twice = zlib.gzipSync(tarOf([{ path: 'q', body: 'inner' }]));
    const err = await rejection(apply(twice, { plain: true, name: 'l2' }));
    expect(formatError(err)).toBe('launch: layer `l2`: the uncompressed layer is gzip data again, not a tar');
    expect(existsSync(r('q'))).toBe(false);
  });

  it('an empty layer (docker\'s gzipped end-of-archive blocks, or nothing at all) changes nothing', async () => {
    writeFileSync(r('keep'), 'x');
    await apply(zlib.gzipSync(Buffer.alloc(1024)));
    await apply(Buffer.alloc(0));
    expect(tree(rootfs)).toEqual(['keep']);
  });
});

describe('whiteouts', () => {
  beforeEach(async () => {
    await apply(zlib.gzipSync(tarOf([
      { path: 'etc/' }, { path: 'etc/hosts', body: 'h' }, { path: 'etc/passwd', body: 'p' },
      { path: 'opt/old/' }, { path: 'opt/old/a', body: 'a' }, { path: 'opt/old/sub/' }, { path: 'opt/old/sub/c', body: 'c' },
      { path: 'opt/old/same/' }, { path: 'opt/old/same/lower', body: 'l' },
      { path: 'srv/' }, { path: 'srv/gone', body: 'g' },
      { path: 'var/tree/' }, { path: 'var/tree/deep/' }, { path: 'var/tree/deep/f', body: 'f' },
      { path: 'usr/lib/' }, { path: 'usr/lib/libc.so', body: 'libc' }, { path: 'lib', type: 'SymbolicLink', linkpath: 'usr/lib' },
    ])));
  });

  it('`.wh.NAME` deletes a lower file or a whole lower tree, and never appears itself', async () => {
    await apply(tarOf([{ path: 'etc/.wh.hosts' }, { path: 'var/.wh.tree' }, { path: 'var/.wh.never-existed' }, { path: '.wh.nothing-here' }]));
    expect(existsSync(r('etc/hosts'))).toBe(false);
    expect(existsSync(r('var/tree'))).toBe(false);
    expect(tree(rootfs).filter((p) => p.includes('.wh.'))).toEqual([]);
    expect(readFileSync(r('etc/passwd'), 'utf8')).toBe('p');
  });

  it('a whiteout never deletes what the same layer wrote, before or after it', async () => {
    await apply(tarOf([{ path: 'etc/hosts', body: 'new' }, { path: 'etc/.wh.hosts' }]));
    expect(readFileSync(r('etc/hosts'), 'utf8')).toBe('new');
  });

  it('an opaque marker after the layer\'s own entries removes only what lower layers put there', async () => {
    await apply(tarOf([
      { path: 'opt/old/' }, { path: 'opt/old/new', body: 'n' },
      { path: 'opt/old/same/' }, { path: 'opt/old/same/upper', body: 'u' }, // merged over a lower dir
      { path: 'opt/old/.wh..wh..opq' },
    ]));
    expect(tree(r('opt'))).toEqual(['old/', 'old/new', 'old/same/', 'old/same/upper']);
  });

  it('an opaque marker before the layer\'s own entries: the same result', async () => {
    await apply(tarOf([{ path: 'srv/.wh..wh..opq' }, { path: 'srv/new', body: 'n' }]));
    expect(tree(r('srv'))).toEqual(['new']);
  });

  it('an opaque root directory: only this layer\'s entries remain', async () => {
    await apply(tarOf([{ path: 'etc/hostname', body: 'h' }, { path: './.wh..wh..opq' }, { path: 'new', body: 'n' }]));
    expect(tree(rootfs)).toEqual(['etc/', 'etc/hostname', 'new']);
  });

  it('an opaque directory where a lower layer has a symlink replaces the symlink, not its target\'s contents', async () => {
    await apply(tarOf([{ path: 'lib/.wh..wh..opq' }, { path: 'lib/' }, { path: 'lib/own', body: 'o' }]));
    expect(lstatSync(r('lib')).isDirectory()).toBe(true);
    expect(tree(r('lib'))).toEqual(['own']);
    expect(readFileSync(r('usr/lib/libc.so'), 'utf8')).toBe('libc');
  });

  it('a non-directory entry under a lower symlink goes where the symlink points, inside the root', async () => {
    await apply(tarOf([{ path: 'lib/libz.so', body: 'z' }]));
    expect(readFileSync(r('usr/lib/libz.so'), 'utf8')).toBe('z');
    expect(lstatSync(r('lib')).isSymbolicLink()).toBe(true);
  });

  it('a whiteout that would name `..` is refused', async () => {
    const err = await rejection(apply(tarOf([{ path: 'etc/.wh...' }])));
    expect(err.message).toBe('invalid whiteout');
    expect(existsSync(r('etc/passwd'))).toBe(true);
  });
});

describe('entry types', () => {
  it('hard links to a file of this layer and of a lower one share the inode', async () => {
    await apply(tarOf([{ path: 'bin/', mode: 0o755 }, { path: 'bin/busybox', body: 'bb', mode: 0o755 }]));
    await apply(tarOf([
      { path: 'bin/sh', type: 'Link', linkpath: 'bin/busybox' },
      { path: 'usr/bin/new', body: 'n' },
      { path: '/usr/bin/new2', type: 'Link', linkpath: '/usr/bin/new' }, // absolute: inside the root
    ]));
    expect(lstatSync(r('bin/sh')).ino).toBe(lstatSync(r('bin/busybox')).ino);
    expect(lstatSync(r('usr/bin/new2')).ino).toBe(lstatSync(r('usr/bin/new')).ino);
    expect(lstatSync(r('bin/busybox')).nlink).toBe(2);
  });

  it('a hard link to a missing file or to a directory is an error naming both', async () => {
    let err = await rejection(apply(tarOf([{ path: 'x', type: 'Link', linkpath: 'nope' }]), { name: 'l2' }));
    expect(formatError(err)).toBe('launch: layer `l2`: hard link `x` points to a missing file `nope`');
    await apply(tarOf([{ path: 'd/' }]));
    err = await rejection(apply(tarOf([{ path: 'y', type: 'Link', linkpath: 'd' }])));
    expect(err.message).toBe('hard link `y` points to a directory');
  });

  it('symlinks are stored as they are and never followed, even dangling or pointing out', async () => {
    await apply(tarOf([
      { path: 'abs', type: 'SymbolicLink', linkpath: join(outside, 'victim') },
      { path: 'rel', type: 'SymbolicLink', linkpath: '../../../../outside' },
      { path: 'dangling', type: 'SymbolicLink', linkpath: '/no/such/file' },
    ]));
    expect(readlinkSync(r('abs'))).toBe(join(outside, 'victim'));
    expect(readlinkSync(r('rel'))).toBe('../../../../outside');
    expect(readlinkSync(r('dangling'))).toBe('/no/such/file');
    // A later file at the symlink's path replaces the symlink; it does not write through it.
    await apply(tarOf([{ path: 'abs', body: 'mine' }]));
    expect(lstatSync(r('abs')).isFile()).toBe(true);
    expect(hostSide()).toEqual(HOST_SIDE);
  });

  it('a FIFO', async () => {
    await apply(tarOf([{ path: 'run/fifo', type: 'FIFO', mode: 0o620 }]));
    expect(lstatSync(r('run/fifo')).isFIFO()).toBe(true);
    expect(mode('run/fifo')).toBe(0o620);
  });

  it(`device nodes: ${isRoot ? 'created (running as root)' : 'skipped with a note (running rootless)'}`, async () => {
    await apply(tarOf([
      { path: 'dev/null', type: 'CharacterDevice', devmaj: 1, devmin: 3, mode: 0o666 },
      { path: 'dev/loop9', type: 'BlockDevice', devmaj: 7, devmin: 9, mode: 0o660 },
    ]), { name: 'l1' });
    if (isRoot) {
      const st = lstatSync(r('dev/null'));
      expect(st.isCharacterDevice()).toBe(true);
      expect([Math.floor(st.rdev / 256), st.rdev % 256]).toEqual([1, 3]);
      expect(lstatSync(r('dev/loop9')).isBlockDevice()).toBe(true);
      expect(mode('dev/null')).toBe(0o666);
      expect(notes).toEqual([]);
    } else {
      expect(readdirSync(r('dev'))).toEqual([]);
      expect(notes).toEqual(['layer `l1`: skipped 2 device node(s) a rootless unpack cannot create: `dev/null`, `dev/loop9`']);
    }
  });

  it('rootless: device nodes are skipped with a note whoever runs it (mknod is refused in a user namespace)', async () => {
    writeFileSync(r('console'), 'lower');
    await apply(tarOf([{ path: 'console', type: 'CharacterDevice', devmaj: 5, devmin: 1 }]), { rootless: true });
    expect(existsSync(r('console'))).toBe(false); // the entry still replaces what was there
    expect(notes).toEqual(['skipped 1 device node(s) a rootless unpack cannot create: `console`']);
  });
});

describe('replacing', () => {
  it('a file over a directory removes the directory; a directory over a file or a symlink replaces it', async () => {
    await apply(tarOf([
      { path: 'dir/' }, { path: 'dir/sub/' }, { path: 'dir/sub/f', body: 'f' },
      { path: 'file', body: 'f' },
      { path: 'link', type: 'SymbolicLink', linkpath: outside },
    ]));
    await apply(tarOf([{ path: 'dir', body: 'now a file' }, { path: 'file/', mode: 0o750 }, { path: 'link/', mode: 0o700 }]));
    expect(readFileSync(r('dir'), 'utf8')).toBe('now a file');
    expect(lstatSync(r('file')).isDirectory()).toBe(true);
    expect(mode('file')).toBe(0o750);
    expect(lstatSync(r('link')).isDirectory()).toBe(true);
    expect(statSync(outside).mode & 0o777).toBe(0o755); // the symlink's target was not touched
    expect(hostSide()).toEqual(HOST_SIDE);
  });

  it('a directory over a directory keeps its contents and takes the new mode', async () => {
    await apply(tarOf([{ path: 'd/', mode: 0o755 }, { path: 'd/kept', body: 'k' }]));
    await apply(tarOf([{ path: 'd/', mode: 0o710 }, { path: 'd/added', body: 'a' }]));
    expect(tree(r('d'))).toEqual(['added', 'kept']);
    expect(mode('d')).toBe(0o710);
  });

  it('a file over a file, and a file over a hard link, do not change the other name', async () => {
    await apply(tarOf([{ path: 'f', body: 'one' }, { path: 'g', type: 'Link', linkpath: 'f' }]));
    await apply(tarOf([{ path: 'g', body: 'two' }]));
    expect(readFileSync(r('f'), 'utf8')).toBe('one');
    expect(readFileSync(r('g'), 'utf8')).toBe('two');
  });
});

describe('modes, times and owners', () => {
  it('setuid, setgid, sticky and plain modes; mtimes of files, directories and symlinks', async () => {
    const t1 = new Date('2021-05-06T07:08:09Z');
    await apply(tarOf([
      { path: 'usr/bin/su', body: 'su', mode: 0o4755 },
      { path: 'usr/bin/wall', body: 'w', mode: 0o2755 },
      { path: 'tmp/', mode: 0o1777, mtime: t1 },
      { path: 'tmp/child', body: 'c' }, // after its directory: the directory's mtime must still be t1
      { path: 'etc/shadow', body: 's', mode: 0o640 },
      { path: 'ln', type: 'SymbolicLink', linkpath: 'etc/shadow', mtime: t1 },
    ]));
    expect(mode('usr/bin/su')).toBe(0o4755);
    // Rootless, the file's group is ours (the chown was refused), so chmod(2) keeps setgid too.
    expect(mode('usr/bin/wall')).toBe(0o2755);
    expect(mode('tmp')).toBe(0o1777);
    expect(mode('etc/shadow')).toBe(0o640);
    expect(lstatSync(r('tmp')).mtime.getTime()).toBe(t1.getTime());
    expect(lstatSync(r('etc/shadow')).mtime.getTime()).toBe(T0.getTime());
    expect(lstatSync(r('ln')).mtime.getTime()).toBe(t1.getTime());
    expect(mode('usr')).toBe(0o755); // an implicit parent
  });

  it('a 0555 directory is filled by its own layer and by later ones, and stays 0555', async () => {
    await apply(tarOf([{ path: 'usr/bin/', mode: 0o555 }, { path: 'usr/bin/a', body: 'a' }]));
    expect(mode('usr/bin')).toBe(0o555);
    await apply(tarOf([{ path: 'usr/bin/b', body: 'b' }, { path: 'usr/bin/.wh.a' }]));
    expect(tree(r('usr/bin'))).toEqual(['b']);
    expect(mode('usr/bin')).toBe(0o555);
  });

  it(`uid/gid from the header: ${isRoot ? 'applied (running as root)' : 'kept as ours without failing (running rootless)'}`, async () => {
    await apply(tarOf([
      { path: 'home/u/', uid: 1234, gid: 1234, mode: 0o700 },
      { path: 'home/u/file', body: 'x', uid: 1234, gid: 2345 },
      { path: 'home/u/link', type: 'SymbolicLink', linkpath: 'file', uid: 1234, gid: 1234 },
    ]));
    const want = isRoot ? [1234, 2345] : [process.getuid!(), process.getgid!()];
    const st = lstatSync(r('home/u/file'));
    expect([st.uid, st.gid]).toEqual(want);
    expect(lstatSync(r('home/u')).uid).toBe(want[0]);
    expect(lstatSync(r('home/u/link')).uid).toBe(want[0]);
  });
});

describe('nothing leaves the root filesystem', () => {
  const escapes: [string, Entry[], string][] = [
    ['`../evil`', [{ path: '../evil', body: 'x' }], 'launch: layer `evil.tar`: entry leaves the root filesystem `../evil`'],
    ['`a/../../evil`', [{ path: 'a/', mode: 0o755 }, { path: 'a/../../evil', body: 'x' }], 'launch: layer `evil.tar`: entry leaves the root filesystem `a/../../evil`'],
    ['a hard link to `../../etc/passwd`', [{ path: 'pw', type: 'Link', linkpath: '../../etc/passwd' }],
      'launch: layer `evil.tar`: hard link `pw` points outside the root filesystem `../../etc/passwd`'],
    ['a directory `..`', [{ path: '../', mode: 0o777 }], 'launch: layer `evil.tar`: entry leaves the root filesystem `../`'],
  ];
  for (const [what, entries, line] of escapes) {
    it(`${what}: one clear error, nothing written outside`, async () => {
      const err = await rejection(apply(tarOf(entries), { name: 'evil.tar' }));
      expect(formatError(err)).toBe(line);
      expect(err.kind).toBe('usage');
      expect(hostSide()).toEqual(HOST_SIDE);
      expect(statSync(join(sandbox, 'a')).mode & 0o777).toBe(0o777 & ~process.umask()); // `../` did not chmod it
    });
  }

  it('an absolute path lands inside the root', async () => {
    await apply(tarOf([{ path: '/etc/evil', body: 'x' }, { path: '//etc///evil2', body: 'y' }]));
    expect(readFileSync(r('etc/evil'), 'utf8')).toBe('x');
    expect(readFileSync(r('etc/evil2'), 'utf8')).toBe('y');
    expect(hostSide()).toEqual(HOST_SIDE);
  });

  it('a symlink in the parent path (absolute or `..`, this layer or a lower one) is resolved inside the root', async () => {
    await apply(tarOf([
      { path: 'link', type: 'SymbolicLink', linkpath: outside },
      { path: 'link/evil', body: 'x' },
      { path: 'up', type: 'SymbolicLink', linkpath: '../../../../../../../../..' },
    ]));
    await apply(tarOf([
      { path: 'up/outside/evil2', body: 'y' },
      { path: 'link/victim', body: 'overwritten?' },
      { path: 'link/', mode: 0o777 }, // the final component is not followed: replaces the symlink
    ]));
    expect(hostSide()).toEqual(HOST_SIDE);
    expect(readFileSync(r(`${outside}/evil`), 'utf8')).toBe('x');
    expect(readFileSync(r(`${outside}/victim`), 'utf8')).toBe('overwritten?');
    expect(readFileSync(r('outside/evil2'), 'utf8')).toBe('y');
    expect(lstatSync(r('link')).isDirectory()).toBe(true);
  });

  it('a hard link through a symlink to a host file resolves inside the root (and finds nothing)', async () => {
    await apply(tarOf([{ path: 'link', type: 'SymbolicLink', linkpath: outside }]));
    const err = await rejection(apply(tarOf([{ path: 'hl', type: 'Link', linkpath: 'link/victim' }])));
    expect(err.message).toBe('hard link `hl` points to a missing file');
    expect(existsSync(r('hl'))).toBe(false);
    expect(hostSide()).toEqual(HOST_SIDE);
  });

  it('a whiteout through a symlink deletes inside the root only', async () => {
    await apply(tarOf([{ path: 'link', type: 'SymbolicLink', linkpath: outside }]));
    await apply(tarOf([{ path: 'link/.wh.victim' }, { path: 'link/.wh..wh..opq' }]));
    expect(hostSide()).toEqual(HOST_SIDE);
  });

  it('directory modes set at the end of a layer never follow a symlink that replaced a parent', async () => {
    mkdirSync(join(outside, 'e'), { mode: 0o755 });
    chmodSync(join(outside, 'e'), 0o755);
    const before = statSync(join(outside, 'e'));
    await apply(tarOf([
      { path: 'd/', mode: 0o755 }, { path: 'd/e/', mode: 0o777, mtime: new Date('2001-01-01T00:00:00Z') },
      { path: 'd', type: 'SymbolicLink', linkpath: outside }, // replaces the directory d and d/e
    ]));
    const after = statSync(join(outside, 'e'));
    expect([after.mode & 0o7777, after.mtimeMs]).toEqual([0o755, before.mtimeMs]);
    expect(readlinkSync(r('d'))).toBe(outside);
  });

  it('a symlink loop in the parent path is an error, not a hang', async () => {
    const err = await rejection(apply(tarOf([{ path: 'loop', type: 'SymbolicLink', linkpath: 'loop' }, { path: 'loop/x', body: 'x' }])));
    expect(formatError(err)).toBe('launch: entry `loop/x` goes through a symbolic link loop at `loop`');
  });

  it('a file in the parent path is an error', async () => {
    const err = await rejection(apply(tarOf([{ path: 'f', body: 'f' }, { path: 'f/x', body: 'x' }])));
    expect(formatError(err)).toBe('launch: entry `f/x` goes through a non-directory `f`');
  });
});

describe('corrupt and unsupported streams', () => {
  const layer = () => zlib.gzipSync(tarOf([{ path: 'big', body: Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)) }]));

  it('a corrupt gzip stream', async () => {
    const gz = layer();
    for (let i = 100; i < 200; i++) gz[i] = gz[i]! ^ 0x5a;
    const err = await rejection(apply(gz, { name: 'sha256:abc' }));
    expect(err.code).toBe('LAYER_CORRUPT');
    expect(formatError(err)).toMatch(/^launch: layer `sha256:abc`: corrupt gzip stream \(.+\)$/);
  });

  it('a truncated gzip stream', async () => {
    const gz = layer();
    const err = await rejection(apply(gz.subarray(0, gz.length >> 1)));
    expect(formatError(err)).toBe('launch: corrupt gzip stream (unexpected end of file)');
    // It failed in the middle of `big`: that file is closed by the time applyLayer returns.
    expect(existsSync(r('big'))).toBe(true);
    const open = readdirSync('/proc/self/fd').map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(open.filter((p) => p.startsWith(sandbox))).toEqual([]);
  });

  it('plain data that is not a tar archive', async () => {
    const err = await rejection(apply(Buffer.from('hello, this is not a tar archive\n'.repeat(40))));
    expect(err.code).toBe('LAYER_CORRUPT');
    expect(formatError(err)).toMatch(/^launch: invalid tar stream: /);
  });

  it('a truncated tar archive', async () => {
    const tar = tarOf([{ path: 'f', body: Buffer.alloc(5000, 1) }]);
    const err = await rejection(apply(tar.subarray(0, 2048)));
    expect(formatError(err)).toMatch(/^launch: invalid tar stream: Truncated input/);
  });

  it('xz layers and encrypted layers are refused by name', async () => {
    let err = await rejection(apply(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0, 0, 0, 0, 0])));
    expect(err.message).toBe('xz-compressed layer: OCI layers are plain tar, gzip or zstd');
    err = await rejection(apply(tarOf([]), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted' }));
    expect(err.code).toBe('LAYER_UNSUPPORTED');
  });

  it('a root filesystem that is missing', async () => {
    const err = await rejection(applyLayer(join(sandbox, 'nope'), tarOf([]), { rootless: true }));
    expect(formatError(err)).toBe(`launch: cannot use the root filesystem \`${join(sandbox, 'nope')}\`: No such file or directory (ENOENT)`);
  });

  it('entry types it cannot create, and aufs metadata, are skipped with a note', async () => {
    await apply(tarOf([
      { path: 'sparse', type: 'SparseFile' as Entry['type'], body: 'x' },
      { path: '.wh..wh.plnk/', mode: 0o700 }, { path: '.wh..wh.plnk/123.456', body: 'x' },
      { path: 'ok', body: 'ok' },
    ]), { name: 'old' });
    expect(tree(rootfs)).toEqual(['ok']);
    expect(notes).toEqual([
      'layer `old`: skipped `sparse`: unsupported tar entry type SparseFile',
      'layer `old`: skipped aufs metadata `.wh..wh.plnk/`',
      'layer `old`: skipped aufs metadata `.wh..wh.plnk/123.456`',
    ]);
  });

  it('a stream that fails while being read', async () => {
    const { Readable } = await import('node:stream');
    const src = new Readable({ read() {} });
    src.push(zlib.gzipSync(tarOf([{ path: 'f', body: 'x' }])).subarray(0, 20));
    setTimeout(() => src.destroy(new Error('connection reset')), 10);
    const err = await rejection(apply(src as unknown as Buffer));
    expect(err.code).toBe('LAYER_READ');
    expect(formatError(err)).toBe('launch: cannot read the layer');
    expect((err.cause as Error).message).toBe('connection reset');
  });

  it('a LaunchError from the stream (an image source\'s digest check) comes out as it is', async () => {
    const { Readable } = await import('node:stream');
    const src = new Readable({ read() {} });
    src.push(tarOf([{ path: 'f', body: 'x'.repeat(3000) }]).subarray(0, 1024));
    const mismatch = new LaunchError('spec', 'layer sha256:abc: digest mismatch', { code: 'IMAGE_DIGEST' });
    setTimeout(() => src.destroy(mismatch), 10);
    expect(await rejection(apply(src as unknown as Buffer))).toBe(mismatch);
  });
});

describe('extended attributes (PAX SCHILY.xattr.*)', () => {
  const BINARY = Buffer.from([0x00, 0x0a, 0x80, 0xff, 0x3d, 0x0a, 0x31, 0x20]); // NUL, \n, 0x80, '=' ...
  const ENODATA = osConstants.errno.ENODATA;
  const xattr = (p: string, name: string) => native().lgetxattr(r(p), name);
  const GETCAP = ['/usr/sbin/getcap', '/sbin/getcap'].find((p) => existsSync(p));

  it('file capabilities and user attributes arrive byte for byte (the 0x80 of cap_setuid too)', async () => {
    await apply(tarOf([
      { path: 'bin/' },
      { path: 'bin/ping', body: 'ping', mode: 0o755, pax: [['SCHILY.xattr.security.capability', fileCaps(CAP_NET_RAW)], ['SCHILY.xattr.trusted.launch', 't']] },
      // Owned by 1234: a chown after the attribute would have cleared the capability.
      { path: 'bin/su', body: 'su', mode: 0o755, uid: 1234, gid: 1234, pax: [['SCHILY.xattr.security.capability', fileCaps(CAP_SETUID)], ['SCHILY.xattr.user.test', BINARY]] },
      { path: 'data/', pax: [['SCHILY.xattr.user.dir', 'on a directory']] },
      // 0444: an ordinary user may set user.* only while the file is still writable.
      { path: 'data/blob', body: 'b', mode: 0o444, pax: [['SCHILY.xattr.user.test', BINARY], ['SCHILY.xattr.security.selinux', 'system_u:object_r:etc_t:s0\0']] },
    ]), { name: 'caps' });
    expect(xattr('bin/su', 'user.test')).toEqual(BINARY);
    expect(xattr('data/blob', 'user.test')).toEqual(BINARY);
    expect(xattr('data', 'user.dir')).toEqual(Buffer.from('on a directory'));
    expect(xattr('data/blob', 'security.selinux')).toBe(ENODATA); // the container's label decides
    expect(mode('data/blob')).toBe(0o444);
    expect(readFileSync(r('bin/ping'), 'utf8')).toBe('ping');
    if (isRoot) {
      expect(notes).toEqual([]);
      expect(xattr('bin/ping', 'security.capability')).toEqual(fileCaps(CAP_NET_RAW));
      expect(xattr('bin/su', 'security.capability')).toEqual(fileCaps(CAP_SETUID));
      expect(xattr('bin/ping', 'trusted.launch')).toEqual(Buffer.from('t'));
      expect(lstatSync(r('bin/su')).uid).toBe(1234);
      if (GETCAP) {
        expect(execFileSync(GETCAP, [r('bin/ping'), r('bin/su')], { encoding: 'utf8' })).toBe(`${r('bin/ping')} cap_net_raw=ep\n${r('bin/su')} cap_setuid=ep\n`);
      }
    } else {
      // An ordinary user cannot give a file capabilities or trusted.* attributes: one note each.
      expect(notes).toEqual([
        'layer `caps`: skipped the extended attribute `security.capability` of `bin/ping`: Operation not permitted (EPERM)',
        'layer `caps`: skipped the extended attribute `trusted.launch` of `bin/ping`: Operation not permitted (EPERM)',
        'layer `caps`: skipped the extended attribute `security.capability` of `bin/su`: Operation not permitted (EPERM)',
      ]);
      expect(xattr('bin/ping', 'security.capability')).toBe(ENODATA);
    }
  });

  it('a lower layer\'s directory, 0555 by now, still gets the upper layer\'s attributes', async () => {
    await apply(tarOf([{ path: 'opt/', mode: 0o555 }, { path: 'opt/f', body: 'f' }]));
    expect(mode('opt')).toBe(0o555);
    await apply(tarOf([{ path: 'opt/', mode: 0o555, pax: [['SCHILY.xattr.user.layer', '2']] }]));
    expect(xattr('opt', 'user.layer')).toEqual(Buffer.from('2'));
    expect(mode('opt')).toBe(0o555);
    expect(notes).toEqual([]);
  });

  it('attributes land on their own entry: PAX paths, GNU long names, global and ignored headers between', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    const gnu = `${'g'.repeat(120)}/${'h'.repeat(110)}`;
    const which = (v: string): [string, string] => ['SCHILY.xattr.user.which', v];
    await apply(tarOf([
      { path: 'a', body: 'a', pax: [which('a')] },
      { path: long, body: 'long', pax: [['path', long], which('long')] },
      { path: 'b', body: 'b', before: paxHeader([which('global')], 'GlobalExtendedHeader') },
      { path: 'sparse', type: 'SparseFile' as Entry['type'], pax: [which('sparse')] },
      { path: gnu, body: 'gnu', longName: true, pax: [which('gnu')] },
      { path: 'c', body: 'c', pax: [['LIBARCHIVE.xattr.user.which', Buffer.from('c').toString('base64')]] },
      { path: 'l', type: 'SymbolicLink', linkpath: 'c', pax: [['SCHILY.xattr.security.launch', 'link itself']] },
    ]), { name: 'mix' });
    expect(readFileSync(r(long), 'utf8')).toBe('long');
    expect(readFileSync(r(gnu), 'utf8')).toBe('gnu');
    const got = ['a', long, 'b', gnu, 'c'].map((p) => xattr(p, 'user.which'));
    expect(got.map((v) => (Buffer.isBuffer(v) ? v.toString() : v))).toEqual(['a', 'long', ENODATA, 'gnu', 'c']);
    expect(notes[0]).toBe('layer `mix`: skipped `sparse`: unsupported tar entry type SparseFile');
    if (isRoot) {
      expect(xattr('l', 'security.launch')).toEqual(Buffer.from('link itself'));
      expect(xattr('c', 'security.launch')).toBe(ENODATA); // lsetxattr: the link, not its target
      expect(notes).toHaveLength(1);
    } else {
      // Other security.* attributes are set where possible: an ordinary user may not.
      expect(notes.slice(1)).toEqual(['layer `mix`: skipped the extended attribute `security.launch` of `l`: Operation not permitted (EPERM)']);
    }
  });

  it('an attribute the kernel does not know is a note; a capability it refuses, an error as root', async () => {
    await apply(tarOf([{ path: 'f', body: 'f', pax: [['SCHILY.xattr.bogus.name', 'x'], ['SCHILY.xattr.user.ok', 'y']] }]), { name: 'n' });
    expect(notes).toEqual(['layer `n`: skipped the extended attribute `bogus.name` of `f`: Operation not supported (ENOTSUP)']);
    expect(xattr('f', 'user.ok')).toEqual(Buffer.from('y'));
    if (!isRoot) return;
    const err = await rejection(apply(tarOf([{ path: 'bin/bad', body: 'x', pax: [['SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2, 0x80])]] }]), { name: 'n' }));
    expect(err.code).toBe('LAYER_WRITE');
    expect(formatError(err)).toBe('launch: layer `n`: cannot set the extended attribute `security.capability` of `bin/bad`: Invalid argument (EINVAL)');
  });

  it('a tar the parser decompresses itself (gzip twice): unpacked, its attributes not, with a note', async () => {
    const inner = tarOf([{ path: 'f', body: 'f', pax: [['SCHILY.xattr.user.x', '1']] }]);
    await apply(zlib.gzipSync(zlib.gzipSync(inner)), { name: 'twice' });
    expect(readFileSync(r('f'), 'utf8')).toBe('f');
    expect(notes).toEqual(['layer `twice`: extended attributes not applied from `f` on: the tar headers could not be followed']);
  });
});
