// RegistryClient (lib/image/registry.ts) against fake registries written here with node:http,
// each on an ephemeral port of 127.0.0.1. The client runs with tlsVerify false, so its first
// HTTPS attempt fails on the plain-HTTP server and it falls back to http://, as it would for an
// insecure registry; every test below goes through that fallback.
//
// Each failure test checks the behaviour it names, and was seen to fail with it broken: the
// Authorization kept on a cross-host redirect, the Range header not sent, a 200 appended to
// the partial file, the partial file removed on a broken connection, and so on.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rejection } from '../helpers/thrown.js';
import { MANIFEST_TYPES, RegistryClient, type RegistryOptions } from '../../lib/image/registry.js';

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void;

interface Fake {
  host: string;
  seen: Seen[];
  handle: Handler;
  close(): Promise<void>;
}

async function fake(handle: Handler): Promise<Fake> {
  const f: Fake = { host: '', seen: [], handle, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      f.seen.push(seen);
      f.handle(seen, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  f.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  f.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return f;
}

const json = (res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(doc));
};

let base: string;
const open: { close(): unknown }[] = [];
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'launch-registry-test-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function registry(handle: Handler): Promise<Fake> {
  const f = await fake(handle);
  open.push(f);
  return f;
}

function client(f: Fake, opts: Partial<RegistryOptions> = {}, repository = 'test/app'): RegistryClient {
  const c = new RegistryClient({ registry: f.host, repository, tag: 'v1', digest: undefined }, { tlsVerify: false, credentials: null, ...opts });
  open.push(c);
  return c;
}

const failure = rejection;

const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPES.ociManifest, config: {}, layers: [] }));
const BLOB = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251));
const BLOB_DESC = { digest: sha256(BLOB), size: BLOB.length };
const dest = (name: string) => join(base, `${name}-${Math.random().toString(36).slice(2)}`);

/** A registry of one image that serves MANIFEST and BLOB to whoever `allowed` lets in. */
function serveImage(allowed: (s: Seen) => boolean, challenge: string, extra: Handler = () => {}): Handler {
  return (s, res) => {
    if (s.url.startsWith('/token')) return extra(s, res);
    if (!allowed(s)) return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': challenge });
    if (s.url === '/v2/') return json(res, 200, {});
    if (s.url === '/v2/test/app/manifests/v1') {
      res.writeHead(200, { 'content-type': MANIFEST_TYPES.ociManifest, 'docker-content-digest': sha256(MANIFEST) });
      return res.end(MANIFEST);
    }
    if (s.url === `/v2/test/app/blobs/${BLOB_DESC.digest}`) {
      res.writeHead(200, { 'content-length': String(BLOB.length) });
      return res.end(BLOB);
    }
    json(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'no such thing' }] });
  };
}

