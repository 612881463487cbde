// The one shape every image source (OCI layout, oci-archive, docker-archive) is read into.
// Field names follow the OCI image spec (image-spec manifest.md, config.md), which docker's
// v2 schema 2 manifests and image configs share.
import type { Readable } from 'node:stream';

export type ImageFormat = 'oci' | 'oci-archive' | 'docker-archive';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The part of an image config that says how to run it (image-spec config.md `config`). */
export interface RunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [other: string]: unknown;
}

/** The image config document (image-spec config.md), as parsed: checked for the fields
 * launch reads, everything else passed through. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: RunConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
  [other: string]: unknown;
}

export type Compression = 'none' | 'gzip' | 'zstd';

export interface ImageLayer {
  /** Digest of the bytes open() yields: the blob as stored for OCI images, the uncompressed
   * tar (the DiffID) for docker-archive. */
  digest: string;
  /** Size of the bytes open() yields, when the image declares it. */
  size: number | undefined;
  mediaType: string;
  /** Compression of the bytes open() yields. */
  compression: Compression;
  /** The uncompressed tar's digest, from the config's `rootfs.diff_ids`. */
  diffID: string;
  /** The blob, checked against `digest` and `size` as it streams: a mismatch is an `error`
   * event (a LaunchError) in place of `end`. */
  open(): Readable;
  /** The uncompressed tar, checked against `digest` (compressed) and `diffID` (uncompressed)
   * as it streams. */
  openTar(): Readable;
}

/** What reading an image's manifest and config gives (layout.ts, docker-archive.ts). */
export interface ResolvedImage {
  /** The image manifest; for docker-archive (which has none) one made from manifest.json,
   * whose layer descriptors are the uncompressed tars open() yields (size -1 for a layer the
   * archive holds compressed: its uncompressed size is not recorded anywhere). */
  manifest: ImageManifest;
  /** The manifest's digest; undefined for docker-archive. */
  manifestDigest: string | undefined;
  config: ImageConfig;
  configDigest: string;
  layers: ImageLayer[];
  /** The tag it was chosen by, or the only image's own (ref.name annotation, first RepoTag). */
  tag: string | undefined;
}

export interface ImageSource extends ResolvedImage {
  /** The name it was opened by, e.g. `oci-archive:/tmp/img.tar:latest`. */
  name: string;
  format: ImageFormat;
  /** The absolute path of the directory or archive. */
  path: string;
  /** Release the archive (and any temporary copy of it). Streams still open then fail. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** The platform to choose from an image index; the host's by default. */
  platform?: Platform;
}
