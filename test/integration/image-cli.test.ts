// Acceptance of the image verbs, end to end through the command line, as root and rootless: a
// real registry (Debian's docker-registry on 127.0.0.1) holding the layered image of
// test/helpers/layered-image.ts (pushed by skopeo), `launch pull` then `launch run --image`,
// `launch unpack`, and the failures (a corrupted blob, a truncated one, an unreachable
// registry, a corrupt layout, an escaping entry), each one clear line that leaves the store as
// it was. Rootless, files the image gives to uid 1234 must still be 1234's in the container:
// launch unpacks in a user namespace with the test user's subordinate ids mapped.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupBaseInUserns, ownedDir, testBase } from '../helpers/bundle.js';
import { eachMode, runAs, type RunAs } from '../helpers/env.js';
import { skopeoCopy, writeImage, writeIndexBlob, writeLayout } from '../helpers/image.js';
import { checkLayeredTree, rawTar, writeLayeredImage, type LayeredExpect } from '../helpers/layered-image.js';
import { launchShell, launchSync, spawnOptions, type Result } from '../helpers/launch.js';
import { diffManifests, treeManifest } from '../helpers/tree.js';
import { pushLayout, registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const noRegistry = registryMissing();
const noScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0 ? undefined : 'needs script (util-linux)';
let registry: RunningRegistry | undefined;
let layout: string;
/** The same image with its zstd layer gzipped (docker-archive has no zstd). */
let gzipLayout: string;
let want: LayeredExpect;

beforeAll(async () => {
  if (noRegistry) return;
  const dir = join(testBase(), 'layered');
  const image = await writeLayeredImage(dir);
  layout = image.layout;
  want = image.expect;
  gzipLayout = (await writeLayeredImage(join(testBase(), 'layered-gzip'), { zstd: false })).layout;
  registry = await startRegistry();
  pushLayout(layout, image.tag, registry.host, 'layered');
  pushLayout(layout, image.tag, registry.host, 'spoiled');
  pushLayout(layout, image.tag, registry.host, 'cut');
  // A multi-platform image: an index of the layered image (this host's platform) and a tiny
  // image for another architecture, which the pull must pass over.
  const hostDesc = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0];
  const foreign = hostDesc.platform.architecture === 'amd64' ? { architecture: 'arm64', variant: 'v8' } : { architecture: 'amd64' };
  const other = writeImage(layout, { architecture: foreign.architecture, layers: [rawTar([{ path: 'foreign', type: 'file', body: 'no\n' }])] });
  const { annotations: _tag, ...hostManifest } = hostDesc;
  const index = writeIndexBlob(layout, [hostManifest, { ...other, platform: { os: 'linux', ...foreign } }]);
  writeLayout(layout, [{ desc: hostDesc, tag: 'v1' }, { desc: index, tag: 'multi' }]);
  pushLayout(layout, 'multi', registry.host, 'multi', undefined, true);
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  // The rootless trees hold files of subordinate ids.
  cleanupBaseInUserns(!noRegistry);
});

