// Image references (lib/image/reference.ts), the auth file lookup (auth.ts) against files in a
// temporary HOME, and the pull progress lines (progress.ts) on a fake terminal and a pipe.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LaunchError, formatError } from '../../lib/errors.js';
import { authFiles, findCredentials } from '../../lib/image/auth.js';
import { createProgress, formatBytes } from '../../lib/image/progress.js';
import { apiHost, formatReference, parseReference } from '../../lib/image/reference.js';
import { thrown } from '../helpers/thrown.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['user/app', 'docker.io', 'user/app', 'latest', undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', 'latest', undefined],
    ['index.docker.io/library/busybox:musl', 'docker.io', 'library/busybox', 'musl', undefined],
    ['docker.io/library/busybox:latest', 'docker.io', 'library/busybox', 'latest', undefined],
    ['localhost:5000/x/y:1', 'localhost:5000', 'x/y', '1', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    [`127.0.0.1:5000/a@${D}`, '127.0.0.1:5000', 'a', undefined, D],
    [`quay.io/a/b:v1@${D}`, 'quay.io', 'a/b', 'v1', D],
    ['quay.io/a/b', 'quay.io', 'a/b', 'latest', undefined],
    ['[::1]:5000/a/b', '[::1]:5000', 'a/b', 'latest', undefined],
    ['my-registry.example.com/a.b/c_d/e__f/g--h:V_1.x-2', 'my-registry.example.com', 'a.b/c_d/e__f/g--h', 'V_1.x-2', undefined],
    // A first component without `.` or `:` is a namespace on Docker Hub, not a host.
    ['registry/app', 'docker.io', 'registry/app', 'latest', undefined],
  ])('%s', (text, registry, repository, tag, digest) => {
    expect(parseReference(text)).toEqual({ registry, repository, tag, digest });
  });

  it('formats the canonical name', () => {
    expect(formatReference(parseReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(formatReference(parseReference(`busybox@${D}`))).toBe(`docker.io/library/busybox@${D}`);
    expect(formatReference(parseReference(`quay.io/a/b:v1@${D}`))).toBe(`quay.io/a/b:v1@${D}`);
    expect(formatReference(parseReference('localhost:5000/x'))).toBe('localhost:5000/x:latest');
  });

  it('Docker Hub is served from registry-1.docker.io', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('quay.io')).toBe('quay.io');
    expect(apiHost('localhost:5000')).toBe('localhost:5000');
  });

  it.each([
    ['Busybox', /"Busybox": the repository name must be lowercase$/],
    ['docker.io/Library/busybox', /must be lowercase$/],
    ['quay.io/a/B:1', /must be lowercase$/],
    ['busybox:-bad', /"busybox:-bad": invalid tag "-bad"/],
    [`busybox:${'x'.repeat(129)}`, /invalid tag/],
    // The colon is before the last slash: a registry with a bad port, as docker reads it.
    ['busybox:a/b', /invalid registry "busybox:a"$/],
    ['busybox@sha256:abc', /invalid sha256 digest "sha256:abc"$/],
    [`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"$/],
    ['', /the name is empty$/],
    [':tag', /the name is empty$/],
    ['a//b', /empty path component$/],
    ['a/b/', /empty path component$/],
    ['a/b$c', /invalid path component "b\$c"$/],
    ['exa_mple.com:80/a', /invalid registry "exa_mple.com:80"$/],
    [`a/${'b'.repeat(300)}`, /longer than 255 characters$/],
  ])('refuses %j in one line', (text, why) => {
    const err = thrown(() => parseReference(text), 'usage');
    expect(err.code).toBe('IMAGE_NAME');
    const line = formatError(err);
    expect(line).toMatch(/^launch: invalid image reference "/);
    expect(line).toMatch(why);
    expect(line).not.toContain('\n');
  });
});

describe('findCredentials', () => {
  let home: string;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const write = (rel: string, doc: unknown) => {
    const file = join(home, rel);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return file;
  };

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'launch-auth-test-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('looks in the documented order', () => {
    const env = { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/7', HOME: home };
    expect(authFiles(env, home)).toEqual(['/a.json', '/run/user/7/containers/auth.json', join(home, '.config/containers/auth.json'), join(home, '.docker/config.json')]);
    expect(authFiles({ XDG_CONFIG_HOME: '/cfg', DOCKER_CONFIG: '/dk' }, home)).toEqual(['/cfg/containers/auth.json', '/dk/config.json']);
  });

  it('the first file with an entry wins; auth, username/password, identitytoken; docker.io aliases', async () => {
    const dir = mkdtempSync(join(home, 'order-'));
    const rel = (p: string) => join(dir.slice(home.length + 1), p);
    const runtime = write(rel('run/containers/auth.json'), { auths: { 'quay.io': { auth: b64('rt:pw:with:colons') } } });
    const config = write(rel('cfg/containers/auth.json'), { auths: { 'quay.io': { auth: b64('cfg:x') }, 'https://ghcr.io': { username: 'gh', password: 'p' } } });
    const docker = write(rel('docker/config.json'), {
      auths: { 'https://index.docker.io/v1/': { auth: b64('hub:secret'), identitytoken: 'tok' }, 'localhost:5000/ns': { auth: b64('ns:x') } },
    });
    const env = { XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CONFIG_HOME: join(dir, 'cfg'), DOCKER_CONFIG: join(dir, 'docker') };
    expect(await findCredentials('quay.io', env, home)).toEqual({ username: 'rt', password: 'pw:with:colons', file: runtime });
    expect(await findCredentials('ghcr.io', env, home)).toEqual({ username: 'gh', password: 'p', file: config });
    expect(await findCredentials('docker.io', env, home)).toEqual({ username: 'hub', password: 'secret', identityToken: 'tok', file: docker });
    // A namespace key is not the whole registry's.
    expect(await findCredentials('localhost:5000', env, home)).toBeUndefined();
    const explicit = write(rel('explicit.json'), { auths: { 'http://quay.io': { auth: b64('mine:1') } } });
    expect(await findCredentials('quay.io', { ...env, REGISTRY_AUTH_FILE: explicit }, home)).toEqual({ username: 'mine', password: '1', file: explicit });
    expect(await findCredentials('docker.io', { HOME: join(dir, 'nohome') }, join(dir, 'nohome'))).toBeUndefined();
  });

  it('an empty entry (docker credsStore) is skipped, and a credential helper noted', async () => {
    const dir = mkdtempSync(join(home, 'helper-'));
    const rel = (p: string) => join(dir.slice(home.length + 1), p);
    const docker = write(rel('docker/config.json'), { auths: { 'https://index.docker.io/v1/': {} }, credsStore: 'desktop', credHelpers: { 'gcr.io': 'gcloud' } });
    const env = { DOCKER_CONFIG: join(dir, 'docker'), XDG_CONFIG_HOME: join(dir, 'cfg') };
    const hub = await findCredentials('docker.io', env, home);
    expect(hub?.username).toBeUndefined();
    expect(hub?.note).toBe(`credential helper docker-credential-desktop for docker.io in \`${docker}\` is not supported (store the login in $REGISTRY_AUTH_FILE instead)`);
    expect((await findCredentials('gcr.io', env, home))?.note).toMatch(/^credential helper docker-credential-gcloud for gcr.io /);
    // A later file with a real entry still gives credentials, with the note kept.
    const later = write(rel('cfg/containers/auth.json'), {});
    expect(later).toBeTruthy();
    const first = write(rel('first.json'), { credHelpers: { 'quay.io': 'pass' } });
    write(rel('docker2/config.json'), { auths: { 'quay.io': { username: 'u', password: 'p' } } });
    const got = await findCredentials('quay.io', { REGISTRY_AUTH_FILE: first, DOCKER_CONFIG: join(dir, 'docker2'), XDG_CONFIG_HOME: join(dir, 'cfg') }, home);
    expect(got).toMatchObject({ username: 'u', password: 'p' });
    expect(got?.note).toMatch(/docker-credential-pass for quay.io/);
  });

  it('a file that is not JSON is an error naming it; a bad auth field too', async () => {
    const dir = mkdtempSync(join(home, 'bad-'));
    const file = join(dir, 'auth.json');
    writeFileSync(file, '{"auths": {');
    const err = await findCredentials('quay.io', { REGISTRY_AUTH_FILE: file }, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchError);
    expect((err as LaunchError).kind).toBe('spec');
    expect(formatError(err)).toMatch(new RegExp(`^launch: invalid JSON in the credentials file \\(.*\\) \`${file}\`$`));
    writeFileSync(file, JSON.stringify({ auths: { 'quay.io': { auth: b64('no-colon') } } }));
    const bad = await findCredentials('quay.io', { REGISTRY_AUTH_FILE: file }, dir).catch((e: unknown) => e);
    expect(formatError(bad)).toBe(`launch: auths["quay.io"]: "auth" is not base64 of "user:password" in the credentials file \`${file}\``);
  });
});

