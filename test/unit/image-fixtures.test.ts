// The fixtures the image acceptance tests stand on (test/helpers/layered-image.ts, tree.ts),
// tested themselves: a fixture that described the wrong tree, or a manifest blind to a change,
// would let those tests pass over a broken unpacker.
//
// Runs as root and as an ordinary user: without root, applyLayer cannot give files away, so
// the owners of the expected tree are only checked as root (and as ours otherwise).
import { execFileSync } from 'node:child_process';
import {
  chmodSync, chownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../../lib/image/source.js';
import { applyLayer } from '../../lib/image/unpack.js';
import { sha256 } from '../helpers/image.js';
import { LAYERED_CONFIG, checkLayeredTree, layeredTars, writeLayeredImage, type LayeredExpect } from '../helpers/layered-image.js';
import { diffManifests, treeManifest } from '../helpers/tree.js';

const isRoot = process.getuid?.() === 0;

let base: string;
let layout: string;
let tag: string;
let want: LayeredExpect;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'launch-fixtures-test-'));
  ({ layout, tag, expect: want } = await writeLayeredImage(base));
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Open `name` and apply its layers in order onto a new directory; that directory. */
async function unpack(name: string, into: string, notes: string[] = []): Promise<string> {
  mkdirSync(into);
  const img = await openImage(name);
  try {
    for (const layer of img.layers) {
      await applyLayer(into, layer.open(), { rootless: !isRoot, mediaType: layer.mediaType, name: layer.digest, note: (m) => notes.push(m) });
    }
  } finally {
    await img.close();
  }
  return into;
}

describe('writeLayeredImage', () => {
  it('writes a layout openImage reads: tag, run config, one gzip, one zstd and one plain layer', async () => {
    const img = await openImage(`oci:${layout}:${tag}`);
    try {
      expect(img.tag).toBe(tag);
      expect(img.config.config).toEqual(LAYERED_CONFIG);
      expect(want.config).toEqual(LAYERED_CONFIG);
      expect(img.layers.map((l) => l.compression)).toEqual(want.compressions);
      const busybox = want.present['/bin/busybox']!.content as Buffer;
      expect(img.layers.map((l) => l.diffID)).toEqual(layeredTars(busybox).map((t) => sha256(t)));
    } finally {
      await img.close();
    }
  });

  // The hand-written ustar headers, read back by a reference implementation (GNU tar): the
  // owners, modes, link targets and whiteout names are what the tests think they are.
  it('writes tars GNU tar lists with the exact names, owners and types', () => {
    const [l1, l2] = layeredTars(Buffer.from('#!busybox\n'));
    const list = (t: Buffer) => execFileSync('tar', ['--numeric-owner', '-tvf', '-'], { input: t, encoding: 'utf8' });
    const one = list(l1!);
    expect(one).toMatch(/^-rw-r----- 1234\/1234 +13 2021-01-01 \d\d:\d\d data\/owned-by-1234$/m);
    expect(one).toMatch(/^lrwxrwxrwx 1234\/1234 +0 .* data\/link -> owned-by-1234$/m);
    expect(one).toMatch(/^drwxrwsr-x 0\/1234 .* srv\/shared\/$/m);
    expect(one).toMatch(/^drwxrwxrwt 0\/0 .* tmp\/$/m);
    expect(one).toMatch(/^-rwsr-xr-x 0\/0 .* usr\/local\/bin\/suid$/m);
    const two = list(l2!);
    expect(two).toMatch(/^-rw-r--r-- 0\/0 +0 .* data\/\.wh\.gone\.txt$/m);
    expect(two).toMatch(/^hrw-r----- 1234\/1234 +0 .* data\/hard link to data\/owned-by-1234$/m);
    expect(two).toMatch(/^prw--w---- 1234\/1234 +0 .* data\/fifo$/m);
    expect(two).toMatch(/^-rw-r--r-- 0\/0 +0 .* opt\/old\/\.wh\.\.wh\.\.opq$/m);
    // The same bytes each time: layout digests are stable across runs.
    expect(sha256(layeredTars(Buffer.from('x'))[1]!)).toBe(sha256(layeredTars(Buffer.from('y'))[1]!));
  });

  it(`applied layer by layer, gives the expected tree (owners ${isRoot ? 'checked: running as root' : 'not checked: running rootless'})`, async () => {
    const notes: string[] = [];
    const rootfs = await unpack(`oci:${layout}:${tag}`, join(base, 'rootfs'), notes);
    expect(notes).toEqual([]);
    expect(checkLayeredTree(rootfs, want, { owners: isRoot ? 'raw' : 'skip' })).toEqual([]);
    if (!isRoot) {
      // Every file stayed ours (a refused chown is no error), which the subordinate-range
      // view shows as container root.
      const owners = new Set(treeManifest(rootfs, { ids: { uidBase: 100000, gidBase: 100000 } }).map((l) => l.split(' ')[3]));
      expect([...owners]).toEqual(['0:0']);
    }
    // The manifest shows the hard link pair and the deletions.
    const lines = treeManifest(rootfs);
    const pair = lines.filter((l) => l.startsWith('data/hard ') || l.startsWith('data/owned-by-1234 '));
    expect(pair).toHaveLength(2);
    for (const l of pair) expect(l).toMatch(/ 0640 \d+:\d+ size=37 sha256=[0-9a-f]{64} mtime=1643767322 hardlink=data\/hard$/);
    expect(lines.some((l) => l.startsWith('data/gone.txt ') || l.startsWith('opt/old/a.txt ') || l.includes('.wh.'))).toBe(false);
    expect(lines.find((l) => l.startsWith('etc/localtime '))).toMatch(/^etc\/localtime symlink 0777 \d+:\d+ -> \/usr\/share\/zoneinfo\/UTC mtime=1677812583$/);
  });

  it('checkLayeredTree reports a tree that is not the expected one', async () => {
    const rootfs = await unpack(`oci:${layout}:${tag}`, join(base, 'rootfs-broken'));
    writeFileSync(join(rootfs, 'data/gone.txt'), 'back\n');
    chmodSync(join(rootfs, 'tmp'), 0o777);
    unlinkSync(join(rootfs, 'data/hard'));
    writeFileSync(join(rootfs, 'data/hard'), 'hello from layer two\n');
    const problems = checkLayeredTree(rootfs, want, { owners: 'skip' });
    expect(problems).toEqual(expect.arrayContaining([
      '/data/gone.txt: exists, expected it deleted',
      '/tmp: mode 777, expected 1777',
      expect.stringMatching(/^\/data\/hard: content /),
      expect.stringMatching(/^\/data\/hard: inode \d+, expected that of \/data\/owned-by-1234/),
    ]));
  });
});

