// Garbage collection of the local store (after `launch rmi`, or `launch rmi --prune`): what no
// tag reaches any more goes, with the unpacked trees of images no longer stored. Blobs are
// shared between images (a base layer), so only a walk from every tag knows what is unused.
// Runs under the store's lock, so no pull is writing meanwhile.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HostFacts } from '../host.js';
import { isObject } from './config.js';
import { parseDigest } from './digest.js';
import { LocalStore, alive } from './local.js';
import { removeTree } from './unpack-image.js';

export interface GcResult {
  blobs: number;
  bytes: number;
  trees: number;
  /** Unpacked trees of removed images still used by a container: kept. */
  busy: string[];
}

/** Every blob a tag reaches: manifests, nested indexes, configs, layers. A blob that is
 * missing or unreadable reaches nothing further (and is not there to remove either). */
export function reachable(store: LocalStore): { blobs: Set<string>; configs: Set<string> } {
  const blobs = new Set<string>();
  const configs = new Set<string>();
  const visit = (digest: unknown, depth: number) => {
    const d = parseDigest(digest);
    if (typeof d === 'string' || blobs.has(d.text)) return;
    blobs.add(d.text);
    if (depth > 4) return;
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(store.blobFile(d), 'utf8'));
    } catch {
      return;
    }
    if (!isObject(doc)) return;
    if (Array.isArray(doc.manifests)) for (const m of doc.manifests) if (isObject(m)) visit(m.digest, depth + 1);
    if (isObject(doc.config) && Array.isArray(doc.layers)) {
      const c = parseDigest(doc.config.digest);
      if (typeof c !== 'string') {
        blobs.add(c.text);
        configs.add(c.text);
      }
      for (const l of doc.layers) if (isObject(l) && typeof l.digest === 'string') blobs.add(l.digest);
    }
  };
  for (const image of store.list()) visit(image.manifest.digest, 0);
  return { blobs, configs };
}

function alivePid(name: string): boolean {
  const pid = Number(/-(\d+)-/.exec(name)?.[1]);
  return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid);
}

/** Remove what no tag reaches. `inUse`: cache entry directories (rootfs/<alg>-<hex>) that
 * containers run from; kept even when their image is gone. Call under store.lock(). */
export async function collectGarbage(store: LocalStore, host: HostFacts, inUse: ReadonlySet<string>): Promise<GcResult> {
  const { blobs, configs } = reachable(store);
  const result: GcResult = { blobs: 0, bytes: 0, trees: 0, busy: [] };
  for (const alg of readdirSync(join(store.images, 'blobs'))) {
    for (const hex of readdirSync(join(store.images, 'blobs', alg))) {
      if (blobs.has(`${alg}:${hex}`)) continue;
      const file = join(store.images, 'blobs', alg, hex);
      result.bytes += statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      rmSync(file, { force: true });
      result.blobs++;
    }
  }
  // Interrupted downloads of blobs nothing wants any more, and work files of dead launches.
  for (const name of readdirSync(join(store.root, 'partial'))) {
    if (!blobs.has(name.replace('-', ':'))) rmSync(join(store.root, 'partial', name), { force: true });
  }
  for (const name of readdirSync(join(store.root, 'tmp'))) {
    if (alivePid(name)) continue;
    const path = join(store.root, 'tmp', name);
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) await removeTree(path, host, store.tmpPath('gc.result'));
    else rmSync(path, { force: true });
  }
  for (const name of readdirSync(join(store.root, 'rootfs'))) {
    if (configs.has(name.replace('-', ':'))) continue;
    const dir = join(store.root, 'rootfs', name);
    if (inUse.has(dir)) {
      result.busy.push(dir);
      continue;
    }
    await removeTree(dir, host, store.tmpPath('gc.result'));
    result.trees++;
  }
  return result;
}