describe('progress', () => {
  const fake = (isTTY: boolean, columns = 200) => {
    const out = { isTTY, columns, text: '', write(s: string) { this.text += s; return true; } };
    let t = 1000;
    return { out, clock: { now: () => t, advance: (ms: number) => (t += ms) } };
  };
  const DIG = `sha256:3f4a5c6d7e8f${'0'.repeat(52)}`;

  it('on a terminal: one line per blob, redrawn in place, throttled', () => {
    const { out, clock } = fake(true);
    const p = createProgress(out, clock.now);
    const a = p.blob(DIG, 3.4 * 1024 * 1024);
    expect(out.text).toBe(`\r\x1b[2KCopying blob 3f4a5c6d7e8f [>${' '.repeat(29)}] 0 B / 3.4 MiB\n`);
    out.text = '';
    a.update(1.2 * 1024 * 1024);
    expect(out.text).toBe(''); // within 100 ms of the last draw
    clock.advance(100);
    a.update(1.2 * 1024 * 1024);
    expect(out.text).toBe(`\x1b[1A\r\x1b[2KCopying blob 3f4a5c6d7e8f [==========>${' '.repeat(19)}] 1.2 MiB / 3.4 MiB\n`);
    out.text = '';
    const b = p.blob(`sha256:${'b'.repeat(64)}`, 10);
    expect(out.text.startsWith('\x1b[1A')).toBe(true);
    expect(out.text.split('\n')).toHaveLength(3);
    out.text = '';
    b.done('skipped: already exists');
    a.done();
    expect(out.text.split('\n').slice(-3)).toEqual(['\x1b[2A\r\x1b[2KCopying blob 3f4a5c6d7e8f done', '\r\x1b[2KCopying blob bbbbbbbbbbbb skipped: already exists', '']);
    out.text = '';
    p.finish();
    expect(out.text).toBe(''); // nothing changed since the last draw
  });

  it('a pending update is drawn by finish(); lines are cut to the terminal width', () => {
    const { out, clock } = fake(true, 21);
    const p = createProgress(out, clock.now);
    const a = p.blob(DIG, 100);
    a.update(50);
    out.text = '';
    p.finish();
    expect(out.text).toBe('\x1b[1A\r\x1b[2KCopying blob 3f4a5c6\n');
  });

  it('not a terminal: nothing at all', () => {
    const { out, clock } = fake(false);
    const p = createProgress(out, clock.now);
    const a = p.blob(DIG, 100);
    clock.advance(1000);
    a.update(50);
    a.done();
    p.finish();
    expect(out.text).toBe('');
  });

  it('sizes', () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual(['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '5.0 MiB', '3.0 GiB']);
  });
});
