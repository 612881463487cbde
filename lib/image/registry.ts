// A client for the OCI distribution API ("registry v2"), just enough to pull: manifests by tag
// or digest, and blobs into files, resumable and checked against their digests. Auth is what
// registries actually ask for: Docker's bearer token flow, or plain Basic.
//
// Only node:http/https. Every failure is one LaunchError naming the registry and the URL, the
// two things a user needs to tell a typo from a network problem from a login problem.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat, truncate } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LaunchError, fromNodeError, hostError, nodeErrno, specError, usageError } from '../errors.js';
import { findCredentials, type Credentials } from './auth.js';
import { parseDigest, verifyBuffer, type Digest } from './digest.js';
import { apiHost, type Reference } from './reference.js';

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
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

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

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="...",service="..."`: scheme tokens and their parameters, quoted or not (a
 * quoted scope may itself contain commas). */
function parseChallenges(values: string[]): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*,?\s*(?:([\w!#$%&'*+.^`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)|([\w!#$%&'*+.^`|~-]+))/y;
  for (const value of values) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while (re.lastIndex < value.length && (m = re.exec(value))) {
      if (m[3]) out.push({ scheme: m[3].toLowerCase(), params: {} });
      else if (out.length) out[out.length - 1]!.params[m[1]!.toLowerCase()] = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!;
    }
  }
  return out;
}

