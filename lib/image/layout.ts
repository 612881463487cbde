// An OCI image layout (image-spec image-layout.md), from a directory (oci:) or a tar of one
// (oci-archive:): oci-layout, index.json, and content-addressed blobs/<alg>/<hex>. From the
// index.json entry the user named by tag (`org.opencontainers.image.ref.name`), through image
// indexes by platform, to one manifest, its config and its layers; each JSON blob is checked
// against its descriptor before it is parsed, and the layers' blobs are checked to exist
// with their declared size before anyone starts applying them.
import { checkImageConfig, isObject } from './config.js';
import { blobPath, parseDigest, verifyBuffer, type Digest } from './digest.js';
import { ociLayer } from './layer.js';
import { formatPlatform, platformScore } from './platform.js';
import { JSON_LIMIT, imageError, parseJsonIn, requireSize, type BlobStore } from './store.js';
import type { Compression, Descriptor, ImageLayer, ImageManifest, Platform, ResolvedImage } from './types.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
};
const INDEX_TYPES = new Set([MT.ociIndex, MT.dockerList]);
const MANIFEST_TYPES = new Set([MT.ociManifest, MT.dockerManifest]);
const CONFIG_TYPES = new Set([MT.ociConfig, MT.dockerConfig]);

/** Layer media types launch can apply, and how their blobs are compressed. Non-distributable
 * (foreign) layers are fine when the layout carries their blob, which requireSize checks. */
const LAYER_TYPES: Record<string, Compression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
};

// An index pointing at an index pointing at ... is legal; a cycle of them is not.
const MAX_INDEX_DEPTH = 4;

export interface Checked {
  desc: Descriptor;
  digest: Digest;
}

export function checkDescriptor(v: unknown, where: string, path: string): Checked {
  const bad = (why: string) => imageError('spec', 'IMAGE_DESCRIPTOR', `${where}: ${why}`, path);
  if (!isObject(v)) throw bad('must be a JSON object');
  const digest = parseDigest(v.digest);
  if (typeof digest === 'string') throw bad(digest);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw bad('size must be a non-negative integer');
  if (v.mediaType !== undefined && typeof v.mediaType !== 'string') throw bad('mediaType must be a string');
  if (v.annotations !== undefined && !isObject(v.annotations)) throw bad('annotations must be an object');
  if (v.platform !== undefined && !(isObject(v.platform) && typeof v.platform.os === 'string' && typeof v.platform.architecture === 'string')) {
    throw bad('platform must have os and architecture');
  }
  return { desc: v as unknown as Descriptor, digest };
}

/** A JSON blob named by a descriptor: size-capped, checked, then parsed. */
async function readJsonBlob(store: BlobStore, c: Checked, subject: string): Promise<unknown> {
  const entry = blobPath(c.digest);
  const size = await requireSize(store, entry, subject);
  if (c.desc.size > JSON_LIMIT || size > JSON_LIMIT) throw imageError('spec', 'IMAGE_SIZE', `${subject}: larger than ${JSON_LIMIT} bytes`, store.path);
  const fail = (problem: string) => imageError('spec', 'IMAGE_DIGEST', `${subject}: ${problem}`, store.path);
  if (size !== c.desc.size) throw fail(`size mismatch (declared ${c.desc.size} bytes, got ${size})`);
  const data = await store.read(entry);
  verifyBuffer(data, c.digest, c.desc.size, fail);
  return parseJsonIn(data, subject, store.path);
}

/** A small unhashed file of the layout itself (oci-layout, index.json). */
async function readJsonFile(store: BlobStore, entry: string): Promise<unknown> {
  const size = await requireSize(store, entry, entry);
  if (size > JSON_LIMIT) throw imageError('spec', 'IMAGE_SIZE', `${entry}: larger than ${JSON_LIMIT} bytes`, store.path);
  return parseJsonIn(await store.read(entry), entry, store.path);
}

