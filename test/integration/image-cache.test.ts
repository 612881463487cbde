// The cache of unpacked trees (lib/image/cache.ts), in process, as root (rootless, the unpack
// runs in the user-namespace helper, which image-cli.test.ts covers through the CLI).
//
// A tree is kept under its image's config digest and reused by every image with that digest,
// from any source. `run --image` reads the image twice: once for the digest (configOf), once,
// in the unpack, for the layers. An archive or layout that changes in between (another user's
// file, swapped at the right moment) must not leave its tree under the first image's digest,
// where the next run of that image, pulled from anywhere, would find it.
//
// Checked to fail: without the digest check in cachedRootfs, the tree of image B was stored
// under image A's digest and returned.
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LaunchError } from '../../lib/errors.js';
import { probeHost } from '../../lib/host.js';
import { cacheDir, cachedRootfs } from '../../lib/image/cache.js';
import { LocalStore } from '../../lib/image/local.js';
import { configOf } from '../../lib/image/locate.js';
import { writeImage, writeLayout } from '../helpers/image.js';
import { rawTar } from '../helpers/layered-image.js';

const notRoot = process.getuid!() === 0 ? undefined : 'needs root (rootless, the unpack runs in the user-namespace helper)';
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'launch-cache-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function layout(path: string, file: string): string {
  const tar = rawTar([{ path: file, type: 'file', body: `${file}\n` }]);
  writeLayout(path, [{ desc: writeImage(path, { architecture: 'amd64', layers: [tar] }), tag: 'v1' }]);
  return path;
}

describe(`the unpacked-tree cache ${notRoot ? `(skipped: ${notRoot})` : ''}`, () => {
  it.skipIf(notRoot)('never keeps a tree under a digest that is not its image\'s: an image swapped between the two reads is refused', async () => {
    const store = LocalStore.open(join(dir, 'store'));
    const image = layout(join(dir, 'image'), 'from-a');
    const loc = { name: `oci:${image}:v1` };
    const { digest } = await configOf(loc);
    // Swapped for another image after its digest was read.
    rmSync(image, { recursive: true });
    renameSync(layout(join(dir, 'other'), 'from-b'), image);
    expect((await configOf(loc)).digest).not.toBe(digest);

    const err = await cachedRootfs(store, loc, digest, probeHost(), () => {}).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).message).toMatch(/changed/);
    expect(existsSync(cacheDir(store, digest))).toBe(false);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
  });

  it.skipIf(notRoot)('keeps the tree of an unchanged image under its digest, and finds it again', async () => {
    const store = LocalStore.open(join(dir, 'store'));
    const loc = { name: `oci:${layout(join(dir, 'image'), 'from-a')}:v1` };
    const { digest } = await configOf(loc);
    const tree = await cachedRootfs(store, loc, digest, probeHost(), () => {});
    expect(tree.dir).toBe(cacheDir(store, digest));
    expect(readdirSync(tree.rootfs)).toEqual(['from-a']);
    expect((await cachedRootfs(store, loc, digest, probeHost(), () => {})).dir).toBe(tree.dir);
  });
});
