// A `docker save` tarball (docker-archive:): manifest.json lists each image's config file,
// RepoTags and layer files. The legacy per-layer directories (`<id>/json`, `VERSION`) and the
// `repositories` file repeat what manifest.json says and are ignored. Docker 25+ archives are
// also OCI layouts; they read here through manifest.json all the same.
//
// What is verifiable: the config by its file name when that is its digest (`<hex>.json`,
// `blobs/sha256/<hex>`, as docker and skopeo write it), and every layer by the config's
// rootfs.diff_ids. manifest.json itself has no digest anywhere: the format has no root of
// trust beyond the file the user handed us.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { TarStore } from './archive.js';
import { sniff } from './archive.js';
import { checkImageConfig, isObject } from './config.js';
import { parseDigest, verifyBuffer, type Digest } from './digest.js';
import { archivedLayer } from './layer.js';
import { JSON_LIMIT, imageError, parseJsonIn, requireSize } from './store.js';
import type { Compression, ImageLayer, ImageManifest } from './types.js';
import type { ResolvedImage } from './types.js';

export type DockerRef = { index: number } | { name: string };

interface Entry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

/** `busybox` -> `docker.io/library/busybox:latest`, as docker and skopeo name images: both
 * write RepoTags in one form or the other (`docker save` the short one, skopeo the long). */
export function normalizeReference(ref: string): string {
  let name = ref;
  let suffix = '';
  const at = name.indexOf('@');
  if (at >= 0) [name, suffix] = [name.slice(0, at), name.slice(at)];
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) [name, suffix] = [name.slice(0, colon), name.slice(colon) + suffix];
  else if (!suffix) suffix = ':latest';
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (first === 'index.docker.io') name = `docker.io${name.slice(slash)}`;
  else if (slash < 0 || !(first.includes('.') || first.includes(':') || first === 'localhost')) name = `docker.io/${name}`;
  if (name.startsWith('docker.io/') && !name.slice('docker.io/'.length).includes('/')) name = `docker.io/library/${name.slice('docker.io/'.length)}`;
  return name + suffix;
}

function checkEntries(doc: unknown, path: string): Entry[] {
  const bad = (where: string, want: string) => imageError('spec', 'IMAGE_MANIFEST', `manifest.json: ${where} must be ${want}`, path);
  if (!Array.isArray(doc)) throw bad('the document', 'a list');
  return doc.map((e: unknown, i) => {
    if (!isObject(e)) throw bad(`[${i}]`, 'an object');
    if (typeof e.Config !== 'string') throw bad(`[${i}].Config`, 'a file name');
    if (e.RepoTags !== undefined && e.RepoTags !== null && !(Array.isArray(e.RepoTags) && e.RepoTags.every((t) => typeof t === 'string'))) {
      throw bad(`[${i}].RepoTags`, 'a list of strings');
    }
    if (!Array.isArray(e.Layers) || !e.Layers.every((l) => typeof l === 'string')) throw bad(`[${i}].Layers`, 'a list of file names');
    return { Config: e.Config, RepoTags: (e.RepoTags as string[] | null | undefined) ?? [], Layers: e.Layers as string[] };
  });
}

function listTags(entries: Entry[]): string {
  const tags = entries.flatMap((e, i) => (e.RepoTags.length ? e.RepoTags : [`@${i}`]));
  return `tags: ${tags.join(', ')}`;
}

function choose(entries: Entry[], ref: DockerRef | undefined, path: string): Entry {
  if (ref === undefined) {
    if (entries.length === 1) return entries[0]!;
    const what = entries.length ? `${entries.length} images, name one by tag or @index` : 'manifest.json: no images';
    throw imageError(entries.length ? 'usage' : 'spec', 'IMAGE_TAG', `${what} (${listTags(entries)})`, path);
  }
  if ('index' in ref) {
    const e = entries[ref.index];
    if (!e) throw imageError('usage', 'IMAGE_TAG', `no image @${ref.index} (the archive has ${entries.length})`, path);
    return e;
  }
  const want = normalizeReference(ref.name);
  const found = entries.filter((e) => e.RepoTags.some((t) => t === ref.name || normalizeReference(t) === want));
  if (found.length === 1) return found[0]!;
  const what = found.length ? `${found.length} images tagged ${JSON.stringify(ref.name)}` : `no image tagged ${JSON.stringify(ref.name)}`;
  throw imageError('usage', 'IMAGE_TAG', `${what} (${listTags(entries)})`, path);
}

