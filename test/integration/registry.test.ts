// RegistryClient against the real thing: Debian's docker-registry (distribution 2.8), plain
// HTTP on 127.0.0.1, holding an image skopeo pushed from a layout written by test/helpers.
// tlsVerify false throughout, so the client finds plain HTTP by itself as it would for any
// insecure registry. A second registry asks for htpasswd (Basic) credentials.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_TYPES, RegistryClient } from '../../lib/image/registry.js';
import { parseReference } from '../../lib/image/reference.js';
import { busyboxTree, layerTar, sha256, writeImage, writeLayout, type Desc } from '../helpers/image.js';
import { rejection } from '../helpers/thrown.js';
import { cleanupBase, ownedDir } from '../helpers/bundle.js';
import { runAs } from '../helpers/env.js';
import { launchSync } from '../helpers/launch.js';
import { pushLayout, registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const skip = registryMissing();
// bcrypt (cost 4) of "s3cret", made once with Python's crypt.crypt(..., METHOD_BLOWFISH).
const HTPASSWD = 'tester:$2b$04$tlgRart8Xyy/90FJy5g6OuM7W2qyNsPWj4Ar6K4r6aqqo94Okh7I6\n';

let base: string;
let layoutDir: string;
let manifestDesc: Desc;
const registries: RunningRegistry[] = [];
const clients: RegistryClient[] = [];

function client(name: string, credentials: { username: string; password: string; file: string } | null = null): RegistryClient {
  const c = new RegistryClient(parseReference(name), { tlsVerify: false, credentials });
  clients.push(c);
  return c;
}

const failure = rejection;

const blob = (desc: { digest: string }) => readFileSync(join(layoutDir, 'blobs/sha256', desc.digest.slice('sha256:'.length)));

beforeAll(async () => {
  if (skip) return;
  base = mkdtempSync(join(tmpdir(), 'launch-registry-it-'));
  const tree = busyboxTree(join(base, 'tree'));
  layoutDir = join(base, 'layout');
  manifestDesc = writeImage(layoutDir, { layers: [await layerTar(tree, ['bin', 'etc'])], gzip: true, architecture: 'amd64' });
  writeLayout(layoutDir, [{ desc: manifestDesc, tag: '1.0' }]);
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const r of registries) await r.stop();
  if (base) rmSync(base, { recursive: true, force: true });
  cleanupBase();
});

describe.skipIf(skip)('docker-registry', () => {
  let host: string;
  beforeAll(async () => {
    const r = await startRegistry();
    registries.push(r);
    host = r.host;
    pushLayout(layoutDir, '1.0', host, 'launch/busybox');
  });

  it('manifest by tag and by digest, then the config and layer blobs, checked', async () => {
    const c = client(`${host}/launch/busybox:1.0`);
    const byTag = await c.getManifest('1.0');
    expect(byTag.mediaType).toBe(MANIFEST_TYPES.ociManifest);
    // skopeo copies an OCI image unchanged: the registry has the layout's manifest, byte for byte.
    expect(byTag.digest).toBe(manifestDesc.digest);
    expect(byTag.data.equals(blob(manifestDesc))).toBe(true);
    const byDigest = await c.getManifest(byTag.digest);
    expect(byDigest).toEqual(byTag);

    const manifest = JSON.parse(byTag.data.toString()) as { config: Desc; layers: Desc[] };
    for (const desc of [manifest.config, ...manifest.layers]) {
      const out = join(base, `blob-${desc.digest.slice(7, 19)}`);
      const seen: number[] = [];
      await c.fetchBlob(desc, out, (done) => seen.push(done));
      expect(sha256(readFileSync(out))).toBe(desc.digest);
      expect(readFileSync(out).equals(blob(desc))).toBe(true);
      expect(seen.at(-1)).toBe(desc.size);
    }
  });

  it('a partial layer file is resumed from where it stopped (the registry serves Range)', async () => {
    const c = client(`${host}/launch/busybox:1.0`);
    const manifest = JSON.parse((await c.getManifest('1.0')).data.toString()) as { layers: Desc[] };
    const layer = manifest.layers[0]!;
    const out = join(base, 'partial-layer');
    const half = Math.floor(layer.size / 2);
    writeFileSync(out, blob(layer).subarray(0, half));
    const seen: number[] = [];
    await c.fetchBlob(layer, out, (done) => seen.push(done));
    expect(seen[0]).toBe(half);
    expect(sha256(readFileSync(out))).toBe(layer.digest);
  });

  it('a tag the registry does not have: IMAGE_NOT_FOUND in one line', async () => {
    const { err, line } = await failure(client(`${host}/launch/busybox:nope`).getManifest('nope'));
    expect(err.code).toBe('IMAGE_NOT_FOUND');
    expect(line).toBe(`launch: image ${host}/launch/busybox:nope not found in registry ${host} (http://${host}/v2/launch/busybox/manifests/nope): manifest unknown`);
  });

  it('an unreachable registry: REGISTRY_UNREACHABLE naming it and the URL', async () => {
    const r = await startRegistry();
    await r.stop();
    const { err, line } = await failure(client(`${r.host}/launch/busybox:1.0`).getManifest('1.0'));
    expect(err.code).toBe('REGISTRY_UNREACHABLE');
    expect(line).toMatch(new RegExp(`^launch: cannot reach registry ${r.host} \\(https://${r.host}/v2/\\): .*\\(ECONNREFUSED\\)$`));
  });
});