function tagsOf(list: Checked[]): string {
  const tags = list.map((c) => c.desc.annotations?.[REF_NAME]).filter((t): t is string => typeof t === 'string');
  return tags.length ? `tags: ${tags.join(', ')}` : 'the layout has no tags';
}

function checkedList(doc: unknown, subject: string, path: string): Checked[] {
  if (!isObject(doc) || !Array.isArray(doc.manifests)) throw imageError('spec', 'IMAGE_INDEX', `${subject}: manifests must be a list`, path);
  return doc.manifests.map((m, i) => checkDescriptor(m, `${subject}: manifests[${i}]`, path));
}

/** The entry of an image index that runs on `want`. */
export function choosePlatform(list: Checked[], want: Platform, subject: string, path: string): Checked {
  let best: Checked | undefined;
  let bestScore = 0;
  for (const c of list) {
    const score = c.desc.platform ? platformScore(want, c.desc.platform) : undefined;
    if (score !== undefined && score > bestScore) [best, bestScore] = [c, score];
  }
  if (best) return best;
  const have = [...new Set(list.map((c) => formatPlatform(c.desc.platform)))].join(', ');
  throw imageError('usage', 'IMAGE_PLATFORM', `${subject}: no image for ${formatPlatform(want)} (it has ${have || 'no images'})`, path);
}


/** Read the image `tag` names (or the only one) from an OCI layout in `store`. */
export async function readLayout(store: BlobStore, tag: string | undefined, platform: Platform, notLayoutHint: string): Promise<ResolvedImage> {
  if ((await store.size('oci-layout')) === undefined) {
    // An archive cut short has lost files, rather than being some other kind of archive.
    if (store.hint) throw imageError('spec', 'IMAGE_TRUNCATED', `oci-layout is missing${store.hint}`, store.path);
    throw imageError('usage', 'IMAGE_FORMAT', `not an OCI image layout (no oci-layout file)${notLayoutHint}`, store.path);
  }
  const layout = await readJsonFile(store, 'oci-layout');
  const version = isObject(layout) ? layout.imageLayoutVersion : undefined;
  if (typeof version !== 'string' || !/^1\./.test(version)) {
    throw imageError('spec', 'IMAGE_FORMAT', `oci-layout: unsupported imageLayoutVersion ${JSON.stringify(version)} (launch reads 1.x)`, store.path);
  }

  const all = checkedList(await readJsonFile(store, 'index.json'), 'index.json', store.path);
  const named = tag === undefined ? all : all.filter((c) => c.desc.annotations?.[REF_NAME] === tag);
  let chosen: Checked;
  if (named.length === 0) {
    if (tag !== undefined) throw imageError('usage', 'IMAGE_TAG', `no image tagged ${JSON.stringify(tag)} (${tagsOf(all)})`, store.path);
    throw imageError('spec', 'IMAGE_INDEX', 'index.json: no images', store.path);
  } else if (named.length === 1) {
    chosen = named[0]!;
  } else if (named.every((c) => c.desc.platform)) {
    // One name for several platforms (how some tools write a multi-platform image into
    // index.json itself, without a nested index).
    chosen = choosePlatform(named, platform, 'index.json', store.path);
  } else {
    const what = tag === undefined ? `${named.length} images, name one by tag` : `${named.length} images tagged ${JSON.stringify(tag)}`;
    throw imageError('usage', 'IMAGE_TAG', `${what} (${tagsOf(all)})`, store.path);
  }

  const refName = chosen.desc.annotations?.[REF_NAME];
  for (let depth = 0; ; depth++) {
    const subject = `manifest ${chosen.digest.text}`;
    const doc = await readJsonBlob(store, chosen, subject);
    if (!isObject(doc)) throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: not a JSON object`, store.path);
    const inner = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
    // image-spec requires the two to agree; a blob that claims another type than the
    // descriptor that pinned it is not silently read as that other type.
    if (inner !== undefined && chosen.desc.mediaType !== undefined && inner !== chosen.desc.mediaType) {
      throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: media type ${inner} differs from its descriptor's ${chosen.desc.mediaType}`, store.path);
    }
    const mediaType = chosen.desc.mediaType ?? inner ?? (Array.isArray(doc.manifests) ? MT.ociIndex : MT.ociManifest);
    if (INDEX_TYPES.has(mediaType)) {
      if (depth >= MAX_INDEX_DEPTH) throw imageError('spec', 'IMAGE_INDEX', `${subject}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`, store.path);
      const list = checkedList(doc, `image index ${chosen.digest.text}`, store.path);
      chosen = choosePlatform(list, platform, `image index ${chosen.digest.text}`, store.path);
      continue;
    }
    if (!MANIFEST_TYPES.has(mediaType)) {
      const schema1 = mediaType.startsWith('application/vnd.docker.distribution.manifest.v1') ? ' (docker schema 1, obsolete: convert it with a newer skopeo)' : '';
      throw imageError('spec', 'IMAGE_MEDIA_TYPE', `${subject}: unsupported manifest media type ${mediaType}${schema1}`, store.path);
    }
    return readManifest(store, doc, chosen, mediaType, typeof refName === 'string' ? refName : undefined);
  }
}