/** The sha256 a config file's name claims (`<hex>.json`, `blobs/sha256/<hex>`). */
function digestFromName(name: string): Digest | undefined {
  const m = /^([a-f0-9]{64})(?:\.json)?$/.exec(posix.basename(name));
  const d = m ? parseDigest(`sha256:${m[1]}`) : undefined;
  return typeof d === 'object' ? d : undefined;
}

function compressionOf(head: Buffer): Compression | 'xz' | 'bzip2' {
  return sniff(head) ?? 'none';
}

export async function readDockerArchive(store: TarStore, ref: DockerRef | undefined, notArchiveHint: string): Promise<ResolvedImage> {
  if ((await store.size('manifest.json')) === undefined) {
    // An archive cut short has lost files, rather than being some other kind of archive.
    if (store.hint) throw imageError('spec', 'IMAGE_TRUNCATED', `manifest.json is missing${store.hint}`, store.path);
    throw imageError('usage', 'IMAGE_FORMAT', `not a docker-archive (no manifest.json)${notArchiveHint}`, store.path);
  }
  const size = await requireSize(store, 'manifest.json', 'manifest.json');
  if (size > JSON_LIMIT) throw imageError('spec', 'IMAGE_SIZE', `manifest.json: larger than ${JSON_LIMIT} bytes`, store.path);
  const entries = checkEntries(await parseJsonIn(await store.read('manifest.json'), 'manifest.json', store.path), store.path);
  const entry = choose(entries, ref, store.path);

  const configSize = await requireSize(store, entry.Config, 'config');
  if (configSize > JSON_LIMIT) throw imageError('spec', 'IMAGE_SIZE', `config ${entry.Config}: larger than ${JSON_LIMIT} bytes`, store.path);
  const data = await store.read(entry.Config);
  const named = digestFromName(entry.Config);
  const configDigest = named ?? (parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`) as Digest);
  const subject = `config ${configDigest.text}`;
  if (named) verifyBuffer(data, named, undefined, (problem) => imageError('spec', 'IMAGE_DIGEST', `${subject} (${entry.Config}): ${problem}`, store.path));
  const config = checkImageConfig(await parseJsonIn(data, subject, store.path), subject, store.path);

  const diffIDs = config.rootfs.diff_ids;
  if (diffIDs.length !== entry.Layers.length) {
    throw imageError('spec', 'IMAGE_MANIFEST', `manifest.json: ${entry.Layers.length} layers, but ${subject} has ${diffIDs.length} rootfs.diff_ids`, store.path);
  }
  const layers: ImageLayer[] = [];
  for (const [i, file] of entry.Layers.entries()) {
    const diffID = parseDigest(diffIDs[i]) as Digest;
    const storedSize = await requireSize(store, file, `layer ${diffID.text}`);
    const stored = compressionOf(await store.head(file, 10));
    if (stored === 'xz' || stored === 'bzip2') {
      throw imageError('spec', 'IMAGE_MEDIA_TYPE', `layer ${diffID.text} (${file}): compressed with ${stored}, which launch does not read`, store.path);
    }
    layers.push(archivedLayer({ store, entry: file, stored, storedSize, diffID, index: i }));
  }

  // The manifest docker would push for this image, but with the uncompressed layers it has.
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: configDigest.text, size: data.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size ?? -1 })),
  };
  const tag = ref && 'name' in ref ? ref.name : entry.RepoTags[0];
  return { manifest, manifestDigest: undefined, config, configDigest: configDigest.text, layers, tag };
}