describe('auth', () => {
  it('bearer: the token request carries service, scope and Basic credentials; the token is reused', async () => {
    const f = await registry(() => {});
    f.handle = serveImage((s) => s.headers.authorization === 'Bearer T1', `Bearer realm="http://${f.host}/token",service="fake-registry"`, (s, res) => json(res, 200, { token: 'T1' }));
    const c = client(f, { credentials: { username: 'u', password: 'p:w', file: '/x' } });
    const m = await c.getManifest('v1');
    expect(m).toEqual({ mediaType: MANIFEST_TYPES.ociManifest, digest: sha256(MANIFEST), data: MANIFEST });
    const out = dest('bearer');
    await c.fetchBlob(BLOB_DESC, out);
    expect(sha256(readFileSync(out))).toBe(BLOB_DESC.digest);

    const tokens = f.seen.filter((s) => s.url.startsWith('/token'));
    expect(tokens).toHaveLength(1);
    const q = new URL(tokens[0]!.url, 'http://x').searchParams;
    expect(q.get('service')).toBe('fake-registry');
    expect(q.getAll('scope')).toEqual(['repository:test/app:pull']);
    expect(tokens[0]!.headers.authorization).toBe(`Basic ${b64('u:p:w')}`);
    // After the challenge, every registry request carried the token.
    expect(f.seen.filter((s) => !s.url.startsWith('/token')).map((s) => s.headers.authorization)).toEqual([undefined, 'Bearer T1', 'Bearer T1', 'Bearer T1']);
  });

  it('bearer, anonymous: no Authorization to the token server; the access_token form; a new token when one expires', async () => {
    let current = 'A1';
    let issued = 0;
    const f = await registry(() => {});
    f.handle = serveImage(
      (s) => s.headers.authorization === `Bearer ${current}`,
      `Bearer realm="http://${f.host}/token",service="svc",scope="repository:test/app:pull,push"`,
      (s, res) => json(res, 200, { access_token: `A${++issued}` }),
    );
    const c = client(f);
    await c.getManifest('v1');
    current = 'A2'; // the registry no longer takes A1
    await c.fetchBlob(BLOB_DESC, dest('expired'));
    const tokens = f.seen.filter((s) => s.url.startsWith('/token'));
    expect(tokens.map((t) => t.headers.authorization)).toEqual([undefined, undefined]);
    expect(new URL(tokens[0]!.url, 'http://x').searchParams.getAll('scope')).toEqual(['repository:test/app:pull', 'repository:test/app:pull,push']);
  });

  it('requests refused at once share one new token; one refused later uses it', async () => {
    let current = 'A1';
    let issued = 0;
    const f = await registry(() => {});
    f.handle = serveImage((s) => s.headers.authorization === `Bearer ${current}`, `Bearer realm="http://${f.host}/token",service="svc"`, (s, res) =>
      setTimeout(() => json(res, 200, { token: `A${++issued}` }), 50),
    );
    const c = client(f);
    await c.getManifest('v1');
    current = 'A2';
    // The manifest's refusal comes late, after the blobs got the new token: it just retries.
    const serve = f.handle;
    f.handle = (s, res) => (s.url.includes('/manifests/') && s.headers.authorization === 'Bearer A1' ? setTimeout(() => serve(s, res), 300) : serve(s, res));
    await Promise.all([c.fetchBlob(BLOB_DESC, dest('together')), c.fetchBlob(BLOB_DESC, dest('together')), c.getManifest('v1')]);
    expect(issued).toBe(2);
  });

  it('a 401 without a challenge, and a 403: REGISTRY_AUTH with the registry\'s words', async () => {
    const f = await registry((s, res) =>
      s.url === '/v2/' ? json(res, 200, {}) : json(res, s.url.endsWith('/v1') ? 401 : 403, { errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }] }),
    );
    for (const tag of ['v1', 'v2']) {
      const { err, line } = await failure(client(f).getManifest(tag));
      expect(err.code).toBe('REGISTRY_AUTH');
      expect(line).toBe(
        `launch: registry ${f.host} (http://${f.host}/v2/test/app/manifests/${tag}) denied access to test/app without credentials (it may not exist, or need docker login / $REGISTRY_AUTH_FILE): requested access to the resource is denied`,
      );
    }
  });

  it('bearer with an identity token: the OAuth2 refresh-token grant', async () => {
    const f = await registry(() => {});
    f.handle = serveImage((s) => s.headers.authorization === 'Bearer O1', `Bearer realm="http://${f.host}/token",service="svc"`, (s, res) =>
      s.method === 'POST' ? json(res, 200, { access_token: 'O1' }) : json(res, 405, {}),
    );
    await client(f, { credentials: { identityToken: 'refresh-me', file: '/x' } }).getManifest('v1');
    const post = f.seen.find((s) => s.url.startsWith('/token'))!;
    expect(post.method).toBe('POST');
    expect(post.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(post.body))).toEqual({
      grant_type: 'refresh_token', refresh_token: 'refresh-me', client_id: 'launch', scope: 'repository:test/app:pull', service: 'svc',
    });
  });

  it('a token server that refuses the credentials: REGISTRY_AUTH naming the file', async () => {
    const f = await registry(() => {});
    f.handle = serveImage(() => false, `Bearer realm="http://${f.host}/token",service="svc"`, (s, res) => json(res, 401, { errors: [{ message: 'bad password' }] }));
    const { err, line } = await failure(client(f, { credentials: { username: 'u', password: 'x', file: '/home/u/auth.json' } }).getManifest('v1'));
    expect(err.code).toBe('REGISTRY_AUTH');
    expect(line).toBe(`launch: token server of registry ${f.host} (http://${f.host}/token) refused the credentials from \`/home/u/auth.json\`: bad password`);
  });

  it('Basic: credentials sent after the challenge; none, or wrong ones, are one clear line', async () => {
    const good = `Basic ${b64('u:p')}`;
    const f = await registry(serveImage((s) => s.headers.authorization === good, 'Basic realm="fake"'));
    expect((await client(f, { credentials: { username: 'u', password: 'p', file: '/x' } }).getManifest('v1')).data).toEqual(MANIFEST);
    expect(f.seen.map((s) => s.headers.authorization)).toEqual([undefined, good, good]);

    const none = await failure(client(f).getManifest('v1'));
    expect(none.err.code).toBe('REGISTRY_AUTH');
    expect(none.line).toBe(`launch: registry ${f.host} requires credentials (docker login / $REGISTRY_AUTH_FILE) for http://${f.host}/v2/`);

    const wrong = await failure(client(f, { credentials: { username: 'u', password: 'bad', file: '/a.json' } }).getManifest('v1'));
    expect(wrong.err.code).toBe('REGISTRY_AUTH');
    expect(wrong.line).toBe(`launch: registry ${f.host} (http://${f.host}/v2/) denied access to test/app with the credentials from \`/a.json\`: authentication required`);
  });

  it('credentials not given are looked up in the auth files only when the registry asks', async () => {
    const home = mkdtempSync(join(base, 'home-'));
    const f = await registry(serveImage((s) => s.headers.authorization === `Basic ${b64('file:user')}`, 'Basic realm="fake"'));
    writeFileSync(join(home, 'auth.json'), JSON.stringify({ auths: { [f.host]: { auth: b64('file:user') } } }));
    await client(f, { credentials: undefined, env: { HOME: home, REGISTRY_AUTH_FILE: join(home, 'auth.json') } }).getManifest('v1');
    expect(f.seen.at(-1)!.headers.authorization).toBe(`Basic ${b64('file:user')}`);
  });
});