/** The first subordinate id of `who` (its container id 1), from /etc/subuid or /etc/subgid. */
function subStart(file: string, who: RunAs): number {
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${who.name}:`) || l.startsWith(`${who.uid}:`));
  return Number(line?.split(':')[1]);
}

/** The registry's stored file of a blob. */
const blobData = (digest: string) => join(registry!.storage, 'docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');

function oneLine(r: Result): string {
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr.trim();
}

/** The names the store's index.json tags. */
function tags(store: string): string[] {
  const index = JSON.parse(readFileSync(join(store, 'images/index.json'), 'utf8'));
  return index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']);
}

/** What the store holds: its tags and blob files (partial downloads apart). */
function storeContents(store: string): string[] {
  if (!existsSync(join(store, 'images/index.json'))) return [];
  const index = readFileSync(join(store, 'images/index.json'), 'utf8');
  const blobs = readdirSync(join(store, 'images/blobs/sha256')).sort();
  return [index, ...blobs];
}

eachMode('images', ['busybox', 'dist', 'addon', 'newuidmap'], (mode, baseSkip) => {
  const skip = baseSkip ?? noRegistry;
  const who = () => runAs(mode)!;
  let store: string;
  const launch = (args: string[], timeout = 120_000) => launchSync(who(), args, { timeout });
  const ref = (repo: string) => `${registry!.host}/${repo}:v1`;
  const owners = () => (mode === 'root' ? ('raw' as const) : { uidBase: subStart('/etc/subuid', who()), gidBase: subStart('/etc/subgid', who()), uid: who().uid, gid: who().gid });

  beforeAll(() => {
    if (!skip) store = join(ownedDir(who(), 'store'), 'store');
  });

  it.skipIf(skip)(`pulls from the registry and runs the image, owners kept ${skip ?? ''}`, () => {
    const pulled = launch(['pull', '--tls-verify=false', '--store', store, ref('layered')]);
    expect(pulled.stderr).toBe('');
    expect(pulled.status).toBe(0);
    expect(pulled.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const listed = launch(['images', '--store', store]);
    expect(listed.stdout).toContain(`${registry!.host}/layered:v1`);
    // The image's own command, as its user `app` (1234) in its WorkingDir.
    const run = launch(['run', '--image', ref('layered'), '--store', store, '--tls-verify=false']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(want.stdout);
    expect(run.status).toBe(0);
    // ARGS replace Cmd; the Entrypoint (`/bin/sh -c`) stays, as with docker run.
    const look = launch([
      'run', '--image', ref('layered'), '--store', store, '--',
      'stat -c "%n %u:%g %a" /data/owned-by-1234 /data/hard /srv/shared; ls /data; echo changed > /tmp/new; cat /tmp/new',
    ]);
    expect(look.stderr).toBe('');
    expect(look.stdout).toBe('/data/owned-by-1234 1234:1234 640\n/data/hard 1234:1234 640\n/srv/shared 0:1234 2775\nfifo\nhard\nlink\nowned-by-1234\nchanged\n');
    // Each container writes to its own layer: the cached tree is as the image made it.
    const again = launch(['run', '--image', ref('layered'), '--store', store, '--', 'ls /tmp; cat /etc/hello.txt']);
    expect(again.stdout).toBe(want.present['/etc/hello.txt']!.content);
  });

  it.skipIf(skip || noScript)('draws progress bars on a terminal (and nothing elsewhere, as the pull above)', () => {
    const fresh = join(ownedDir(who(), 'store-tty'), 'store');
    const cmd = `${launchShell()} pull --tls-verify=false --store "${fresh}" ${ref('layered')}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Copying blob [0-9a-f]{12}/);
    expect(r.stdout).toMatch(/\x1b\[\d*A/); // redrawn in place
  });

  it.skipIf(skip || noScript)('gives an image a terminal with -t', () => {
    const cmd = `${launchShell()} run --image ${ref('layered')} --store "${store}" -t -- '[ -t 0 ] && [ -t 1 ] && echo tty-ok'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toContain('tty-ok');
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('resolves an image index to the host\'s platform', () => {
    const r = launch(['run', '--image', `${registry!.host}/multi:multi`, '--store', store, '--tls-verify=false', '--', 'ls /foreign 2>&1; cat /etc/hello.txt']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`ls: /foreign: No such file or directory\n${want.present['/etc/hello.txt']!.content}`);
    const stored = JSON.parse(readFileSync(join(store, 'images/index.json'), 'utf8')).manifests;
    expect(stored.find((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name'].endsWith('/multi:multi')).platform.architecture).toBe(process.arch === 'x64' ? 'amd64' : 'arm64');
  });

  it.skipIf(skip)('keeps one unpacked tree per image, lists images, and rmi collects what is unused', () => {
    // The runs above all used one tree (copy-free: each container had an overlay on it).
    expect(readdirSync(join(store, 'rootfs'))).toHaveLength(1);
    const listed = JSON.parse(launch(['images', '--store', store, '--format', 'json']).stdout);
    expect(listed).toEqual([
      expect.objectContaining({ name: `${registry!.host}/layered:v1`, id: expect.stringMatching(/^sha256:/) }),
      expect.objectContaining({ name: `${registry!.host}/multi:multi`, id: listed[0].id }),
    ]);
    expect(listed[0].size).toBeGreaterThan(100_000);
    const missing = launch(['rmi', '--store', store, `${registry!.host}/nothing:v1`]);
    expect(missing.status).toBe(125);
    expect(oneLine(missing)).toMatch(/no such image in the store: .*nothing:v1/);
    // One of two names of the same image: its blobs and tree stay for the other.
    const one = launch(['rmi', '--store', store, ref('layered')]);
    expect(one.status).toBe(0);
    expect(readdirSync(join(store, 'rootfs'))).toHaveLength(1);
    const removed = launch(['rmi', '--store', store, `${registry!.host}/multi:multi`]);
    expect(removed.stderr).toBe('');
    expect(removed.status).toBe(0);
    expect(tags(store)).toEqual([]);
    expect(readdirSync(join(store, 'images/blobs/sha256'))).toEqual([]);
    expect(readdirSync(join(store, 'rootfs'))).toEqual([]);
    expect(readdirSync(join(store, 'tmp'))).toEqual([]);
  });

  it.skipIf(skip)('unpacks an OCI layout into a bundle that runs, with the tree the image describes', () => {
    const bundle = join(ownedDir(who(), 'unpacked'), 'bundle');
    const r = launch(['unpack', '--store', store, `oci:${layout}:v1`, bundle]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    if (process.getuid!() === 0) expect(checkLayeredTree(join(bundle, 'rootfs'), want, { owners: owners() })).toEqual([]);
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(config.process.user).toMatchObject({ uid: 1234, gid: 1234 });
    expect(config.process.cwd).toBe('/data');
    const run = launch(['run', '--bundle', bundle, `unpacked-${mode}`]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(want.stdout);
  });

  it.skipIf(baseSkip)('makes the bundle 0700, new or given empty: no other user of the host reaches the image\'s setuid files (or, as root, its device nodes)', () => {
    // As umoci: unpacked as root, a bundle under /tmp handed every local user the image's
    // setuid-root binaries and 0666 device nodes (a `b 254 0` was the host's disk).
    const dir = ownedDir(who(), 'private');
    const image = join(dir, 'layout');
    const tar = rawTar([{ path: 'bin', type: 'dir', mode: 0o755 }, { path: 'bin/suid', type: 'file', mode: 0o4755, body: 'x' }]);
    writeLayout(image, [{ desc: writeImage(image, { architecture: 'amd64', layers: [tar] }), tag: 'v1' }]);
    const given = join(dir, 'given');
    mkdirSync(given, { mode: 0o755 });
    chownSync(given, who().uid, who().gid);
    for (const bundle of [join(dir, 'new'), given]) {
      const r = launch(['unpack', '--store', join(dir, 'store'), `oci:${image}:v1`, bundle]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(statSync(bundle).mode & 0o7777).toBe(0o700);
      expect(statSync(join(bundle, 'rootfs/bin/suid')).mode & 0o7777).toBe(0o4755);
    }
  });

  it.skipIf(baseSkip)('quotes what an image names in a note as formatError does: no terminal escapes, no forged lines', () => {
    // An entry name is the image's: with ESC and a newline, the note about it wrote escape
    // sequences to the user's terminal and a `launch:` line of the image's own.
    const dir = ownedDir(who(), 'note-escape');
    const image = join(dir, 'layout');
    const evil = '.wh..wh.plnk/\x1b]0;owned\x07\x1b[2J\nlaunch: forged';
    const tar = rawTar([{ path: 'etc', type: 'dir' }, { path: evil, type: 'file', body: 'x' }]);
    writeLayout(image, [{ desc: writeImage(image, { architecture: 'amd64', layers: [tar] }), tag: 'v1' }]);
    const r = launch(['unpack', '--store', join(dir, 'store'), `oci:${image}:v1`, join(dir, 'bundle')]);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^launch: note: layer `sha256:[0-9a-f]{64}`: skipped aufs metadata `.*\\u001b.*\\nlaunch: forged`$/)]);
  });

  it.skipIf(skip)('unpacks the same image as docker-archive and oci-archive to identical trees', () => {
    const dir = ownedDir(who(), 'archives');
    // skopeo 1.9 makes no docker-archive of a zstd layer: both archives come from the gzip twin.
    const oci = join(dir, 'image.oci.tar');
    const docker = join(dir, 'image.docker.tar');
    skopeoCopy(`oci:${gzipLayout}:v1`, `oci-archive:${oci}:v1`);
    skopeoCopy(`oci:${gzipLayout}:v1`, `docker-archive:${docker}:example.test/layered:v1`);
    chmodSync(oci, 0o644);
    chmodSync(docker, 0o644);
    const trees = [`oci-archive:${oci}:v1`, `docker-archive:${docker}:example.test/layered:v1`].map((name, i) => {
      const bundle = join(dir, `bundle-${i}`);
      const r = launch(['unpack', '--store', store, name, bundle]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return { bundle, manifest: treeManifest(join(bundle, 'rootfs'), { ids: owners() }) };
    });
    const diff = diffManifests(trees[0]!.manifest, trees[1]!.manifest, ['oci-archive', 'docker-archive']);
    expect(diff, diff).toBe('');
    expect(trees[0]!.manifest.join('\n')).toMatch(/data\/owned-by-1234 file 0640 1234:1234/);
    expect(readFileSync(join(trees[0]!.bundle, 'config.json'), 'utf8')).toBe(readFileSync(join(trees[1]!.bundle, 'config.json'), 'utf8'));
  });

  it.skipIf(skip)('refuses a blob whose content is not its digest, and leaves the store as it was', () => {
    const manifest = launch(['pull', '--tls-verify=false', '--store', join(store, '..', 'probe'), ref('spoiled')]);
    expect(manifest.status).toBe(0);
    // Spoil the registry's copy of the top layer (the registry serves what it stores).
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const m = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    // A gzip layer: skopeo pushes those as they are (an uncompressed one it compresses).
    const top = m.layers[0].digest as string;
    const file = blobData(top);
    const whole = readFileSync(file);
    const fresh = join(ownedDir(who(), 'store-spoiled'), 'store');
    try {
      const data = Buffer.from(whole);
      data[data.length >> 1] ^= 0xff;
      writeFileSync(file, data);
      const r = launch(['pull', '--tls-verify=false', '--store', fresh, ref('spoiled')]);
      expect(r.status).toBe(125);
      expect(oneLine(r)).toMatch(new RegExp(`^launch: pull: .*blob ${top}.*digest mismatch`));
    } finally {
      writeFileSync(file, whole);
    }
    expect(tags(fresh)).toEqual([]);
    expect(storeContents(fresh).slice(1)).not.toContain(top.slice(7));
  });

  it.skipIf(skip)('stops at a truncated blob with a clear line, and resumes the download', () => {
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const m = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const big = m.layers[0];
    const file = blobData(big.digest);
    const whole = readFileSync(file);
    const fresh = join(ownedDir(who(), 'store-cut'), 'store');
    try {
      truncateSync(file, whole.length >> 1);
      const r = launch(['pull', '--tls-verify=false', '--store', fresh, ref('cut')]);
      expect(r.status).toBe(125);
      expect(oneLine(r)).toMatch(/stopped at \d+ of \d+ bytes/);
      expect(tags(fresh)).toEqual([]);
    } finally {
      writeFileSync(file, whole);
    }
    const again = launch(['pull', '--tls-verify=false', '--store', fresh, ref('cut')]);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    expect(tags(fresh)).toEqual([`${registry!.host}/cut:v1`]);
  });

  it.skipIf(skip)('says so in one line when a digest names nothing the registry has', () => {
    const before = storeContents(store);
    const r = launch(['pull', '--tls-verify=false', '--store', store, `${registry!.host}/layered@sha256:${'0'.repeat(64)}`]);
    expect(r.status).toBe(125);
    expect(oneLine(r)).toMatch(new RegExp(`^launch: pull: image ${registry!.host}/layered@sha256:0{64} not found`));
    expect(storeContents(store)).toEqual(before);
  });

  it.skipIf(skip)('says so in one line when the registry cannot be reached', () => {
    const before = storeContents(store);
    const r = launch(['pull', '--tls-verify=false', '--store', store, '127.0.0.1:1/nothing:v1']);
    expect(r.status).toBe(125);
    expect(oneLine(r)).toMatch(/cannot reach registry 127\.0\.0\.1:1.*ECONNREFUSED/);
    expect(storeContents(store)).toEqual(before);
  });

  it.skipIf(skip)('refuses an escaping entry and a corrupted layout, leaving no bundle behind', () => {
    const bad = join(ownedDir(who(), 'bad-layout'), 'layout');
    const tar = rawTar([{ path: '../escaped', type: 'file', body: 'out\n' }]);
    const desc = writeImage(bad, { architecture: 'amd64', layers: [tar], gzip: true });
    writeLayout(bad, [{ desc, tag: 'v1' }]);
    const layerDigest = JSON.parse(readFileSync(join(bad, 'blobs/sha256', desc.digest.slice(7)), 'utf8')).layers[0].digest as string;
    chmodSync(bad, 0o755);
    const bundle = join(ownedDir(who(), 'escape'), 'bundle');
    const r = launch(['unpack', '--store', store, `oci:${bad}:v1`, bundle]);
    expect(r.status).not.toBe(0);
    expect(oneLine(r)).toMatch(/escaped/);
    expect(existsSync(bundle)).toBe(false);
    expect(existsSync(join(bad, '..', 'escaped'))).toBe(false);
    // Flip a byte of the layer blob: its digest no longer matches.
    const blob = join(bad, 'blobs/sha256', layerDigest.slice(7));
    const data = readFileSync(blob);
    data[20] ^= 0xff;
    writeFileSync(blob, data);
    const r2 = launch(['unpack', '--store', store, `oci:${bad}:v1`, bundle]);
    expect(r2.status).not.toBe(0);
    expect(oneLine(r2)).toMatch(/digest mismatch/);
    expect(existsSync(bundle)).toBe(false);
    expect(statSync(bad).isDirectory()).toBe(true);
  });
});

describe('image verbs without a registry', () => {
  it('refuses a transport launch does not read, in one line', () => {
    const who = runAs('root') ?? runAs('rootless')!;
    const r = launchSync(who, ['unpack', 'containers-storage:foo', join(testBase(), 'nope')]);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^launch: unpack: image "containers-storage:foo": containers-storage: images are not supported/);
  });
});
