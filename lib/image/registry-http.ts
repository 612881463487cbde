// The transport under the registry client (registry.ts): HTTP(S) exchanges with their
// timeouts and kept-alive connections, redirects, the https-to-http fallback for registries used
// without TLS verification, and the auth registries actually ask for: Docker's bearer token
// flow, or plain Basic, with credentials from the auth files.
//
// Only node:http/https. Every failure is one LaunchError naming the registry and the URL, the
// two things a user needs to tell a typo from a network problem from a login problem.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { LaunchError, fromNodeError, hostError, nodeErrno } from '../errors.js';
import { findCredentials, type Credentials } from './auth.js';
import { apiHost, type Reference } from './reference.js';
import type { RegistryOptions } from './registry.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

/** A response at its headers, and the URL that gave it (after redirects). */
export type Sent = { res: IncomingMessage; url: URL };

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

export class RegistryTransport {
  private readonly ref: Reference;
  private readonly opts: RegistryOptions;
  private readonly host: string;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private scheme: 'https' | 'http' = 'https';
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

  url(path: string): URL {
    return new URL(path, `${this.scheme}://${this.host}`);
  }

  where(url: URL): string {
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
  async send(url: URL, o: { method?: string; headers?: Record<string, string>; body?: string; registryAuth?: boolean } = {}): Promise<Sent> {
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

  credentials(): Promise<Credentials | undefined> {
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
    let sent: Sent;
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

  async body(res: IncomingMessage, url: URL, limit: number): Promise<Buffer | undefined> {
    try {
      return await readBody(res, limit);
    } catch (err) {
      throw fromNodeError('host', `connection to ${this.where(url)} broke`, err, { code: 'REGISTRY_UNREACHABLE' });
    }
  }

  /** An unexpected status, with the registry's own words when it sent the usual JSON errors. */
  async httpError(res: IncomingMessage, url: URL, what?: string, code = 'REGISTRY_HTTP', kind: 'host' | 'usage' = 'host'): Promise<LaunchError> {
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

  /** GET /v2/, which finds the scheme and runs the auth challenge. Without TLS verification a
   * registry that fails over HTTPS is tried over plain HTTP, and kept there if that works
   * (containers/image does the same for insecure registries). The answer is the caller's. */
  async probe(): Promise<Sent> {
    try {
      return await this.send(this.url('/v2/'));
    } catch (err) {
      const net = err instanceof LaunchError && (err.code === 'REGISTRY_UNREACHABLE' || err.code === 'REGISTRY_TLS');
      if (this.opts.tlsVerify || !net) throw err;
      this.scheme = 'http';
      try {
        return await this.send(this.url('/v2/'));
      } catch (second) {
        this.scheme = 'https';
        // The HTTPS error, unless the handshake failed: then the server does speak something
        // else on that port, most likely HTTP, and what went wrong there is the news.
        throw err.code === 'REGISTRY_TLS' || !(second instanceof LaunchError && ['REGISTRY_UNREACHABLE', 'REGISTRY_TLS'].includes(second.code)) ? second : err;
      }
    }
  }
}
