// An image, by whatever name, into a root filesystem: its layers applied in order
// (unpack.ts), as root in place, rootless in a user namespace with the subordinate ids mapped
// (userns.ts), and the image's /etc/passwd and /etc/group read from the result for `User`.
import { chmodSync, closeSync, constants as fsc, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { LaunchError, hostError } from '../errors.js';
import type { HostFacts } from '../host.js';
import type { IdMap } from '../plan/idmap.js';
import { InRoot, ResolveError } from './inroot.js';
import { LocalStore } from './local.js';
import { readLayout } from './layout.js';
import { hostPlatform } from './platform.js';
import type { ResolvedImage } from './types.js';
import { applyLayer } from './unpack.js';
import { imageIdMap, noIdMapReason, runInUserns, serveJob, type Job } from './userns.js';

/** An image as the helper process can find it again: a transport name (oci:, oci-archive:,
 * docker-archive:) or an entry of the local store. */
export type ImageLocator = { name: string } | { store: string; ref: string };

export interface OpenedImage extends ResolvedImage {
  /** How error lines and notes name it. */
  label: string;
  close(): Promise<void>;
}

export async function openLocated(loc: ImageLocator): Promise<OpenedImage> {
  if ('name' in loc) {
    const { openImage } = await import('./source.js');
    const img = await openImage(loc.name);
    return { ...img, label: loc.name };
  }
  const store = LocalStore.open(loc.store);
  const img = await readLayout(store.blobStore(), loc.ref, hostPlatform(), '');
  return { ...img, label: loc.ref, close: async () => {} };
}

/** Apply every layer of `image` onto `rootfs`, bottom first. */
export async function applyImage(image: ResolvedImage, rootfs: string, opts: { rootless: boolean; note: (msg: string) => void }): Promise<void> {
  for (const layer of image.layers) {
    await applyLayer(rootfs, layer.openTar(), { rootless: opts.rootless, plain: true, name: layer.digest, note: opts.note });
  }
}

const MAX_LINKS = 40;

/** A file of the unpacked root read as the container will see it: symlinks resolved inside
 * the root (an image's /etc/passwd may point anywhere, /etc/shadow of the host included).
 * '' when absent. */
export function readInRoot(root: string, path: string): string {
  const fs = new InRoot(root, false);
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  try {
    for (let links = 0; links <= MAX_LINKS; links++) {
      const name = parts.at(-1);
      const dir = fs.dir(parts.slice(0, -1), false);
      if (dir === undefined || name === undefined || name === '..') return '';
      const rel = dir === '' ? name : `${dir}/${name}`;
      const st = lstatSync(fs.abs(rel), { throwIfNoEntry: false });
      if (!st) return '';
      if (st.isSymbolicLink()) {
        const target = readlinkSync(fs.abs(rel));
        parts = [...(target.startsWith('/') ? [] : dir.split('/').filter(Boolean)), ...target.split('/').filter((p) => p !== '' && p !== '.')];
        continue;
      }
      if (!st.isFile()) return '';
      const fd = openSync(fs.abs(rel), fsc.O_RDONLY | fsc.O_NOFOLLOW);
      try {
        return readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    }
  } catch (err) {
    if (err instanceof ResolveError) return '';
    throw hostError(`cannot read ${path} of the image's root filesystem`, { code: 'IMAGE_READ', file: root, cause: err });
  }
  return '';
}

export interface Unpacked {
  passwd: string;
  group: string;
  /** The config digest of the image the layers came from (read again for the unpack). */
  configDigest: string;
  /** The maps the files were made with (rootless with a subordinate range). */
  idmap: IdMap | undefined;
}

/** The helper's job (userns.ts): apply and read the account files as root of the namespace. */
export async function unpackJob(job: Job, note: (msg: string) => void): Promise<Omit<Unpacked, 'idmap'>> {
  const image = await openLocated(job.image as ImageLocator);
  try {
    await applyImage(image, job.rootfs as string, { rootless: true, note });
  } finally {
    await image.close();
  }
  return { passwd: readInRoot(job.rootfs as string, '/etc/passwd'), group: readInRoot(job.rootfs as string, '/etc/group'), configDigest: image.configDigest };
}

/** Unpack the image `loc` names into the existing empty directory `rootfs`. */
export async function unpackRootfs(
  loc: ImageLocator, rootfs: string, host: HostFacts, opts: { note: (msg: string) => void; resultFile: string },
): Promise<Unpacked> {
  const idmap = imageIdMap(host);
  if (idmap) {
    const value = (await runInUserns({ op: 'unpack', resultFile: opts.resultFile, image: loc, rootfs }, host, idmap, opts.note)) as Omit<Unpacked, 'idmap'>;
    return { ...value, idmap };
  }
  const why = noIdMapReason(host);
  if (why) opts.note(`${why}: files the image gives to other users become yours`);
  const image = await openLocated(loc);
  try {
    await applyImage(image, rootfs, { rootless: host.rootless, note: opts.note });
  } catch (err) {
    if (err instanceof LaunchError) throw err;
    throw hostError(`cannot unpack ${image.label}: ${(err as Error).message}`, { cause: err });
  } finally {
    await image.close();
  }
  return { passwd: readInRoot(rootfs, '/etc/passwd'), group: readInRoot(rootfs, '/etc/group'), configDigest: image.configDigest, idmap: undefined };
}

/** Remove a tree unpacked by unpackRootfs (rootless: its files belong to subordinate ids,
 * which only the helper may remove). */
export async function removeTree(path: string, host: HostFacts, resultFile: string): Promise<void> {
  const idmap = imageIdMap(host);
  if (idmap) {
    await runInUserns({ op: 'remove', resultFile, path }, host, idmap);
    return;
  }
  await removeJob({ op: 'remove', resultFile, path });
}

/** rm -rf that also removes what an image made unwritable (a 0555 /usr/bin as its owner). */
export async function removeJob(job: Job): Promise<void> {
  const path = job.path as string;
  const openUp = (dir: string) => {
    try {
      chmodSync(dir, 0o700);
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) openUp(`${dir}/${e.name}`);
    } catch {
      // not ours, or gone: rmSync reports what really stops it
    }
  };
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    openUp(path);
    rmSync(path, { recursive: true, force: true });
  }
}

/** The helper's side of runInUserns (userns-helper.ts, or the single executable's entry):
 * run the job `text` describes, write its result, and return the helper's exit code. */
export function serveUsernsJob(text: string): Promise<number> {
  return serveJob(text, { unpack: unpackJob, remove: removeJob });
}
