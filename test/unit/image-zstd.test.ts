// The image code on a Node whose zlib has no zstd (Node 20, which `engines` allows): node:zlib
// is mocked without createZstdDecompress, as Node 20's is. Loading the image modules must not
// need it (an import by name took every image verb down, zstd layer or not), gzip and plain
// layers still work, and a zstd layer or archive is one error line naming it and the Node
// versions that decode zstd.
//
// Checked to fail: with lib/image/layer.ts importing createZstdDecompress from node:zlib by name
// as it did, 'a zstd layer is one line...' fails ("No createZstdDecompress export is defined on
// the mock": vitest binds named imports late, where Node 20 refuses the whole module graph at
// link time; test/integration/image-node.test.ts runs the real thing on the system Node).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LaunchError, formatError } from '../../lib/errors.js';
import { hostPlatform } from '../../lib/image/platform.js';
import { openImage } from '../../lib/image/source.js';
import { applyLayer } from '../../lib/image/unpack.js';
import { ZSTD_NODES, zstdMissing } from '../../lib/image/zstd.js';
import { collect, OCI, sha256, writeBlob, writeLayout } from '../helpers/image.js';
import { rawTar } from '../helpers/layered-image.js';

vi.mock('node:zlib', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:zlib')>();
  // Node 20's zlib: no zstd decoder. (The compressor stays: the test makes its data with it.)
  const { createZstdDecompress: _absent, ...node20 } = real;
  return { ...node20, default: node20 };
});

const dir = mkdtempSync(join(tmpdir(), 'launch-zstd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tar = rawTar([{ path: 'hello', type: 'file', body: 'hi\n' }]);

/** An OCI layout of one image whose single layer is `tar` stored as `kind`. */
function layout(name: string, kind: 'gzip' | 'zstd'): { path: string; layer: string } {
  const path = join(dir, name);
  const config = { architecture: hostPlatform().architecture, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(tar)] } };
  const layer = kind === 'gzip' ? writeBlob(path, OCI.layerGzip, gzipSync(tar)) : writeBlob(path, `${OCI.layer}+zstd`, zstdCompressSync(tar));
  const manifest = writeBlob(path, OCI.manifest, JSON.stringify({ schemaVersion: 2, mediaType: OCI.manifest, config: writeBlob(path, OCI.config, JSON.stringify(config)), layers: [layer] }));
  writeLayout(path, [{ desc: manifest, tag: 'v1' }]);
  return { path, layer: layer.digest };
}

function thrown(f: () => unknown): LaunchError {
  try {
    f();
  } catch (err) {
    if (err instanceof LaunchError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('zstd on a Node without it', () => {
  it('the mock is Node 20: no zstd decoder', async () => {
    const zlib = await import('node:zlib');
    expect('createZstdDecompress' in zlib).toBe(false);
  });

  it('names the versions that added zlib zstd (22.15.0, 23.8.0)', () => {
    expect(ZSTD_NODES).toBe('Node >= 22.15 (or >= 23.8 on 23.x)');
    expect(zstdMissing({ subject: 'x' }, { createZstdDecompress: () => undefined as never })).toBeUndefined();
  });

  it('a gzip layer still opens and decodes', async () => {
    const image = await openImage(`oci:${layout('gzip', 'gzip').path}:v1`);
    try {
      expect(await collect(image.layers[0]!.openTar())).toEqual(tar);
    } finally {
      await image.close();
    }
  });

  it('a zstd layer is one line that names it and the Node it needs', async () => {
    const { path, layer } = layout('zstd', 'zstd');
    const image = await openImage(`oci:${path}:v1`);
    try {
      const err = thrown(() => image.layers[0]!.openTar());
      expect(err.code).toBe('NODE_NO_ZSTD');
      expect(formatError(err)).toBe(
        `launch: layer ${layer}: zstd-compressed, and zstd layers need Node >= 22.15 (or >= 23.8 on 23.x): this Node, ${process.version} at \`${process.execPath}\`, has no zstd decoder`,
      );
    } finally {
      await image.close();
    }
  });

  it('applyLayer of zstd bytes: the same line, with the layer name', async () => {
    const root = mkdtempSync(join(dir, 'root-'));
    const err = await applyLayer(root, zstdCompressSync(tar), { rootless: true, name: 'sha256:abc' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LaunchError);
    expect(formatError(err)).toMatch(/^launch: layer `sha256:abc`: zstd-compressed, and zstd layers need Node >= 22\.15 \(or >= 23\.8 on 23\.x\): this Node, v[\d.]+ at `[^`]+`, has no zstd decoder$/);
  });

  it('a zstd-compressed archive: the same line, naming the archive', async () => {
    const file = join(dir, 'image.tar.zst');
    writeFileSync(file, zstdCompressSync(tar));
    const err = await openImage(`docker-archive:${file}`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LaunchError);
    expect(formatError(err)).toMatch(new RegExp(`^launch: archive \`${file.replace(/[.]/g, '\\.')}\`: zstd-compressed, and zstd archives need Node >= 22\\.15`));
  });
});