const timeoutError = (what: string, ms: number) => Object.assign(new Error(`${what} timed out after ${ms / 1000} s`), { code: 'ETIMEDOUT' });
const basic = (c: Credentials) => `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;

async function readBody(res: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      res.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class RegistryClient {
  readonly ref: Reference;
  private readonly opts: RegistryOptions;
  private readonly host: string;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private scheme: 'https' | 'http' = 'https';
  private probed: Promise<void> | undefined;
  private creds: Promise<Credentials | undefined> | undefined;
  private authHeader: string | undefined;
  private authing: Promise<boolean> | undefined;

  constructor(ref: Reference, opts: RegistryOptions) {
    this.ref = ref;
    this.opts = opts;
    this.host = apiHost(ref.registry);
    this.agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true, rejectUnauthorized: opts.tlsVerify }) };
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private url(path: string): URL {
    return new URL(path, `${this.scheme}://${this.host}`);
  }

  private where(url: URL): string {
    return `registry ${this.ref.registry} (${url.href})`;
  }

  /** A connection-level failure as one line. TLS failures get their own words: talking TLS to
   * a plain-HTTP registry is the commonest mistake with private registries. */
  private netError(err: unknown, url: URL, handshake: boolean): LaunchError {
    const e = err as NodeJS.ErrnoException;
    const code = e?.code ?? '';
    const tls = url.protocol === 'https:';
    if (tls && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) {
      return hostError(`cannot verify the TLS certificate of ${this.where(url)}: ${e.message} (use --tls-verify=false to skip the check)`, { code: 'REGISTRY_TLS', cause: err });
    }
    if (tls && (code === 'EPROTO' || code.startsWith('ERR_SSL') || /SSL routines/.test(e?.message ?? '') || (code === 'ECONNRESET' && handshake))) {
      const reason = /SSL routines:[^:]*:([^:]+)/.exec(e.message)?.[1] ?? (code === 'ECONNRESET' ? 'connection reset' : e.message);
      const hint = this.opts.tlsVerify ? ' (a plain-HTTP registry? use --tls-verify=false)' : '';
      return hostError(`TLS handshake with ${this.where(url)} failed: ${reason}${hint}`, { code: 'REGISTRY_TLS', cause: err });
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      return hostError(`cannot reach ${this.where(url)}: host name not found (${code})`, { code: 'REGISTRY_UNREACHABLE', cause: err });
    }
    // Without an errno, the line would not say what happened: Node's words then.
    const words = nodeErrno(err) === undefined ? `: ${e?.message ?? String(err)}` : '';
    return fromNodeError('host', `cannot reach ${this.where(url)}${words}`, err, { code: 'REGISTRY_UNREACHABLE' });
  }

  /** One HTTP exchange: resolves at the response headers. A kept-alive socket the server closed
   * meanwhile fails with ECONNRESET on reuse: that request is sent once more on a fresh one. */
  private request(url: URL, method: string, headers: Record<string, string>, body?: string, retry = true): Promise<IncomingMessage> {
    const tls = url.protocol === 'https:';
    const connectMs = this.opts.connectTimeout ?? 30_000;
    const idleMs = this.opts.idleTimeout ?? 60_000;
    return new Promise((resolve, reject) => {
      const req = (tls ? https : http).request(url, {
        method,
        headers: { 'user-agent': this.opts.userAgent ?? 'launch', ...headers },
        agent: tls ? this.agents.https : this.agents.http,
      });
      let connected = false;
      let response: IncomingMessage | undefined;
      const timer = setTimeout(() => req.destroy(timeoutError('connecting', connectMs)), connectMs);
      const onConnect = () => {
        connected = true;
        clearTimeout(timer);
      };
      req.on('socket', (s) => (s.connecting ? s.once(tls ? 'secureConnect' : 'connect', onConnect) : onConnect()));
      req.setTimeout(idleMs, () => {
        const e = timeoutError('waiting for data', idleMs);
        response?.destroy(e);
        req.destroy(e);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (response) {
          if (!response.destroyed) response.destroy(err);
        } else if (retry && req.reusedSocket && err.code === 'ECONNRESET') {
          this.request(url, method, headers, body, false).then(resolve, reject);
        } else {
          reject(this.netError(err, url, tls && !connected));
        }
      });
      req.on('response', (res) => {
        clearTimeout(timer);
        response = res;
        resolve(res);
      });
      req.end(body);
    });
  }

  /** A request with redirects followed and the registry's auth applied: a 401 from the registry
   * runs its challenge once and sends the request again. Authorization goes to the registry
   * host only: blobs are redirected to storage (S3 and the like) that must not see it. */
  private async send(url: URL, o: { method?: string; headers?: Record<string, string>; body?: string; registryAuth?: boolean } = {}): Promise<{ res: IncomingMessage; url: URL }> {
    const origin = url.host;
    let current = url;
    let method = o.method ?? 'GET';
    let challenged = false;
    for (let hops = 0; ; ) {
      const headers = { ...o.headers };
      const sentAuth = o.registryAuth !== false && current.host === this.url('/').host ? this.authHeader : undefined;
      if (sentAuth) headers.authorization = sentAuth;
      else if (current.host !== origin) delete headers.authorization;
      const body = method === 'GET' ? undefined : o.body;
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const res = await this.request(current, method, headers, body);
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode ?? 0) && location) {
        res.resume();
        if (++hops > MAX_REDIRECTS) throw hostError(`${this.where(url)}: more than ${MAX_REDIRECTS} redirects`, { code: 'REGISTRY_HTTP' });
        current = new URL(location, current);
        if (res.statusCode === 303) method = 'GET';
        continue;
      }
      if (res.statusCode === 401 && o.registryAuth !== false && !challenged && current.host === this.url('/').host) {
        const challenges = parseChallenges(res.headersDistinct['www-authenticate'] ?? []);
        challenged = true;
        let again: boolean;
        try {
          again = await this.authenticate(challenges, sentAuth, current);
        } catch (err) {
          res.resume();
          throw err;
        }
        // Not answered: the 401 itself is the answer, its body the registry's reason.
        if (!again) return { res, url: current };
        res.resume();
        continue;
      }
      return { res, url: current };
    }
  }

  private credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials !== undefined) return Promise.resolve(this.opts.credentials ?? undefined);
    this.creds ??= findCredentials(this.ref.registry, this.opts.env ?? process.env);
    return this.creds;
  }

  /** Answer a challenge; true when the request should be sent again. Requests failing at once
   * share one token request, and one that already has a newer token than it sent just retries. */
  private authenticate(challenges: Challenge[], sent: string | undefined, url: URL): Promise<boolean> {
    if (this.authHeader !== sent) return Promise.resolve(true);
    this.authing ??= this.negotiate(challenges, url).finally(() => (this.authing = undefined));
    return this.authing;
  }

  private async negotiate(challenges: Challenge[], url: URL): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    const creds = await this.credentials();
    if (bearer) {
      this.authHeader = `Bearer ${await this.token(bearer, creds)}`;
      return true;
    }
    if (!challenges.some((c) => c.scheme === 'basic')) return false;
    if (!creds?.username) {
      const note = creds?.note ? `; ${creds.note}` : '';
      throw hostError(`registry ${this.ref.registry} requires credentials (docker login / $REGISTRY_AUTH_FILE) for ${url.href}${note}`, { code: 'REGISTRY_AUTH' });
    }
    const header = basic(creds);
    if (this.authHeader === header) return false;
    this.authHeader = header;
    return true;
  }

  /** The token server's answer to distribution's token spec: a GET with Basic credentials, or,
   * with an identity token, the OAuth2 refresh-token grant. */
  private async token(c: Challenge, creds: Credentials | undefined): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(c.params.realm!);
      if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new Error('not http');
    } catch {
      throw hostError(`${this.where(this.url('/v2/'))}: invalid token realm ${JSON.stringify(c.params.realm)}`, { code: 'REGISTRY_AUTH' });
    }
    const scopes = [`repository:${this.ref.repository}:pull`];
    if (c.params.scope && !scopes.includes(c.params.scope)) scopes.push(c.params.scope);
    const service = c.params.service;
    let sent: { res: IncomingMessage; url: URL };
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'launch', scope: scopes.join(' ') });
      if (service) form.set('service', service);
      sent = await this.send(realm, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, registryAuth: false });
    } else {
      if (service) realm.searchParams.set('service', service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      sent = await this.send(realm, { headers: creds?.username ? { authorization: basic(creds) } : {}, registryAuth: false });
    }
    const { res, url } = sent;
    if (res.statusCode === 401 || res.statusCode === 403) {
      const whose = creds?.username || creds?.identityToken ? `the credentials from \`${creds.file}\`` : 'anonymous access';
      throw await this.httpError(res, url, `token server of registry ${this.ref.registry} (${url.origin}${url.pathname}) refused ${whose}`, 'REGISTRY_AUTH');
    }
    if (res.statusCode !== 200) throw await this.httpError(res, url, `token server of registry ${this.ref.registry} (${url.origin}${url.pathname}) answered ${res.statusCode}`);
    const data = await this.body(res, url, 1 << 20);
    let doc: { token?: unknown; access_token?: unknown } | undefined;
    try {
      doc = JSON.parse(data?.toString('utf8') ?? '');
    } catch {
      doc = undefined;
    }
    const token = doc?.token || doc?.access_token;
    if (typeof token !== 'string') throw hostError(`token server of registry ${this.ref.registry} (${url.origin}${url.pathname}) answered without a token`, { code: 'REGISTRY_AUTH' });
    return token;
  }

  private async body(res: IncomingMessage, url: URL, limit: number): Promise<Buffer | undefined> {
    try {
      return await readBody(res, limit);
    } catch (err) {
      throw fromNodeError('host', `connection to ${this.where(url)} broke`, err, { code: 'REGISTRY_UNREACHABLE' });
    }
  }

  /** An unexpected status, with the registry's own words when it sent the usual JSON errors. */
  private async httpError(res: IncomingMessage, url: URL, what?: string, code = 'REGISTRY_HTTP', kind: 'host' | 'usage' = 'host'): Promise<LaunchError> {
    let detail = '';
    try {
      const data = await readBody(res, 64 << 10);
      const doc = JSON.parse(data?.toString('utf8') ?? '') as { errors?: { message?: unknown }[]; details?: unknown; error_description?: unknown };
      // Registries answer with distribution's `errors`; token servers with OAuth2's
      // `error_description` or Docker Hub's `details`.
      const words = doc.errors?.[0]?.message ?? doc.error_description ?? doc.details;
      if (typeof words === 'string' && words) detail = `: ${words}`;
    } catch {
      // No JSON: the status line says it all.
    }
    const status = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
    return new LaunchError(kind, `${what ?? `${this.where(url)} answered ${status}`}${detail}`, { code });
  }

  /** GET /v2/ once, which finds the scheme and runs the auth challenge. Without TLS
   * verification a registry that fails over HTTPS is tried over plain HTTP, and kept there if
   * that works (containers/image does the same for insecure registries). */
  private ready(): Promise<void> {
    this.probed ??= this.probe().catch((err) => {
      this.probed = undefined;
      throw err;
    });
    return this.probed;
  }

  private async probe(): Promise<void> {
    let sent: { res: IncomingMessage; url: URL };
    try {
      sent = await this.send(this.url('/v2/'));
    } catch (err) {
      const net = err instanceof LaunchError && (err.code === 'REGISTRY_UNREACHABLE' || err.code === 'REGISTRY_TLS');
      if (this.opts.tlsVerify || !net) throw err;
      this.scheme = 'http';
      try {
        sent = await this.send(this.url('/v2/'));
      } catch (second) {
        this.scheme = 'https';
        // The HTTPS error, unless the handshake failed: then the server does speak something
        // else on that port, most likely HTTP, and what went wrong there is the news.
        throw err.code === 'REGISTRY_TLS' || !(second instanceof LaunchError && ['REGISTRY_UNREACHABLE', 'REGISTRY_TLS'].includes(second.code)) ? second : err;
      }
    }
    const { res, url } = sent;
    if (res.statusCode === 200) return void res.resume();
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode === 404) throw await this.httpError(res, url, `${this.where(url)} does not serve the registry API (v2)`);
    throw await this.httpError(res, url);
  }

  private async denied(res: IncomingMessage, url: URL): Promise<LaunchError> {
    const creds = await this.credentials();
    const how = creds?.username || creds?.identityToken ? `with the credentials from \`${creds.file}\`` : 'without credentials';
    const hint = creds?.username || creds?.identityToken ? '' : ' (it may not exist, or need docker login / $REGISTRY_AUTH_FILE)';
    const note = creds?.note ? `; ${creds.note}` : '';
    return this.httpError(res, url, `${this.where(url)} denied access to ${this.ref.repository} ${how}${hint}${note}`, 'REGISTRY_AUTH');
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
    const { res, url } = await this.send(this.url(`/v2/${this.ref.repository}/manifests/${reference}`), { headers: { accept: ACCEPT } });
    if (res.statusCode === 404) throw await this.httpError(res, url, `image ${name} not found in ${this.where(url)}`, 'IMAGE_NOT_FOUND', 'usage');
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode !== 200) throw await this.httpError(res, url);
    const tooBig = () => specError(`manifest of ${name} from ${this.where(url)} is larger than ${MANIFEST_LIMIT >> 20} MiB; refused`, { code: 'IMAGE_MANIFEST' });
    if (Number(res.headers['content-length']) > MANIFEST_LIMIT) {
      res.destroy();
      throw tooBig();
    }
    const data = await this.body(res, url, MANIFEST_LIMIT);
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
        throw specError(`manifest of ${name} from ${this.where(url)} has an unsupported media type ${JSON.stringify(mediaType)}`, { code: 'IMAGE_MANIFEST' });
      }
    }
    if (want) {
      verifyBuffer(data, want, undefined, (problem) => specError(`manifest ${want.text} from ${this.where(url)}: ${problem}`, { code: 'IMAGE_DIGEST' }));
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
    const blobUrl = this.url(`/v2/${this.ref.repository}/blobs/${digest.text}`);
    let sent = await this.send(blobUrl, { headers: have > 0 ? { range: `bytes=${have}-` } : {} });
    const range = /^bytes (\d+)-/.exec(String(sent.res.headers['content-range'] ?? ''));
    if (have > 0 && (sent.res.statusCode === 416 || (sent.res.statusCode === 206 && Number(range?.[1]) !== have))) {
      // A range the server cannot or did not serve as asked: start from the beginning.
      sent.res.resume();
      have = 0;
      sent = await this.send(blobUrl);
    }
    const { res, url } = sent;
    if (res.statusCode === 404) throw await this.httpError(res, url, `${subject}: not found in ${this.where(url)}`, 'IMAGE_BLOB_MISSING');
    if (res.statusCode === 401 || res.statusCode === 403) throw await this.denied(res, url);
    if (res.statusCode === 200) {
      // The whole blob, whatever we asked for: what the file holds is replaced.
      have = 0;
      hash = newHash();
    } else if (res.statusCode !== 206 || have === 0) {
      throw await this.httpError(res, url);
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