describe.skipIf(skip)('docker-registry with htpasswd', () => {
  let host: string;
  beforeAll(async () => {
    const file = join(base, 'htpasswd');
    writeFileSync(file, HTPASSWD);
    const r = await startRegistry({ htpasswd: file });
    registries.push(r);
    host = r.host;
    pushLayout(layoutDir, '1.0', host, 'private/busybox', 'tester:s3cret');
  });

  it('Basic credentials are sent when asked for; without them, one line saying so', async () => {
    const ok = await client(`${host}/private/busybox:1.0`, { username: 'tester', password: 's3cret', file: '/test/auth.json' }).getManifest('1.0');
    expect(ok.digest).toBe(manifestDesc.digest);
    const none = await failure(client(`${host}/private/busybox:1.0`).getManifest('1.0'));
    expect(none.err.code).toBe('REGISTRY_AUTH');
    expect(none.line).toBe(`launch: registry ${host} requires credentials (docker login / $REGISTRY_AUTH_FILE) for http://${host}/v2/`);
    const wrong = await failure(client(`${host}/private/busybox:1.0`, { username: 'tester', password: 'nope', file: '/test/auth.json' }).getManifest('1.0'));
    expect(wrong.err.code).toBe('REGISTRY_AUTH');
    expect(wrong.line).toMatch(new RegExp(`^launch: registry ${host} \\(http://${host}/v2/\\) denied access to private/busybox with the credentials from \`/test/auth.json\`: `));
  });

  it('launch pull takes the credentials `podman login` stores, from $REGISTRY_AUTH_FILE', () => {
    const who = runAs('root') ?? runAs('rootless')!;
    const store = join(ownedDir(who, 'auth-store'), 'store');
    const auth = join(ownedDir(who, 'auth'), 'auth.json');
    writeFileSync(auth, JSON.stringify({ auths: { [host]: { auth: Buffer.from('tester:s3cret').toString('base64') } } }), { mode: 0o644 });
    const args = ['pull', '--tls-verify=false', '--store', store, `${host}/private/busybox:1.0`];
    const denied = launchSync(who, args, { env: { REGISTRY_AUTH_FILE: join(base, 'none.json') }, timeout: 60_000 });
    expect(denied.status).toBe(125);
    expect(denied.stderr).toBe(`launch: pull: registry ${host} requires credentials (docker login / $REGISTRY_AUTH_FILE) for http://${host}/v2/\n`);
    const pulled = launchSync(who, args, { env: { REGISTRY_AUTH_FILE: auth }, timeout: 60_000 });
    expect(pulled.stderr).toBe('');
    expect(pulled.status).toBe(0);
  });
});
