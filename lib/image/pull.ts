// `launch pull`: a registry image into the local store. The manifest (through an index, the
// host's platform) names a config and layers; each blob is downloaded to partial/, checked
// against its digest, and renamed into blobs/; blobs the store has already are not fetched
// again, and a partial file left by an interrupted pull is resumed. Only when every blob is in
// place is the name tagged in index.json, and the result read back as any image is: a pull
// that fails at any point leaves the store as it was, plus resumable partial files.
import { isObject } from './config.js';
import { parseDigest, type Digest } from './digest.js';
import { checkDescriptor, choosePlatform, readLayout } from './layout.js';
import type { LocalStore } from './local.js';
import { hostPlatform } from './platform.js';
import { formatReference, parseReference, type Reference } from './reference.js';
import { MANIFEST_TYPES, RegistryClient, type Manifest } from './registry.js';
import { imageError, parseJsonIn } from './store.js';
import type { Descriptor, Platform } from './types.js';

export interface PullOptions {
  tlsVerify: boolean;
  /** Where the progress bars go (drawn on a terminal only); none when undefined. */
  progress: NodeJS.WriteStream | undefined;
  note: (msg: string) => void;
  platform?: Platform;
  env?: NodeJS.ProcessEnv;
}

export interface Pulled {
  /** The store's name for it: the canonical reference. */
  name: string;
  manifestDigest: string;
  configDigest: string;
}

/** Layers fetched at once: enough to hide one slow connection, few enough for two cores. */
const PARALLEL = 3;

/** A manifest or index from the registry as a JSON object, with a syntax error's position. */
async function parseJson(m: Manifest, subject: string, name: string): Promise<Record<string, unknown>> {
  const doc = await parseJsonIn(m.data, subject, name);
  if (!isObject(doc)) throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: not a JSON object`, name);
  return doc;
}

/** The manifest for this platform: `top` itself, or the best entry of the index it is. */
async function platformManifest(client: RegistryClient, top: Manifest, want: Platform, name: string): Promise<Manifest & { platform?: Platform }> {
  let current: Manifest & { platform?: Platform } = top;
  for (let depth = 0; depth < 4; depth++) {
    const isIndex = current.mediaType === MANIFEST_TYPES.ociIndex || current.mediaType === MANIFEST_TYPES.dockerList;
    if (!isIndex) return current;
    const subject = `index ${current.digest}`;
    const doc = await parseJson(current, subject, name);
    const list = (Array.isArray(doc.manifests) ? doc.manifests : []).map((m, i) => checkDescriptor(m, `${subject}: manifests[${i}]`, name));
    const chosen = choosePlatform(list, want, subject, name).desc;
    current = { ...(await client.getManifest(chosen.digest)), platform: chosen.platform };
  }
  throw imageError('spec', 'IMAGE_INDEX', 'image indexes nested too deep', name);
}

/** Run `jobs` at most `n` at a time; the first failure is thrown once all have settled (no
 * download is left writing into a partial file behind our back). */
async function inParallel(jobs: (() => Promise<void>)[], n: number): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < jobs.length && failure === undefined) {
      const job = jobs[next++]!;
      try {
        await job();
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, jobs.length) }, worker));
  if (failure !== undefined) throw failure;
}

export async function pullImage(store: LocalStore, text: string, opts: PullOptions): Promise<Pulled> {
  const ref: Reference = parseReference(text);
  const name = formatReference(ref);
  const platform = opts.platform ?? hostPlatform();
  const client = new RegistryClient(ref, { tlsVerify: opts.tlsVerify, env: opts.env });
  const { createProgress } = await import('./progress.js');
  const progress = opts.progress ? createProgress(opts.progress) : undefined;
  try {
    const top = await client.getManifest(ref.digest ?? ref.tag ?? 'latest');
    const manifest = await platformManifest(client, top, platform, name);
    if (manifest.mediaType !== MANIFEST_TYPES.ociManifest && manifest.mediaType !== MANIFEST_TYPES.dockerManifest) {
      throw imageError('spec', 'IMAGE_MANIFEST', `manifest ${manifest.digest}: unsupported media type ${JSON.stringify(manifest.mediaType)}`, name);
    }
    const doc = await parseJson(manifest, `manifest ${manifest.digest}`, name);
    const config = checkDescriptor(doc.config, `manifest ${manifest.digest}: config`, name);
    const layers = (Array.isArray(doc.layers) ? doc.layers : []).map((l, i) => checkDescriptor(l, `manifest ${manifest.digest}: layers[${i}]`, name));
    const blobs = [config, ...layers.filter((l, i) => layers.findIndex((o) => o.digest.text === l.digest.text) === i)];
    await store.lock(async () => {
      await inParallel(
        blobs.map((b) => async () => {
          const size = b.desc.size;
          if (store.has(b.digest, size)) return;
          const bar = b === config ? undefined : progress?.blob(b.digest.text, size);
          const partial = store.partialFile(b.digest);
          await client.fetchBlob({ digest: b.digest.text, size }, partial, bar ? (done) => bar.update(done) : undefined);
          store.commit(partial, b.digest);
          bar?.done();
        }),
        PARALLEL,
      );
      const digest = parseDigest(manifest.digest) as Digest;
      store.put(manifest.data, digest);
      const previous = store.list().find((i) => i.name === name);
      const desc: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.data.length };
      if (manifest.platform) desc.platform = manifest.platform;
      store.tag(name, desc);
      try {
        // Read back as `run` will read it: the config parses, every layer is a known type.
        await readLayout(store.blobStore(), name, platform, '');
      } catch (err) {
        if (previous) store.tag(name, previous.manifest);
        else store.untag(name);
        throw err;
      }
    }, (pid) => opts.note(`waiting for launch pid ${pid}, which is changing the image store`));
    return { name, manifestDigest: manifest.digest, configDigest: config.digest.text };
  } finally {
    progress?.finish();
    client.close();
  }
}
