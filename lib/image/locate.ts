// Naming an image and finding it: the local store, and an image by any of the names skopeo
// and podman take — a plain reference (the local store; pulled when missing), docker://REF
// (pulled), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF].
import { resolve } from 'node:path';
import { usageError } from '../errors.js';
import { LocalStore, defaultStoreRoot } from './local.js';
import type { ImageConfig } from './types.js';
import type { ImageLocator } from './unpack-image.js';

/** How the image operations reach images: the store, the registry, and where they speak. */
export interface ImageAccess {
  /** The image store's directory (--store); by default $LAUNCH_STORE, /var/lib/launch as
   * root, else $XDG_DATA_HOME/launch (~/.local/share/launch). */
  store?: string;
  /** false (--tls-verify=false): plain HTTP and unverified certificates for the registry. */
  tlsVerify?: boolean;
  /** Notes for the user (the CLI prints them as `launch: note: ...`); dropped when absent. */
  note?: (msg: string) => void;
  /** Where a pull draws its progress bars (on a terminal only); none when absent. */
  progress?: NodeJS.WriteStream;
}

const TRANSPORTS = ['oci:', 'oci-archive:', 'docker-archive:'];

export const noteOf = (o: ImageAccess): ((msg: string) => void) => o.note ?? (() => {});

export function openStore(o: ImageAccess): LocalStore {
  return LocalStore.open(resolve(o.store ?? defaultStoreRoot({ uid: process.getuid!() })));
}

/** Pull `ref` (a registry reference, without docker://) into the store; the store entry's
 * name (the canonical reference) and the image's config digest. */
export async function pullInto(store: LocalStore, ref: string, o: ImageAccess, quiet = false): Promise<{ name: string; configDigest: string }> {
  const { pullImage } = await import('./pull.js');
  return pullImage(store, ref, { tlsVerify: o.tlsVerify !== false, progress: quiet ? undefined : o.progress, note: noteOf(o) });
}

/** Where the image `name` is read from; pulls it first when it is a registry image the store
 * lacks (or always, for docker://). */
export async function locate(name: string, store: LocalStore, o: ImageAccess): Promise<ImageLocator> {
  if (TRANSPORTS.some((t) => name.startsWith(t))) return { name };
  const { parseReference, formatReference } = await import('./reference.js');
  if (name.startsWith('docker://')) return { store: store.root, ref: (await pullInto(store, name.slice(9), o)).name };
  const colon = name.indexOf(':');
  if (colon > 0 && /^(containers-storage|dir|docker-daemon)$/.test(name.slice(0, colon))) {
    throw usageError(`image ${JSON.stringify(name)}: ${name.slice(0, colon)}: images are not supported (name it REF, docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF])`, { code: 'IMAGE_NAME' });
  }
  const ref = formatReference(parseReference(name));
  if (store.list().some((i) => i.name === ref)) return { store: store.root, ref };
  return { store: store.root, ref: (await pullInto(store, ref, o)).name };
}

/** The config digest of a located image (the key of its unpacked tree), and its config. */
export async function configOf(loc: ImageLocator): Promise<{ digest: string; config: ImageConfig }> {
  const { openLocated } = await import('./unpack-image.js');
  const image = await openLocated(loc);
  await image.close();
  return { digest: image.configDigest, config: image.config };
}
