// What the local store holds, and removing from it: `launch images` and `launch rmi`
// (lib/cli/image.ts) print these.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { probeHost } from '../host.js';
import { type Digest, parseDigest } from './digest.js';
import type { LocalStore, StoredImage } from './local.js';
import { type ImageAccess, openStore } from './locate.js';
import type { ImageConfig, ImageManifest } from './types.js';

/** One stored image as `launch images` shows it. */
export interface ImageSummary {
  /** The store's name for it (the canonical reference). */
  name: string;
  /** Its manifest's digest. */
  digest: string;
  /** Its config's digest (the image id); '' when its blobs cannot be read. */
  id: string;
  /** Bytes of its stored blobs. */
  size: number;
  /** When it was built (RFC 3339), '' when unknown. */
  created: string;
}

function parseDigestOrThrow(text: string): Digest {
  const d = parseDigest(text);
  if (typeof d === 'string') throw new Error(d);
  return d;
}

/** Sum of the stored sizes of an image's blobs, and when it was built. */
function describe(store: LocalStore, image: StoredImage): { id: string; size: number; created: string } {
  try {
    const manifest = JSON.parse(readFileSync(store.blobFile(parseDigestOrThrow(image.manifest.digest)), 'utf8')) as ImageManifest;
    const config = JSON.parse(readFileSync(store.blobFile(parseDigestOrThrow(manifest.config.digest)), 'utf8')) as ImageConfig;
    const size = image.manifest.size + manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
    return { id: manifest.config.digest, size, created: config.created ?? '' };
  } catch {
    return { id: '', size: image.manifest.size, created: '' };
  }
}

/** The images in the store. */
export function listImages(o: ImageAccess): ImageSummary[] {
  const store = openStore(o);
  return store.list().map((image) => ({ name: image.name, digest: image.manifest.digest, ...describe(store, image) }));
}

/** Cache entries (rootfs/<alg>-<hex>) that containers under the state root run from. */
async function treesInUse(stateRoot: string, store: LocalStore): Promise<Set<string>> {
  const { StateStore } = await import('../state/store.js');
  const states = new StateStore(stateRoot);
  const dirs = new Set<string>();
  const prefix = join(store.root, 'rootfs') + '/';
  for (const id of states.list()) {
    try {
      const s = states.read(id);
      if (s.bundle.startsWith(prefix)) dirs.add(s.bundle);
    } catch {
      // being created or removed right now
    }
  }
  return dirs;
}

export interface RemoveImagesOptions extends ImageAccess {
  /** The images to untag (references; docker:// taken too). None: only collect garbage. */
  refs: string[];
  /** The state root whose containers' trees are in use, and kept. */
  root: string;
}

/** Untag the images, then collect what nothing names any more (blobs, unpacked trees); a tree
 * a container under `root` runs from stays. Throws, removing nothing, when one is not stored. */
export async function removeImages(o: RemoveImagesOptions): Promise<{ removed: string[]; busy: string[] }> {
  const host = probeHost();
  const store = openStore(o);
  const { parseReference, formatReference } = await import('./reference.js');
  const names = o.refs.map((r) => formatReference(parseReference(r.startsWith('docker://') ? r.slice(9) : r)));
  const { collectGarbage } = await import('./gc.js');
  const inUse = await treesInUse(o.root, store);
  return store.lock(async () => {
    const stored = new Set(store.list().map((i) => i.name));
    const missing = names.filter((n) => !stored.has(n));
    if (missing.length) throw usageError(`no such image in the store: ${missing.join(', ')} (see launch images) in`, { code: 'IMAGE_NOT_FOUND', file: store.images });
    for (const n of names) store.untag(n);
    const gc = await collectGarbage(store, host, inUse);
    return { removed: names, busy: gc.busy };
  });
}