async function readManifest(store: BlobStore, doc: Record<string, unknown>, pinned: Checked, mediaType: string, tag: string | undefined): Promise<ResolvedImage> {
  const subject = `manifest ${pinned.digest.text}`;
  if (doc.schemaVersion !== 2) throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: schemaVersion must be 2`, store.path);
  if (!Array.isArray(doc.layers)) throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: layers must be a list`, store.path);
  const config = checkDescriptor(doc.config, `${subject}: config`, store.path);
  if (!CONFIG_TYPES.has(config.desc.mediaType)) {
    throw imageError('spec', 'IMAGE_MEDIA_TYPE', `${subject}: config media type ${config.desc.mediaType} is not a container image's (an OCI artifact?)`, store.path);
  }
  const configSubject = `config ${config.digest.text}`;
  const imageConfig = checkImageConfig(await readJsonBlob(store, config, configSubject), configSubject, store.path);
  const diffIDs = imageConfig.rootfs.diff_ids;
  if (diffIDs.length !== doc.layers.length) {
    throw imageError('spec', 'IMAGE_MANIFEST', `${subject}: ${doc.layers.length} layers, but the config has ${diffIDs.length} rootfs.diff_ids`, store.path);
  }

  const layers: ImageLayer[] = [];
  for (const [i, raw] of doc.layers.entries()) {
    const l = checkDescriptor(raw, `${subject}: layers[${i}]`, store.path);
    const compression = LAYER_TYPES[l.desc.mediaType];
    if (compression === undefined) throw imageError('spec', 'IMAGE_MEDIA_TYPE', `${subject}: layers[${i}]: unsupported layer media type ${l.desc.mediaType}`, store.path);
    const diffID = parseDigest(diffIDs[i]) as Digest;
    if (compression === 'none' && diffID.text !== l.digest.text) {
      throw imageError('spec', 'IMAGE_DIGEST', `layer ${l.digest.text}: uncompressed, but rootfs.diff_ids[${i}] is ${diffID.text}`, store.path);
    }
    const entry = blobPath(l.digest);
    const size = await requireSize(store, entry, `layer ${l.digest.text}`);
    if (size !== l.desc.size) throw imageError('spec', 'IMAGE_DIGEST', `layer ${l.digest.text}: size mismatch (declared ${l.desc.size} bytes, got ${size})`, store.path);
    layers.push(ociLayer({ store, entry, digest: l.digest, size: l.desc.size, mediaType: l.desc.mediaType, compression, diffID, index: i }));
  }
  const manifest = { ...doc, mediaType } as unknown as ImageManifest;
  return { manifest, manifestDigest: pinned.digest.text, config: imageConfig, configDigest: config.digest.text, layers, tag };
}
