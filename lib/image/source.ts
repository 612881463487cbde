// Open an image named as skopeo and podman name local images (containers-transports(5)):
//   oci:DIR[:TAG]              an OCI image layout directory
//   oci-archive:FILE[:TAG]     a tar of one
//   docker-archive:FILE[:REF]  a `docker save` tarball; REF is a RepoTag or @INDEX
// into one ImageSource whose every blob is checked against its digest as it is read.
// As in containers/image, the path ends at the first colon after the transport: a path with
// a colon in it cannot be named (skopeo has the same limit).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromNodeError, usageError } from '../errors.js';
import { TarStore } from './archive.js';
import { readDockerArchive, type DockerRef } from './docker-archive.js';
import { readLayout } from './layout.js';
import type { ResolvedImage } from './types.js';
import { hostPlatform } from './platform.js';
import { DirStore, imageError, type BlobStore } from './store.js';
import type { ImageFormat, ImageSource, OpenOptions } from './types.js';

export type { ImageFormat, ImageLayer, ImageSource, ImageConfig, ImageManifest, OpenOptions, Platform, RunConfig } from './types.js';

export interface ImageName {
  format: ImageFormat;
  /** Absolute. */
  path: string;
  /** oci / oci-archive: the tag; docker-archive: the RepoTag or `@N`. */
  reference: string | undefined;
}

const FORMATS: readonly string[] = ['oci', 'oci-archive', 'docker-archive'];
const FORMS = 'oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:REF]';

export function parseImageName(name: string): ImageName {
  const colon = name.indexOf(':');
  const transport = colon < 0 ? '' : name.slice(0, colon);
  if (!FORMATS.includes(transport)) {
    const known = ['docker', 'containers-storage', 'dir', 'docker-daemon'].includes(transport) ? ` (${transport}: images are not supported)` : '';
    throw usageError(`image ${JSON.stringify(name)}: name it ${FORMS}${known}`, { code: 'IMAGE_NAME' });
  }
  const rest = name.slice(colon + 1);
  const sep = rest.indexOf(':');
  const path = sep < 0 ? rest : rest.slice(0, sep);
  const reference = sep < 0 || sep === rest.length - 1 ? undefined : rest.slice(sep + 1);
  if (path === '') throw usageError(`image ${JSON.stringify(name)}: no path (name it ${FORMS})`, { code: 'IMAGE_NAME' });
  return { format: transport as ImageFormat, path: resolve(path), reference };
}

function dockerRef(reference: string | undefined, name: string): DockerRef | undefined {
  if (reference === undefined) return undefined;
  if (!reference.startsWith('@')) return { name: reference };
  const index = Number(reference.slice(1));
  if (!/^@\d+$/.test(reference) || !Number.isSafeInteger(index)) {
    throw usageError(`image ${JSON.stringify(name)}: @${reference.slice(1)} is not an image index (@0, @1, ...)`, { code: 'IMAGE_NAME' });
  }
  return { index };
}

async function openDir(path: string): Promise<DirStore> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw fromNodeError('usage', 'cannot open image', err, { code: 'IMAGE_OPEN', file: path });
  }
  if (!isDir) throw imageError('usage', 'IMAGE_FORMAT', 'not a directory: an OCI layout is one (name an archive of it oci-archive:FILE)', path);
  return new DirStore(path);
}

/** Open the image `name` names, pick its manifest (by tag, then by platform), read and check
 * its manifest and config, and check its layers are there. The layers are read later, by
 * whoever applies them, through ImageLayer.open()/openTar(). */
export async function openImage(name: string, options: OpenOptions = {}): Promise<ImageSource> {
  const parsed = parseImageName(name);
  const platform = options.platform ?? hostPlatform();
  let store: BlobStore;
  let read: (s: BlobStore) => Promise<ResolvedImage>;
  switch (parsed.format) {
    case 'oci':
      store = await openDir(parsed.path);
      read = (s) => readLayout(s, parsed.reference, platform, '');
      break;
    case 'oci-archive': {
      const tar = await TarStore.open(parsed.path, 'an oci-archive', ' (name a layout directory oci:DIR)');
      store = tar;
      read = async () => {
        const hint = (await tar.size('manifest.json')) !== undefined ? ' (it has a manifest.json: a docker-archive?)' : '';
        return readLayout(tar, parsed.reference, platform, hint);
      };
      break;
    }
    case 'docker-archive': {
      const ref = dockerRef(parsed.reference, name);
      const tar = await TarStore.open(parsed.path, 'a docker-archive', '');
      store = tar;
      read = async () => {
        const hint = (await tar.size('oci-layout')) !== undefined ? ' (it has an oci-layout file: an oci-archive?)' : '';
        return readDockerArchive(tar, ref, hint);
      };
      break;
    }
  }
  try {
    const image = await read(store);
    return { ...image, name, format: parsed.format, path: parsed.path, close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}
