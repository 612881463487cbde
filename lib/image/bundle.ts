// An image as something to run: unpacked into a bundle directory (rootfs/ and a config.json
// made from the image's config), or, for `run --image`, its cached tree and a config made in
// memory. Rootless with subordinate ids, the files are unpacked in a user namespace with the
// ranges podman maps (userns.ts), and the config maps the same.
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { type HostFacts, probeHost } from '../host.js';
import type { Mapping } from '../plan/idmap.js';
import { ROOT_OVERLAY } from '../plan/rootfs.js';
import type { Spec } from '../spec/schema.js';
import { cachedRootfs } from './cache.js';
import { type ImageAccess, configOf, locate, noteOf, openStore } from './locate.js';
import { runtimeConfig } from './runtime-config.js';
import type { ImageConfig } from './types.js';

interface Files {
  passwd: string;
  group: string;
  uidMappings?: Mapping[] | undefined;
  gidMappings?: Mapping[] | undefined;
}

/** The bundle config for an image: its config over `launch spec`'s defaults, with the id maps
 * its files were unpacked with (rootless with subordinate ids: the ranges podman maps). */
function imageSpec(config: ImageConfig, host: HostFacts, args: string[] | undefined, files: Files, note: (msg: string) => void): Spec {
  const spec = runtimeConfig(config, { rootless: host.rootless, uid: host.uid, gid: host.gid, args, passwd: files.passwd, group: files.group });
  if (files.uidMappings && files.gidMappings) {
    spec.linux = { ...spec.linux, uidMappings: files.uidMappings.map((m) => ({ ...m })), gidMappings: files.gidMappings.map((m) => ({ ...m })) };
  } else if (host.rootless && spec.process?.user?.additionalGids) {
    // One gid mapped: setgroups is denied in such a namespace, so the image's supplementary
    // groups cannot be had (podman without /etc/subgid drops them too).
    note(`${spec.process.user.additionalGids.length} supplementary group(s) of the image's user dropped: no subordinate gids are mapped`);
    delete spec.process.user.additionalGids;
  }
  return spec;
}

export interface UnpackOptions extends ImageAccess {
  /** The image, by any name locate() takes. */
  image: string;
  /** The bundle directory to make (or an empty one to fill). */
  bundle: string;
}

/** Unpack an image into a bundle: `<bundle>/rootfs` and `<bundle>/config.json`. On failure
 * nothing of it is left (nor the bundle directory, if this made it). */
export async function unpackBundle(o: UnpackOptions): Promise<void> {
  const host = probeHost();
  const note = noteOf(o);
  const bundle = resolve(o.bundle);
  const existed = existsSync(bundle);
  if (existed && readdirSync(bundle).length > 0) throw usageError('the bundle directory is not empty:', { code: 'BUNDLE_EXISTS', file: bundle });
  const store = openStore(o);
  const loc = await locate(o.image, store, o);
  const { config } = await configOf(loc);
  const { unpackRootfs, removeTree } = await import('./unpack-image.js');
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  try {
    // Owner-only, new or given, as umoci does: the tree holds whatever the image wants, and as
    // root that includes setuid-root programs and 0666 device nodes (the host's disk): other
    // users of the host must not reach them through a bundle under /tmp. The container does
    // not need the way in: rootfs/ itself (its `/`) keeps its mode.
    chmodSync(bundle, 0o700);
    const got = await unpackRootfs(loc, rootfs, host, { note, resultFile: store.tmpPath('unpack.result') });
    const spec = imageSpec(config, host, undefined, { ...got, uidMappings: got.idmap?.uid, gidMappings: got.idmap?.gid }, note);
    writeFileSync(join(bundle, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
  } catch (err) {
    // Leave nothing: what this unpack wrote, and the bundle directory if it made it.
    await removeTree(rootfs, host, store.tmpPath('unpack.result')).catch(() => {});
    try {
      if (!existed) rmSync(bundle, { recursive: true, force: true });
    } catch {
      // what removeTree could not remove stays; the unpack's error is the one to report
    }
    throw err;
  }
}

export interface ImageRunOptions extends ImageAccess {
  image: string;
  /** Words that replace the image's Cmd. */
  args: string[];
  /** -t: process.terminal. */
  tty: boolean;
}

/** `run --image`: the bundle is the image's cached tree, read-only under a per-container tmpfs
 * overlay; the config is made now, in memory, from the image's. */
export async function imageBundle(o: ImageRunOptions): Promise<{ spec: Spec; bundle: string }> {
  const host = probeHost();
  const note = noteOf(o);
  const store = openStore(o);
  const loc = await locate(o.image, store, o);
  const { digest, config } = await configOf(loc);
  const tree = await cachedRootfs(store, loc, digest, host, note);
  const spec = imageSpec(config, host, o.args.length ? o.args : undefined, tree, note);
  spec.root = { path: tree.rootfs, readonly: false };
  if (o.tty) spec.process!.terminal = true;
  spec.annotations = { ...spec.annotations, [ROOT_OVERLAY]: 'scratch' };
  return { spec, bundle: tree.dir };
}