describe('manifests', () => {
  it('by tag and by digest; a digest the bytes do not match is refused', async () => {
    const other = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
    const f = await registry((s, res) => {
      if (s.url === '/v2/') return json(res, 200, {});
      expect(s.headers.accept).toBe(Object.values(MANIFEST_TYPES).join(', '));
      if (s.url.endsWith(`/manifests/${sha256(MANIFEST)}`) || s.url.endsWith('/manifests/v1')) {
        res.writeHead(200, { 'content-type': `${MANIFEST_TYPES.ociManifest}; charset=utf-8` });
        return res.end(MANIFEST);
      }
      if (s.url.endsWith(`/manifests/${sha256(other)}`)) {
        res.writeHead(200, { 'content-type': MANIFEST_TYPES.ociIndex });
        return res.end(MANIFEST); // not the bytes asked for
      }
      if (s.url.endsWith('/manifests/untyped')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(other);
      }
      json(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    });
    const c = client(f);
    expect(await c.getManifest('v1')).toEqual({ mediaType: MANIFEST_TYPES.ociManifest, digest: sha256(MANIFEST), data: MANIFEST });
    expect((await c.getManifest(sha256(MANIFEST))).digest).toBe(sha256(MANIFEST));
    expect((await c.getManifest('untyped')).mediaType).toBe(MANIFEST_TYPES.ociIndex);

    const bad = await failure(c.getManifest(sha256(other)));
    expect(bad.err.code).toBe('IMAGE_DIGEST');
    expect(bad.line).toBe(`launch: manifest ${sha256(other)} from registry ${f.host} (http://${f.host}/v2/test/app/manifests/${sha256(other)}): digest mismatch (got ${sha256(MANIFEST)})`);

    const missing = await failure(c.getManifest('nope'));
    expect(missing.err.code).toBe('IMAGE_NOT_FOUND');
    expect(missing.err.kind).toBe('usage');
    expect(missing.line).toBe(`launch: image ${f.host}/test/app:nope not found in registry ${f.host} (http://${f.host}/v2/test/app/manifests/nope): manifest unknown`);

    expect((await failure(c.getManifest('sha256:1234'))).err.code).toBe('IMAGE_NAME');
  });

  it('schema 1, an oversized manifest and a server error are one line each', async () => {
    const f = await registry((s, res) => {
      if (s.url === '/v2/') return json(res, 200, {});
      if (s.url.endsWith('/schema1')) return json(res, 200, { schemaVersion: 1, fsLayers: [] }, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
      if (s.url.endsWith('/huge')) {
        res.writeHead(200, { 'content-type': MANIFEST_TYPES.ociManifest }); // chunked: no length to refuse up front
        return res.end(Buffer.alloc((4 << 20) + 1, 0x20));
      }
      json(res, 500, { errors: [{ code: 'UNKNOWN', message: 'storage backend down' }] });
    });
    const c = client(f);
    const s1 = await failure(c.getManifest('schema1'));
    expect(s1.line).toBe(`launch: image ${f.host}/test/app:schema1 has a Docker schema 1 manifest, which is not supported (push it again with a current docker, podman or skopeo)`);
    const huge = await failure(c.getManifest('huge'));
    expect(huge.err.code).toBe('IMAGE_MANIFEST');
    expect(huge.line).toMatch(/ is larger than 4 MiB; refused$/);
    const down = await failure(c.getManifest('v1'));
    expect(down.err.code).toBe('REGISTRY_HTTP');
    expect(down.line).toBe(`launch: registry ${f.host} (http://${f.host}/v2/test/app/manifests/v1) answered 500 Internal Server Error: storage backend down`);
  });
});

describe('blobs', () => {
  /** Serves BLOB; `body` decides what a blob request gets. */
  const blobRegistry = (body: (s: Seen, res: ServerResponse, n: number) => void) => {
    let n = 0;
    return registry((s, res) => (s.url === '/v2/' ? json(res, 200, {}) : body(s, res, n++)));
  };
  const half = 40_000;

  it('a connection broken mid-body keeps the partial file; the next call resumes it with Range', async () => {
    const f = await blobRegistry((s, res, n) => {
      if (n === 0) {
        res.writeHead(200, { 'content-length': String(BLOB.length) });
        res.write(BLOB.subarray(0, half));
        setTimeout(() => res.socket?.destroy(), 100);
        return;
      }
      const from = Number(/^bytes=(\d+)-$/.exec(String(s.headers.range))?.[1]);
      res.writeHead(206, { 'content-range': `bytes ${from}-${BLOB.length - 1}/${BLOB.length}`, 'content-length': String(BLOB.length - from) });
      res.end(BLOB.subarray(from));
    });
    const out = dest('resume');
    const c = client(f);
    const cut = await failure(c.fetchBlob(BLOB_DESC, out));
    expect(cut.err.code).toBe('IMAGE_TRUNCATED');
    expect(cut.line).toMatch(new RegExp(`^launch: download of blob ${BLOB_DESC.digest} from ${f.host}/test/app stopped at ${half} of ${BLOB.length} bytes \\(.*\\); run the pull again to resume$`));
    expect(readFileSync(out)).toEqual(BLOB.subarray(0, half));

    const progress: number[] = [];
    await c.fetchBlob(BLOB_DESC, out, (done, total) => {
      expect(total).toBe(BLOB.length);
      progress.push(done);
    });
    expect(f.seen.at(-1)!.headers.range).toBe(`bytes=${half}-`);
    expect(progress[0]).toBe(half);
    expect(progress.at(-1)).toBe(BLOB.length);
    expect(readFileSync(out)).toEqual(BLOB);
  });

  it('a server that ignores Range (200) starts the file over', async () => {
    const f = await blobRegistry((s, res) => {
      res.writeHead(200, { 'content-length': String(BLOB.length) });
      res.end(BLOB);
    });
    const out = dest('norange');
    writeFileSync(out, Buffer.from('garbage that is not the blob'));
    await client(f).fetchBlob(BLOB_DESC, out);
    expect(f.seen.at(-1)!.headers.range).toBe('bytes=28-');
    expect(readFileSync(out)).toEqual(BLOB);
  });

  it('wrong content: IMAGE_DIGEST and the file removed; more bytes than declared too', async () => {
    const wrong = Buffer.from(BLOB);
    wrong[500] ^= 1;
    const f = await blobRegistry((s, res, n) => {
      const data = n === 0 ? wrong : Buffer.concat([BLOB, Buffer.from('extra')]);
      res.writeHead(200, { 'content-length': String(data.length) });
      res.end(data);
    });
    const c = client(f);
    const out = dest('wrong');
    const bad = await failure(c.fetchBlob(BLOB_DESC, out));
    expect(bad.err.code).toBe('IMAGE_DIGEST');
    expect(bad.line).toBe(`launch: blob ${BLOB_DESC.digest} from ${f.host}/test/app: digest mismatch (got ${sha256(wrong)})`);
    expect(existsSync(out)).toBe(false);
    const more = await failure(c.fetchBlob(BLOB_DESC, out));
    expect(more.err.code).toBe('IMAGE_DIGEST');
    expect(more.line).toBe(`launch: blob ${BLOB_DESC.digest} from ${f.host}/test/app: size mismatch (declared ${BLOB.length} bytes, got more)`);
    expect(existsSync(out)).toBe(false);
  });

  it('a short body (the server closes early) is IMAGE_TRUNCATED, the part kept; a stalled one times out the same way', async () => {
    const f = await blobRegistry((s, res, n) => {
      if (n === 0) {
        // No length: the body ends when the connection does.
        res.writeHead(200, { connection: 'close' });
        res.end(BLOB.subarray(0, half));
        return;
      }
      res.writeHead(206, { 'content-length': String(BLOB.length - half), 'content-range': `bytes ${half}-${BLOB.length - 1}/${BLOB.length}` });
      res.write(BLOB.subarray(half, half + 1000)); // and then nothing
    });
    const c = client(f, { idleTimeout: 300 });
    const out = dest('short');
    const short = await failure(c.fetchBlob(BLOB_DESC, out));
    expect(short.err.code).toBe('IMAGE_TRUNCATED');
    expect(short.line).toBe(`launch: download of blob ${BLOB_DESC.digest} from ${f.host}/test/app stopped at ${half} of ${BLOB.length} bytes; run the pull again to resume`);
    expect(statSync(out).size).toBe(half);
    const stalled = await failure(c.fetchBlob(BLOB_DESC, out));
    expect(stalled.err.code).toBe('IMAGE_TRUNCATED');
    expect(stalled.line).toMatch(/stopped at 41000 of 100000 bytes \(waiting for data timed out after 0.3 s\); run the pull again to resume$/);
    expect(statSync(out).size).toBe(half + 1000);
  });

  it('an empty blob is still a file; a blob the registry lacks is one line', async () => {
    const empty = { digest: sha256(''), size: 0 };
    const f = await blobRegistry((s, res) => (s.url.endsWith(empty.digest) ? res.end() : json(res, 404, { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] })));
    const out = dest('empty');
    await client(f).fetchBlob(empty, out);
    expect(statSync(out).size).toBe(0);
    const { err, line } = await failure(client(f).fetchBlob(BLOB_DESC, dest('missing')));
    expect(err.code).toBe('IMAGE_BLOB_MISSING');
    expect(line).toBe(`launch: blob ${BLOB_DESC.digest} from ${f.host}/test/app: not found in registry ${f.host} (http://${f.host}/v2/test/app/blobs/${BLOB_DESC.digest}): blob unknown to registry`);
  });

  it('a file already complete is checked, not downloaded again', async () => {
    const f = await blobRegistry((s, res) => json(res, 500, {}));
    const out = dest('complete');
    writeFileSync(out, BLOB);
    await client(f).fetchBlob(BLOB_DESC, out);
    expect(f.seen).toEqual([]);
  });

  it('a redirect to another host drops Authorization; one to the same host keeps it', async () => {
    const storage = await registry((s, res) => {
      res.writeHead(200, { 'content-length': String(BLOB.length) });
      res.end(BLOB);
    });
    const f = await registry(() => {});
    f.handle = (s, res) => {
      if (s.headers.authorization !== `Basic ${b64('u:p')}`) return json(res, 401, {}, { 'www-authenticate': 'Basic realm="r"' });
      if (s.url === '/v2/') return json(res, 200, {});
      if (s.url.includes('/blobs/')) {
        res.writeHead(307, { location: `/v2/elsewhere?redirected` });
        return res.end();
      }
      res.writeHead(302, { location: `http://${storage.host}/bucket/blob?sig=abc` });
      res.end();
    };
    const out = dest('redirect');
    await client(f, { credentials: { username: 'u', password: 'p', file: '/x' } }).fetchBlob(BLOB_DESC, out);
    expect(readFileSync(out)).toEqual(BLOB);
    expect(f.seen.at(-1)!.url).toBe('/v2/elsewhere?redirected');
    expect(f.seen.at(-1)!.headers.authorization).toBe(`Basic ${b64('u:p')}`);
    expect(storage.seen.map((s) => [s.url, s.headers.authorization])).toEqual([['/bucket/blob?sig=abc', undefined]]);
  });
});

describe('unreachable', () => {
  it('a closed port: REGISTRY_UNREACHABLE, one line with the errno', async () => {
    const f = await fake(() => {});
    const host = f.host;
    await f.close();
    const c = new RegistryClient({ registry: host, repository: 'a/b', tag: 'latest', digest: undefined }, { tlsVerify: false, credentials: null });
    open.push(c);
    const { err, line } = await failure(c.getManifest('latest'));
    expect(err.code).toBe('REGISTRY_UNREACHABLE');
    expect(err.kind).toBe('host');
    expect(err.errno).toBe(111);
    expect(line).toMatch(new RegExp(`^launch: cannot reach registry ${host} \\(https://${host}/v2/\\): .*\\(ECONNREFUSED\\)$`));
  });

  it('TLS to a plain-HTTP registry with verification on: the hint to use --tls-verify=false', async () => {
    const f = await registry((s, res) => json(res, 200, {}));
    const { err, line } = await failure(client(f, { tlsVerify: true }).getManifest('v1'));
    expect(err.code).toBe('REGISTRY_TLS');
    expect(line).toMatch(new RegExp(`^launch: TLS handshake with registry ${f.host} \\(https://${f.host}/v2/\\) failed: .* \\(a plain-HTTP registry\\? use --tls-verify=false\\)$`));
    expect(f.seen).toEqual([]);
  });

  it('a server that accepts the connection and never answers: the idle timeout', async () => {
    const f = await registry(() => {});
    const { err, line } = await failure(client(f, { idleTimeout: 300 }).getManifest('v1'));
    expect(err.code).toBe('REGISTRY_UNREACHABLE');
    expect(line).toMatch(/\(http:\/\/127\.0\.0\.1:\d+\/v2\/\): .*\(ETIMEDOUT\)$/);
  });
});
