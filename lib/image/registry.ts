// A client for the OCI distribution API ("registry v2"), just enough to pull: manifests by tag
// or digest, and blobs into files, resumable and checked against their digests. Auth is what
// registries actually ask for: Docker's bearer token flow, or plain Basic (registry-http.ts,
// with the rest of the HTTP side).
//
// Every failure is one LaunchError naming the registry and the URL, the two things a user needs
// to tell a typo from a network problem from a login problem.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fromNodeError, hostError, specError, usageError, type LaunchError } from '../errors.js';
import type { Credentials } from './auth.js';
import { parseDigest, verifyBuffer, type Digest } from './digest.js';
import type { Reference } from './reference.js';
import { RegistryTransport } from './registry-http.js';

export const MANIFEST_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;
const KNOWN_TYPES: readonly string[] = Object.values(MANIFEST_TYPES);
const ACCEPT = KNOWN_TYPES.join(', ');
/** containerd's limit: a manifest is a small JSON document, never worth more memory. */
export const MANIFEST_LIMIT = 4 << 20;

export interface RegistryOptions {
  /** false: accept any certificate, and fall back to plain HTTP when the server speaks it. */
  tlsVerify: boolean;
  /** undefined: looked up in the auth files (auth.ts) when the registry asks; null: anonymous. */
  credentials?: Credentials | null;
  userAgent?: string;
  /** Where the auth files are found ($REGISTRY_AUTH_FILE, $HOME, ...). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds to connect (and finish the TLS handshake); 30 s. */
  connectTimeout?: number;
  /** Milliseconds without a byte from the server, once connected; 60 s. */
  idleTimeout?: number;
}

export interface Manifest {
  mediaType: string;
  digest: string;
  data: Buffer;
}

export class RegistryClient {
  readonly ref: Reference;
  private readonly transport: RegistryTransport;
  private probed: Promise<void> | undefined;

  constructor(ref: Reference, opts: RegistryOptions) {
    this.ref = ref;
    this.transport = new RegistryTransport(ref, opts);
  }

  close(): void {
    this.transport.close();
  }

  /** GET /v2/ once, which finds the scheme and runs the auth challenge (RegistryTransport.probe,
   * with its fallback to plain HTTP when TLS is not verified); a failure is tried again. */
  private ready(): Promise<void> {
    this.probed ??= this.probe().catch((err) => {
      this.probed = undefined;
      throw err;
    });
    return this.probed;
  }

