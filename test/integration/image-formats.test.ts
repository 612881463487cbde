// Acceptance: one image, three formats, one root filesystem. The layered image of
// test/helpers/layered-image.ts (gzip, zstd and plain layers with whiteouts, an opaque
// directory, a hard link, a FIFO, owners other than root) is written as an OCI layout; skopeo,
// the reference implementation, turns it into an oci-archive and a docker-archive (whose
// layers it stores decompressed). Each is opened with openImage and applied layer by layer
// with applyLayer into its own directory, and the trees must be the same, path by path, down
// to owners, modes, hard links and file mtimes - and be the tree the fixture describes.
//
// skopeo 1.9 will not make a docker-archive of an image with a zstd layer, so the
// docker-archive comes from a second layout of the same tars with that layer gzipped; both
// layouts are unpacked and compared too.
//
// As root the owners are the image's (1234 etc.). As an ordinary user applyLayer cannot give
// files away, so every tree is owned by the caller: the trees are still compared (they were
// unpacked the same way), but whether a rootless unpack through a subordinate id range keeps
// the image's owners is checked by the CLI test, which runs launch in a user namespace.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openImage } from '../../lib/image/source.js';
import { applyLayer } from '../../lib/image/unpack.js';
import { skopeoCopy, skopeoMissing, skopeoVersion } from '../helpers/image.js';
import { checkLayeredTree, writeLayeredImage, type LayeredExpect } from '../helpers/layered-image.js';
import { diffManifests, treeManifest } from '../helpers/tree.js';

const isRoot = process.getuid?.() === 0;
const noSkopeo = skopeoMissing();
const REF = 'example.test/layered:1';

let base: string;
type Source = 'oci' | 'oci (gzip)' | 'oci-archive' | 'docker-archive';
let names: Record<Source, string>;
let want: LayeredExpect;

beforeAll(async () => {
  if (noSkopeo) return;
  base = mkdtempSync(join(tmpdir(), 'launch-formats-test-'));
  mkdirSync(join(base, 'zstd'));
  mkdirSync(join(base, 'gzip'));
  const image = await writeLayeredImage(join(base, 'zstd'));
  const gzipped = await writeLayeredImage(join(base, 'gzip'), { zstd: false });
  want = image.expect;
  const source = `oci:${image.layout}:${image.tag}`;
  const ociArchive = join(base, 'image.oci.tar');
  const dockerArchive = join(base, 'image.docker.tar');
  skopeoCopy(source, `oci-archive:${ociArchive}:${image.tag}`);
  skopeoCopy(`oci:${gzipped.layout}:${gzipped.tag}`, `docker-archive:${dockerArchive}:${REF}`);
  names = {
    oci: source,
    'oci (gzip)': `oci:${gzipped.layout}:${gzipped.tag}`,
    'oci-archive': `oci-archive:${ociArchive}:${image.tag}`,
    'docker-archive': `docker-archive:${dockerArchive}:${REF}`,
  };
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Open `name`, apply its layers in order onto `base/<dir>`; the layers' compressions, the
 * notes applyLayer gave, and the tree's manifest. */
async function unpack(name: string, dir: string): Promise<{ rootfs: string; compressions: string[]; notes: string[]; manifest: string[] }> {
  const rootfs = join(base, dir);
  mkdirSync(rootfs);
  const notes: string[] = [];
  const img = await openImage(name);
  try {
    for (const layer of img.layers) {
      await applyLayer(rootfs, layer.open(), { rootless: !isRoot, mediaType: layer.mediaType, name: layer.digest, note: (m) => notes.push(m) });
    }
    return { rootfs, compressions: img.layers.map((l) => l.compression), notes, manifest: treeManifest(rootfs) };
  } finally {
    await img.close();
  }
}

describe(noSkopeo ? `image formats (skipped: ${noSkopeo})` : `image formats, archives by ${skopeoVersion()}`, () => {
  it.skipIf(noSkopeo)(`oci, oci-archive and docker-archive unpack to the same tree (${isRoot ? 'as root: owners included' : 'rootless: all files ours'})`, async () => {
    const trees = {} as Record<Source, Awaited<ReturnType<typeof unpack>>>;
    for (const [i, source] of (Object.keys(names) as Source[]).entries()) trees[source] = await unpack(names[source], `rootfs-${i}`);

    // The formats did differ on the way in.
    expect(trees.oci.compressions).toEqual(['gzip', 'zstd', 'none']);
    expect(trees['oci (gzip)'].compressions).toEqual(['gzip', 'gzip', 'none']);
    expect(trees['oci-archive'].compressions[1]).toBe('zstd');
    expect(trees['docker-archive'].compressions).toEqual(['none', 'none', 'none']);
    for (const t of Object.values(trees)) expect(t.notes).toEqual([]);

    // The layout's tree is the fixture's; every other tree is the layout's.
    expect(checkLayeredTree(trees.oci.rootfs, want, { owners: isRoot ? 'raw' : 'skip' })).toEqual([]);
    expect(trees.oci.manifest.length).toBeGreaterThan(30);
    for (const source of ['oci (gzip)', 'oci-archive', 'docker-archive'] as const) {
      const diff = diffManifests(trees.oci.manifest, trees[source].manifest, ['oci', source]);
      expect(diff, diff).toBe('');
    }
  });
});
