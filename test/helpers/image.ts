// Test images made by hand: a busybox-static layer tar (made with the `tar` package), and OCI
// image layouts written blob by blob, so each test can put exactly the flaw it needs into
// one (a wrong size, a foreign platform, an unknown media type). skopeo turns a layout into
// the archive formats, so those come from the reference implementation, not from us.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Parser, create } from 'tar';

const BUSYBOX = existsSync('/usr/bin/busybox') ? '/usr/bin/busybox' : '/bin/busybox';

/** Why the skopeo tests cannot run, or undefined when they can. */
export function skopeoMissing(): string | undefined {
  const r = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'needs skopeo (apt-get install skopeo)';
}

export function skopeoVersion(): string {
  return execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim();
}

/** `skopeo copy`, without a signature policy (there is nothing to trust or distrust here). */
export function skopeoCopy(from: string, to: string): void {
  execFileSync('skopeo', ['--insecure-policy', 'copy', '--quiet', from, to], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A tiny root filesystem: busybox, a shell link, a file. */
export function busyboxTree(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  symlinkSync('busybox', join(dir, 'bin/sh'));
  writeFileSync(join(dir, 'etc/hello.txt'), 'hello from the image\n');
  return dir;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An uncompressed layer tar of `paths` under `dir`. */
export async function layerTar(dir: string, paths: string[]): Promise<Buffer> {
  return collect(create({ cwd: dir, portable: true }, paths) as unknown as Readable);
}

/** The names in a tar, in order. */
export async function tarNames(data: Buffer): Promise<string[]> {
  const names: string[] = [];
  const parser = new Parser({
    onReadEntry: (e) => {
      names.push(`${e.type} ${e.path} ${e.size}`);
      e.resume();
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.end(data);
  });
  return names;
}

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** Write `data` as a blob of the layout `dir`; its descriptor. */
export function writeBlob(dir: string, mediaType: string, data: Buffer | string): Desc {
  const digest = sha256(data);
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs/sha256', digest.slice('sha256:'.length)), data);
  return { mediaType, digest, size: Buffer.byteLength(data) };
}

export const OCI = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

export const RUN_CONFIG = {
  User: '1000:1000',
  Env: ['PATH=/bin', 'GREETING=hello'],
  Entrypoint: ['/bin/sh', '-c'],
  Cmd: ['echo $GREETING'],
  WorkingDir: '/etc',
  Labels: { 'org.example.test': 'image-source' },
  StopSignal: 'SIGINT',
};

export interface ImageOptions {
  layers: Buffer[];
  /** gzip the layer blobs (the config keeps the uncompressed DiffIDs). */
  gzip?: boolean;
  architecture: string;
  variant?: string;
  /** Change the manifest before it is written (a wrong size, another media type). */
  editManifest?: (m: { config: Desc; layers: Desc[]; [k: string]: unknown }) => void;
}

/** Write a config and a manifest into the layout `dir`; the manifest's descriptor. */
export function writeImage(dir: string, o: ImageOptions): Desc {
  const config = {
    architecture: o.architecture,
    ...(o.variant ? { variant: o.variant } : {}),
    os: 'linux',
    config: RUN_CONFIG,
    rootfs: { type: 'layers', diff_ids: o.layers.map((l) => sha256(l)) },
    history: o.layers.map(() => ({ created_by: 'test/helpers/image.ts' })),
  };
  const manifest: { config: Desc; layers: Desc[]; [k: string]: unknown } = {
    schemaVersion: 2,
    mediaType: OCI.manifest,
    config: writeBlob(dir, OCI.config, JSON.stringify(config)),
    layers: o.layers.map((l) => (o.gzip ? writeBlob(dir, OCI.layerGzip, gzipSync(l)) : writeBlob(dir, OCI.layer, l))),
  };
  o.editManifest?.(manifest);
  return writeBlob(dir, (manifest.mediaType as string | undefined) ?? OCI.manifest, JSON.stringify(manifest));
}

/** An image index blob over `manifests` (each with its platform). */
export function writeIndexBlob(dir: string, manifests: Desc[]): Desc {
  return writeBlob(dir, OCI.index, JSON.stringify({ schemaVersion: 2, mediaType: OCI.index, manifests }));
}

/** oci-layout and index.json listing `entries`, each tagged when a tag is given. */
export function writeLayout(dir: string, entries: { desc: Desc; tag?: string }[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const manifests = entries.map(({ desc, tag }) => (tag ? { ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } } : desc));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: OCI.index, manifests }));
  return dir;
}
