// The local image store (lib/image/local.ts) and its garbage collection (lib/image/gc.ts),
// without a registry: tags, the lock and who may hold it, and what gc keeps and removes.
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../../lib/host.js';
import { parseDigest, type Digest } from '../../lib/image/digest.js';
import { collectGarbage } from '../../lib/image/gc.js';
import { LocalStore, defaultStoreRoot } from '../../lib/image/local.js';
import { sha256 } from '../helpers/image.js';
import { thrown } from '../helpers/thrown.js';

const base = mkdtempSync(join(tmpdir(), 'launch-store-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = () => LocalStore.open(join(base, `store-${n++}`));

// No subordinate ids: gc removes trees in this process, as their owner.
const host: HostFacts = {
  uid: process.getuid!(), gid: process.getgid!(), userName: undefined, subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined,
  capLastCap: 40, cgroupVersion: 2, rootless: process.getuid!() !== 0,
};

function put(store: LocalStore, data: string): Digest {
  const d = parseDigest(sha256(data)) as Digest;
  store.put(Buffer.from(data), d);
  return d;
}

/** A manifest over a config and layers, stored and tagged `name`; the digests. */
function image(store: LocalStore, name: string, layers: string[]): { manifest: Digest; config: Digest; layers: Digest[] } {
  const config = put(store, JSON.stringify({ rootfs: { type: 'layers', diff_ids: [] }, n: name }));
  const ls = layers.map((l) => put(store, l));
  const doc = JSON.stringify({
    schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.text, size: 1 },
    layers: ls.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.text, size: 1 })),
  });
  const manifest = put(store, doc);
  store.tag(name, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.text, size: doc.length });
  return { manifest, config, layers: ls };
}

const blobs = (store: LocalStore) => readdirSync(join(store.images, 'blobs/sha256')).sort();

describe('local store', () => {
  it('is an OCI image layout, found where podman keeps its storage', () => {
    const store = fresh();
    expect(JSON.parse(readFileSync(join(store.images, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(store.list()).toEqual([]);
    expect(defaultStoreRoot({ uid: 0, env: {} })).toBe('/var/lib/launch');
    expect(defaultStoreRoot({ uid: 1000, env: { HOME: '/home/a' } })).toBe('/home/a/.local/share/launch');
    expect(defaultStoreRoot({ uid: 1000, env: { XDG_DATA_HOME: '/x' } })).toBe('/x/launch');
    expect(defaultStoreRoot({ uid: 1000, env: { LAUNCH_STORE: '/s', XDG_DATA_HOME: '/x' } })).toBe('/s');
  });

  it('tags replace the name they reuse, and untag says whether there was one', () => {
    const store = fresh();
    const a = image(store, 'example.test/a:1', ['one']);
    const b = image(store, 'example.test/a:1', ['two']);
    expect(store.list().map((i) => [i.name, i.manifest.digest])).toEqual([['example.test/a:1', b.manifest.text]]);
    expect(a.manifest.text).not.toBe(b.manifest.text);
    expect(store.untag('example.test/a:1')).toBe(true);
    expect(store.untag('example.test/a:1')).toBe(false);
  });

  it.skipIf(process.getuid!() !== 0)('refuses a store that belongs to someone else', () => {
    const root = join(base, 'theirs');
    mkdirSync(root);
    chownSync(root, 1001, 1001);
    expect(thrown(() => LocalStore.open(root)).message).toMatch(/belongs to uid 1001/);
  });

  it('takes over the lock of a launch that died, and waits for a live one', async () => {
    const store = fresh();
    const lock = join(store.root, 'lock');
    writeFileSync(lock, '999999999'); // no such pid
    expect(await store.lock(async () => readFileSync(lock, 'utf8'))).toBe(String(process.pid));
    expect(existsSync(lock)).toBe(false);

    const holder = spawn('sleep', ['30']);
    writeFileSync(lock, String(holder.pid));
    const waited: number[] = [];
    let got = false;
    const taking = store.lock(async () => (got = true), (pid) => waited.push(pid));
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe(false);
    expect(waited).toEqual([holder.pid]);
    holder.kill();
    await taking;
    expect(got).toBe(true);
  });
});

describe('garbage collection', () => {
  it('removes what no tag reaches, keeps what one does and trees in use', async () => {
    const store = fresh();
    const kept = image(store, 'example.test/kept:1', ['shared', 'mine']);
    const gone = image(store, 'example.test/gone:1', ['shared', 'theirs']);
    const stray = put(store, 'nobody wants me');
    writeFileSync(join(store.root, 'partial', `sha256-${'a'.repeat(64)}`), 'half a blob');
    writeFileSync(join(store.root, 'tmp', 'index-999999999-abc'), 'left by a dead launch');
    const tree = (d: Digest) => join(store.root, 'rootfs', `${d.algorithm}-${d.hex}`);
    for (const d of [kept.config, gone.config]) mkdirSync(join(tree(d), 'rootfs/etc'), { recursive: true });
    const busy = tree(parseDigest(sha256('a config of a running container')) as Digest);
    mkdirSync(busy, { recursive: true });
    store.untag('example.test/gone:1');

    const result = await store.lock(() => collectGarbage(store, host, new Set([busy])));
    const want = [kept.manifest, kept.config, ...kept.layers].map((d) => d.hex).sort();
    expect(blobs(store)).toEqual(want);
    expect(blobs(store)).not.toContain(stray.hex);
    expect(result.blobs).toBe(4); // gone's manifest, config, `theirs`, the stray
    expect(readdirSync(join(store.root, 'partial'))).toEqual([]);
    expect(readdirSync(join(store.root, 'tmp'))).toEqual([]);
    expect(existsSync(tree(kept.config))).toBe(true);
    expect(existsSync(tree(gone.config))).toBe(false);
    expect(result.busy).toEqual([busy]);
    expect(existsSync(busy)).toBe(true);
  });
});