describe('treeManifest', () => {
  let tree: string;
  const T = new Date('2020-05-05T05:05:05Z');

  beforeAll(() => {
    tree = join(base, 'small');
    mkdirSync(join(tree, 'd'), { recursive: true });
    chmodSync(join(tree, 'd'), 0o755); // whatever the umask
    writeFileSync(join(tree, 'd/f'), 'one\n', { mode: 0o644 });
    chmodSync(join(tree, 'd/f'), 0o644);
    utimesSync(join(tree, 'd/f'), T, T);
    symlinkSync('f', join(tree, 'd/l'));
    lutimesSync(join(tree, 'd/l'), T, T);
    writeFileSync(join(tree, 'with space'), '');
    chmodSync(join(tree, 'with space'), 0o644);
    utimesSync(join(tree, 'with space'), T, T);
  });

  const me = () => `${process.getuid!()}:${process.getgid!()}`;

  it('is the same for the same tree, and leaves directory mtimes out', () => {
    const a = treeManifest(tree);
    utimesSync(join(tree, 'd'), new Date(0), new Date(0));
    expect(treeManifest(tree)).toEqual(a);
    expect(diffManifests(a, treeManifest(tree))).toBe('');
    expect(a).toEqual([
      `"with space" file 0644 ${me()} size=0 sha256=${sha256('').slice(7)} mtime=1588655105`,
      `d dir 0755 ${me()}`,
      `d/f file 0644 ${me()} size=4 sha256=${sha256('one\n').slice(7)} mtime=1588655105`,
      `d/l symlink 0777 ${me()} -> f mtime=1588655105`,
    ]);
  });

  /** Change something, check the manifest and its diff see it, then undo it. */
  function notices(change: () => void, undo: () => void, path: string): string {
    const before = treeManifest(tree);
    change();
    try {
      const after = treeManifest(tree);
      expect(after).not.toEqual(before);
      const diff = diffManifests(before, after, ['before', 'after']);
      expect(diff).toMatch(new RegExp(`^1 path\\(s\\) differ \\(- before, \\+ after\\):\\n- ${path} .*\\n\\+ ${path} `));
      return diff;
    } finally {
      undo();
      expect(treeManifest(tree)).toEqual(before);
    }
  }

  it('notices a mode change, setuid included', () => {
    const diff = notices(() => chmodSync(join(tree, 'd/f'), 0o4644), () => chmodSync(join(tree, 'd/f'), 0o644), 'd/f');
    expect(diff).toContain('+ d/f file 4644 ');
    notices(() => chmodSync(join(tree, 'd'), 0o1755), () => chmodSync(join(tree, 'd'), 0o755), 'd');
  });

  it('notices a content change of the same size and mtime', () => {
    const f = join(tree, 'd/f');
    const put = (s: string) => {
      writeFileSync(f, s);
      chmodSync(f, 0o644);
      utimesSync(f, T, T);
    };
    notices(() => put('two\n'), () => put('one\n'), 'd/f');
  });

  it('notices a symlink target change', () => {
    const l = join(tree, 'd/l');
    const point = (to: string) => {
      unlinkSync(l);
      symlinkSync(to, l);
      lutimesSync(l, T, T);
    };
    const diff = notices(() => point('g'), () => point('f'), 'd/l');
    expect(diff).toContain('+ d/l symlink 0777 ');
    expect(diff).toContain(' -> g ');
  });

  it.skipIf(!isRoot)('notices an owner change (as root: only root can give a file away)', () => {
    const diff = notices(() => chownSync(join(tree, 'd/f'), 1234, 4321), () => chownSync(join(tree, 'd/f'), 0, 0), 'd/f');
    expect(diff).toContain('+ d/f file 0644 1234:4321 ');
  });

  it('translates owners through a subordinate range, or a function', () => {
    const f = join(tree, 'd/f');
    const st = statSync(f);
    // As if unpacked rootless: our id is container 0; base+4 is container 5.
    const view = { uidBase: st.uid - 4, gidBase: st.gid - 4, uid: st.uid + 1, gid: st.gid + 1 };
    expect(treeManifest(tree, { ids: view }).find((l) => l.startsWith('d/f '))).toContain(' 0644 5:5 ');
    const own = { uidBase: 1 << 30, gidBase: 1 << 30 };
    expect(treeManifest(tree, { ids: own }).find((l) => l.startsWith('d/f '))).toContain(' 0644 0:0 ');
    const below = { uidBase: 1 << 30, gidBase: 1 << 30, uid: -1, gid: -1 };
    expect(treeManifest(tree, { ids: below }).find((l) => l.startsWith('d/f '))).toContain(` host:${st.uid}:host:${st.gid} `);
    expect(treeManifest(tree, { ids: (kind, id) => `${kind}${id}` }).find((l) => l.startsWith('d/f '))).toContain(` uid${st.uid}:gid${st.gid} `);
  });

  it('groups hard links under their first path, and lists a path only in one side', () => {
    const a = treeManifest(tree);
    linkSync(join(tree, 'd/f'), join(tree, 'd/e'));
    try {
      const b = treeManifest(tree);
      expect(b.find((l) => l.startsWith('d/f '))).toMatch(/ hardlink=d\/e$/);
      expect(b.find((l) => l.startsWith('d/e '))).toMatch(/ hardlink=d\/e$/);
      const diff = diffManifests(a, b);
      expect(diff).toMatch(/^2 path\(s\) differ/);
      expect(diff).toMatch(/^\+ d\/e file /m);
      expect(diff).not.toMatch(/^- d\/e /m);
    } finally {
      unlinkSync(join(tree, 'd/e'));
    }
    expect(lstatSync(join(tree, 'd/f')).nlink).toBe(1);
  });
});