  private async probe(): Promise<void> {
    const { res, url } = await this.transport.probe();
    if (res.statusCode === 200) return void res.resume();
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode === 404) throw await this.transport.httpError(res, url, `${this.transport.where(url)} does not serve the registry API (v2)`);
    throw await this.transport.httpError(res, url);
  }

  private async denied(res: IncomingMessage, url: URL): Promise<LaunchError> {
    const creds = await this.transport.credentials();
    const how = creds?.username || creds?.identityToken ? `with the credentials from \`${creds.file}\`` : 'without credentials';
    const hint = creds?.username || creds?.identityToken ? '' : ' (it may not exist, or need docker login / $REGISTRY_AUTH_FILE)';
    const note = creds?.note ? `; ${creds.note}` : '';
    return this.transport.httpError(res, url, `${this.transport.where(url)} denied access to ${this.ref.repository} ${how}${hint}${note}`, 'REGISTRY_AUTH');
  }

  /** A manifest or index by tag or digest, checked against the digest when one was asked for. */
  async getManifest(reference: string): Promise<Manifest> {
    let want: Digest | undefined;
    const name = `${this.ref.registry}/${this.ref.repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    if (reference.includes(':')) {
      const d = parseDigest(reference);
      if (typeof d === 'string') throw usageError(`invalid image reference ${JSON.stringify(name)}: ${d}`, { code: 'IMAGE_NAME' });
      want = d;
    }
    await this.ready();
    const { res, url } = await this.transport.send(this.transport.url(`/v2/${this.ref.repository}/manifests/${reference}`), { headers: { accept: ACCEPT } });
    if (res.statusCode === 404) throw await this.transport.httpError(res, url, `image ${name} not found in ${this.transport.where(url)}`, 'IMAGE_NOT_FOUND', 'usage');
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode !== 200) throw await this.transport.httpError(res, url);
    const tooBig = () => specError(`manifest of ${name} from ${this.transport.where(url)} is larger than ${MANIFEST_LIMIT >> 20} MiB; refused`, { code: 'IMAGE_MANIFEST' });
    if (Number(res.headers['content-length']) > MANIFEST_LIMIT) {
      res.destroy();
      throw tooBig();
    }
    const data = await this.transport.body(res, url, MANIFEST_LIMIT);
    if (!data) throw tooBig();

    // The Content-Type is the manifest's type; some registries say application/json, and then
    // the document's own mediaType field (or its shape, for old OCI manifests) has to.
    let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!KNOWN_TYPES.includes(mediaType)) {
      let doc: Record<string, unknown> = {};
      try {
        doc = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      } catch {
        // Left to the type check below.
      }
      if (mediaType.includes('manifest.v1') || doc.schemaVersion === 1) {
        throw usageError(`image ${name} has a Docker schema 1 manifest, which is not supported (push it again with a current docker, podman or skopeo)`, { code: 'IMAGE_SCHEMA1' });
      }
      if (typeof doc.mediaType === 'string') mediaType = doc.mediaType;
      else if (Array.isArray(doc.manifests)) mediaType = MANIFEST_TYPES.ociIndex;
      else if (doc.config && Array.isArray(doc.layers)) mediaType = MANIFEST_TYPES.ociManifest;
      if (!KNOWN_TYPES.includes(mediaType)) {
        throw specError(`manifest of ${name} from ${this.transport.where(url)} has an unsupported media type ${JSON.stringify(mediaType)}`, { code: 'IMAGE_MANIFEST' });
      }
    }
    if (want) {
      verifyBuffer(data, want, undefined, (problem) => specError(`manifest ${want.text} from ${this.transport.where(url)}: ${problem}`, { code: 'IMAGE_DIGEST' }));
      return { mediaType, digest: want.text, data };
    }
    return { mediaType, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, data };
  }

  /** Download a blob into `dest`, resuming what an earlier call left there. On a digest or size
   * mismatch `dest` is removed; when the connection breaks it is kept for the next call. */
  async fetchBlob(desc: { digest: string; size: number }, dest: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    const digest = parseDigest(desc.digest);
    if (typeof digest === 'string') throw specError(`blob ${JSON.stringify(desc.digest)}: ${digest}`, { code: 'IMAGE_DIGEST' });
    const size = desc.size;
    if (!Number.isSafeInteger(size) || size < 0) throw specError(`blob ${digest.text}: invalid size ${JSON.stringify(size)}`, { code: 'IMAGE_MANIFEST' });
    const subject = `blob ${digest.text} from ${this.ref.registry}/${this.ref.repository}`;
    const mismatch = async (problem: string) => {
      await rm(dest, { force: true });
      return specError(`${subject}: ${problem}`, { code: 'IMAGE_DIGEST' });
    };
    const fileError = (err: unknown) => fromNodeError('host', `cannot write ${subject} to`, err, { code: 'IMAGE_WRITE', file: dest });
    const newHash = () => createHash(digest.algorithm);
    const hexOf = (h: Hash) => `${digest.algorithm}:${h.digest('hex')}`;

    let have = 0;
    let exists = false;
    let hash = newHash();
    try {
      have = (await stat(dest)).size;
      exists = true;
      if (have > size) {
        await truncate(dest, 0);
        have = 0;
      }
      if (have > 0) for await (const chunk of createReadStream(dest, { end: have - 1 })) hash.update(chunk as Buffer);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(err);
    }
    if (exists && have === size) {
      const complete = hash.copy();
      if (hexOf(complete) === digest.text) return void onProgress?.(size, size);
      have = 0;
      hash = newHash();
    }

    await this.ready();
    const blobUrl = this.transport.url(`/v2/${this.ref.repository}/blobs/${digest.text}`);
    let sent = await this.transport.send(blobUrl, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
    const range = /^bytes (\d+)-/.exec(String(sent.res.headers['content-range'] ?? ''));
    if (have > 0 && (sent.res.statusCode === 416 || (sent.res.statusCode === 206 && Number(range?.[1]) !== have))) {
      // A range the server cannot or did not serve as asked: start from the beginning.
      sent.res.resume();
      have = 0;
      sent = await this.transport.send(blobUrl);
    }
    const { res, url } = sent;
    if (res.statusCode === 404) throw await this.transport.httpError(res, url, `${subject}: not found in ${this.transport.where(url)}`, 'IMAGE_BLOB_MISSING');
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode === 200) {
      // The whole blob, whatever we asked for: what the file holds is replaced.
      have = 0;
      hash = newHash();
    } else if (res.statusCode !== 206 || have === 0) {
      throw await this.transport.httpError(res, url);
    }

    let done = have;
    const tooMuch = new Error('more bytes than declared');
    const count = new Transform({
      transform(chunk: Buffer, _enc, next) {
        done += chunk.length;
        if (done > size) return next(tooMuch);
        hash.update(chunk);
        onProgress?.(done, size);
        next(null, chunk);
      },
    });
    onProgress?.(done, size);
    let broke: unknown;
    try {
      await pipeline(res, count, createWriteStream(dest, { flags: have > 0 ? 'a' : 'w' }));
    } catch (err) {
      if (err === tooMuch) throw await mismatch(`size mismatch (declared ${size} bytes, got more)`);
      if ((err as NodeJS.ErrnoException).path !== undefined) throw fileError(err);
      broke = err;
    }
    if (done < size || broke !== undefined) {
      // What reached the file, which may be less than what was read when the write stream was
      // torn down with the connection: the next call resumes from there.
      const kept = await stat(dest).then((s) => s.size, () => 0);
      const why = broke instanceof Error ? ` (${broke.message})` : '';
      throw hostError(`download of ${subject} stopped at ${kept} of ${size} bytes${why}; run the pull again to resume`, { code: 'IMAGE_TRUNCATED', cause: broke });
    }
    const got = hexOf(hash);
    if (got !== digest.text) throw await mismatch(`digest mismatch (got ${got})`);
  }
}
