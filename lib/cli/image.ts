// The image verbs: `pull`, `unpack`, `images`, `rmi`, and `run --image`. Images are named as
// skopeo and podman name them: a plain reference (the local store; pulled when missing),
// docker://REF (pulled), oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF].
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { type HostFacts, probeHost } from '../host.js';
import { cachedRootfs } from '../image/cache.js';
import { type Digest, parseDigest } from '../image/digest.js';
import { LocalStore, type StoredImage, defaultStoreRoot } from '../image/local.js';
import { ROOT_OVERLAY } from '../plan/rootfs.js';
import { runtimeConfig } from '../image/runtime-config.js';
import type { ImageConfig, ImageManifest } from '../image/types.js';
import type { ImageLocator } from '../image/unpack-image.js';
import type { Mapping } from '../plan/idmap.js';
import type { Spec } from '../spec/schema.js';
import type { GlobalOptions } from './main.js';

export interface ImageOptions extends GlobalOptions {
  /** --store: the image store's directory. */
  store?: string;
  /** --tls-verify=false: plain HTTP and unverified certificates for the registry. */
  tlsVerify: boolean;
}

interface Files {
  passwd: string;
  group: string;
  uidMappings?: Mapping[] | undefined;
  gidMappings?: Mapping[] | undefined;
}

const note = (msg: string) => process.stderr.write(`launch: note: ${msg}\n`);
const TRANSPORTS = ['oci:', 'oci-archive:', 'docker-archive:'];

function openStore(o: ImageOptions): LocalStore {
  return LocalStore.open(resolve(o.store ?? defaultStoreRoot({ uid: process.getuid!() })));
}

/** Pull `ref` into the store; the store entry's name. */
async function pull(store: LocalStore, ref: string, o: ImageOptions, quiet = false): Promise<{ name: string; configDigest: string }> {
  const { pullImage } = await import('../image/pull.js');
  return pullImage(store, ref, { tlsVerify: o.tlsVerify, progress: quiet ? undefined : process.stderr, note });
}

/** Where the image `name` is read from; pulls it first when it is a registry image the store
 * lacks (or always, for docker://). */
async function locate(name: string, store: LocalStore, o: ImageOptions): Promise<ImageLocator> {
  if (TRANSPORTS.some((t) => name.startsWith(t))) return { name };
  const { parseReference, formatReference } = await import('../image/reference.js');
  if (name.startsWith('docker://')) return { store: store.root, ref: (await pull(store, name.slice(9), o)).name };
  const colon = name.indexOf(':');
  if (colon > 0 && /^(containers-storage|dir|docker-daemon)$/.test(name.slice(0, colon))) {
    throw usageError(`image ${JSON.stringify(name)}: ${name.slice(0, colon)}: images are not supported (name it REF, docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF])`, { code: 'IMAGE_NAME' });
  }
  const ref = formatReference(parseReference(name));
  if (store.list().some((i) => i.name === ref)) return { store: store.root, ref };
  return { store: store.root, ref: (await pull(store, ref, o)).name };
}

/** The config digest of a located image: the key of its unpacked tree. */
async function configDigestOf(loc: ImageLocator): Promise<{ digest: string; config: ImageConfig }> {
  const { openLocated } = await import('../image/unpack-image.js');
  const image = await openLocated(loc);
  await image.close();
  return { digest: image.configDigest, config: image.config };
}

/** The bundle config for an image: its config over `launch spec`'s defaults, with the id maps
 * its files were unpacked with (rootless with subordinate ids: the ranges podman maps). */
