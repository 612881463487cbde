// Unpacked root filesystems kept for `launch run --image`: one per image (by config digest,
// which names the layers' uncompressed content, so the same image from a registry, a layout
// or an archive shares it), unpacked once and then only read: each container writes to an
// overlay on top of it (rootfs.ts ROOT_OVERLAY), so a second start costs no copy.
//   rootfs/<hex>/rootfs      the tree
//   rootfs/<hex>/scratch     empty: each container mounts its writable tmpfs here
//   rootfs/<hex>/meta.json   what unpacking learnt (passwd, group) and the id maps it used
// An entry appears by rename once complete; one cut short is a tmp-* directory, removed by the
// next gc.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { specError } from '../errors.js';
import type { HostFacts } from '../host.js';
import type { Mapping } from '../plan/idmap.js';
import type { LocalStore } from './local.js';
import { removeTree, unpackRootfs, type ImageLocator } from './unpack-image.js';
import { imageIdMap } from './userns.js';

export interface CachedRootfs {
  /** The entry: the bundle directory of containers run from it. */
  dir: string;
  rootfs: string;
  passwd: string;
  group: string;
  uidMappings: Mapping[] | undefined;
  gidMappings: Mapping[] | undefined;
}

interface Meta {
  configDigest: string;
  passwd: string;
  group: string;
  uidMappings?: Mapping[];
  gidMappings?: Mapping[];
}

export function cacheDir(store: LocalStore, configDigest: string): string {
  return join(store.root, 'rootfs', configDigest.replace(':', '-'));
}

function readMeta(dir: string): Meta | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
}

const sameMaps = (a: Mapping[] | undefined, b: Mapping[] | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The cached tree of the image `loc` names (whose config digest is `configDigest`), unpacked
 * now if it is not there yet or was made with other id maps (/etc/subuid changed). */
export async function cachedRootfs(
  store: LocalStore, loc: ImageLocator, configDigest: string, host: HostFacts, note: (msg: string) => void,
): Promise<CachedRootfs> {
  const dir = cacheDir(store, configDigest);
  const want = imageIdMap(host);
  const done = (m: Meta): CachedRootfs => ({
    dir, rootfs: join(dir, 'rootfs'), passwd: m.passwd, group: m.group, uidMappings: m.uidMappings, gidMappings: m.gidMappings,
  });
  const fresh = (m: Meta | undefined): m is Meta => m !== undefined && sameMaps(m.uidMappings, want?.uid) && sameMaps(m.gidMappings, want?.gid);
  const before = readMeta(dir);
  if (fresh(before)) return done(before);
  return store.lock(async () => {
    const now = readMeta(dir);
    if (fresh(now)) return done(now); // made by another launch while this one waited
    const tmp = store.tmpPath('rootfs');
    try {
      mkdirSync(join(tmp, 'rootfs'), { recursive: true, mode: 0o755 });
      mkdirSync(join(tmp, 'scratch'), { mode: 0o755 });
      const got = await unpackRootfs(loc, join(tmp, 'rootfs'), host, { note, resultFile: `${tmp}.result` });
      // The unpack read the image again: an archive or layout changed since configOf (another
      // user's file, swapped meanwhile) would otherwise leave its tree under this digest, for
      // every later run of the image that really has it, from any source.
      if (got.configDigest !== configDigest) {
        throw specError(`image ${'name' in loc ? loc.name : loc.ref} changed while it was unpacked (config ${configDigest}, then ${got.configDigest})`, { code: 'IMAGE_CHANGED' });
      }
      const meta: Meta = { configDigest, passwd: got.passwd, group: got.group, uidMappings: got.idmap?.uid, gidMappings: got.idmap?.gid };
      writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta));
      // An entry made with other maps is replaced; containers still running on it keep theirs.
      if (now) {
        const old = store.tmpPath('stale');
        renameSync(dir, old);
        await removeTree(old, host, `${old}.result`);
      }
      renameSync(tmp, dir);
      return done(meta);
    } catch (err) {
      // The unpack's own error is the one to report; a failed clean-up leaves a tmp-* entry
      // for the next gc.
      await removeTree(tmp, host, `${tmp}.result`).catch(() => {});
      throw err;
    }
  });
}