function imageSpec(config: ImageConfig, host: HostFacts, args: string[] | undefined, files: Files): Spec {
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

export async function pullVerb(o: ImageOptions & { ref: string; quiet: boolean }): Promise<void> {
  const store = openStore(o);
  const ref = o.ref.startsWith('docker://') ? o.ref.slice(9) : o.ref;
  const got = await pull(store, ref, o, o.quiet);
  process.stdout.write(`${got.configDigest.slice(got.configDigest.indexOf(':') + 1)}\n`);
}

export async function unpackVerb(o: ImageOptions & { image: string; bundle: string }): Promise<void> {
  const host = probeHost();
  const bundle = resolve(o.bundle);
  const existed = existsSync(bundle);
  if (existed && readdirSync(bundle).length > 0) throw usageError('the bundle directory is not empty:', { code: 'BUNDLE_EXISTS', file: bundle });
  const store = openStore(o);
  const loc = await locate(o.image, store, o);
  const { config } = await configDigestOf(loc);
  const { unpackRootfs, removeTree } = await import('../image/unpack-image.js');
  const rootfs = join(bundle, 'rootfs');
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  try {
    const got = await unpackRootfs(loc, rootfs, host, { note, resultFile: store.tmpPath('unpack.result') });
    const spec = imageSpec(config, host, undefined, { ...got, uidMappings: got.idmap?.uid, gidMappings: got.idmap?.gid });
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

function parseDigestOrThrow(text: string): Digest {
  const d = parseDigest(text);
  if (typeof d === 'string') throw new Error(d);
  return d;
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) [v, i] = [v / 1000, i + 1];
  return `${i === 0 ? v : v.toPrecision(3)} ${units[i]}`;
}

export function imagesVerb(o: ImageOptions & { format: string; quiet: boolean }): void {
  const store = openStore(o);
  const rows = store.list().map((image) => ({ name: image.name, digest: image.manifest.digest, ...describe(store, image) }));
  if (o.format === 'json') {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
  if (o.quiet) {
    for (const r of rows) process.stdout.write(`${short(r.id)}\n`);
    return;
  }
  const table = [['NAME', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows.map((r) => [r.name, short(r.id), r.created.slice(0, 19).replace('T', ' '), humanSize(r.size)])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')}\n`);
}

/** Cache entries (rootfs/<alg>-<hex>) that containers under --root run from. */
async function treesInUse(o: GlobalOptions, store: LocalStore): Promise<Set<string>> {
  const { StateStore } = await import('../state/store.js');
  const states = new StateStore(o.root);
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

export async function rmiVerb(o: ImageOptions & { refs: string[]; prune: boolean }): Promise<void> {
  if (o.refs.length === 0 && !o.prune) throw usageError('name the images to remove (or --prune to only collect garbage)', { code: 'USAGE' });
  const host = probeHost();
  const store = openStore(o);
  const { parseReference, formatReference } = await import('../image/reference.js');
  const names = o.refs.map((r) => formatReference(parseReference(r.startsWith('docker://') ? r.slice(9) : r)));
  const { collectGarbage } = await import('../image/gc.js');
  const inUse = await treesInUse(o, store);
  await store.lock(async () => {
    const stored = new Set(store.list().map((i) => i.name));
    const missing = names.filter((n) => !stored.has(n));
    if (missing.length) throw usageError(`no such image in the store: ${missing.join(', ')} (see launch images) in`, { code: 'IMAGE_NOT_FOUND', file: store.images });
    for (const n of names) store.untag(n);
    const gc = await collectGarbage(store, host, inUse);
    for (const n of names) process.stdout.write(`${n}\n`);
    for (const dir of gc.busy) note(`kept the unpacked tree ${dir}: a container still runs from it (launch rmi --prune removes it later)`);
  });
}

export interface RunImageOptions {
  image: string;
  /** Words that replace the image's Cmd. */
  args: string[];
  /** -t: process.terminal. */
  tty: boolean;
}

/** `run --image`: the bundle is the image's cached tree, read-only under a per-container tmpfs
 * overlay; the config is made now, in memory, from the image's. */
export async function imageRun(o: ImageOptions & RunImageOptions): Promise<{ spec: Spec; bundle: string }> {
  const host = probeHost();
  const store = openStore(o);
  const loc = await locate(o.image, store, o);
  const { digest, config } = await configDigestOf(loc);
  const tree = await cachedRootfs(store, loc, digest, host, note);
  const spec = imageSpec(config, host, o.args.length ? o.args : undefined, tree);
  spec.root = { path: tree.rootfs, readonly: false };
  if (o.tty) spec.process!.terminal = true;
  spec.annotations = { ...spec.annotations, [ROOT_OVERLAY]: 'scratch' };
  return { spec, bundle: tree.dir };
}

/** The helper in a user namespace (lib/image/userns.ts) runs here. */
export async function usernsJobVerb(text: string): Promise<number> {
  const { serveJob } = await import('../image/userns.js');
  const { unpackJob, removeJob } = await import('../image/unpack-image.js');
  return serveJob(text, { unpack: unpackJob, remove: removeJob });
}

/** `launch unshare [CMD...]`: run a command as root of a user namespace with the caller's
 * subordinate ids mapped, the namespace rootless unpacking uses, as `podman unshare`: to look
 * at or remove (`launch unshare rm -rf BUNDLE`) files an image gave to other ids. */
export async function unshareVerb(o: GlobalOptions & { command: string[] }): Promise<number> {
  const host = probeHost();
  const { execInUserns, imageIdMap, noIdMapReason } = await import('../image/userns.js');
  const idmap = imageIdMap(host);
  if (!idmap) {
    throw usageError(host.uid === 0 ? 'unshare is for ordinary users: root owns every id already' : `no subordinate ids to map: ${noIdMapReason(host)}`, { code: 'USAGE' });
  }
  const args = o.command.length ? o.command : [process.env.SHELL || '/bin/sh'];
  const status = await execInUserns(args, host, idmap);
  return status.signal ? 128 + status.signal : (status.code ?? 125);
}
