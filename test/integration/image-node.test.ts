// The image verbs on the system Node (`/usr/bin/node bin/launch.js ...`), which the README says
// works (`engines`: Node >= 20) and which is the `node` in PATH for a user who did not put the
// fetched Node 24 first. The rest of the suite runs on the Node 24 that `npm install` fetched,
// so without this file nothing would run launch's image code on Node 20, whose zlib has no
// zstd: an import of createZstdDecompress by name once took every image verb down there
// ("internal error" from `images`, `pull`, `rmi`, `unpack`, `run --image`, `unshare`).
//
// LAUNCH_SYSTEM_NODE names another Node to try (.ci/run sets it, so CI runs this file through
// the system Node and fails rather than skips if there is none).
//
// Checked to fail: before lib/image/zstd.ts, every test here but the first failed with
// "launch: internal error ... does not provide an export named 'createZstdDecompress'".
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupBaseInUserns, ownedDir, testBase } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { writeLayeredImage, type LayeredExpect } from '../helpers/layered-image.js';
import { BINARY, launchSync, type Result } from '../helpers/launch.js';
import { pushLayout, registryMissing, startRegistry, type RunningRegistry } from '../helpers/registry.js';

const SYSTEM_NODE = process.env.LAUNCH_SYSTEM_NODE || '/usr/bin/node';

/** Why this file cannot run, or undefined. A named LAUNCH_SYSTEM_NODE that is missing is a
 * failure (see the first test), not a reason to skip. */
function whyNot(): string | undefined {
  if (BINARY) return 'the single executable carries its own Node';
  if (!existsSync(SYSTEM_NODE) && !process.env.LAUNCH_SYSTEM_NODE) return `needs a system Node at ${SYSTEM_NODE} (or LAUNCH_SYSTEM_NODE=PATH)`;
  return undefined;
}
const noNode = whyNot();
const version = noNode || !existsSync(SYSTEM_NODE) ? '' : execFileSync(SYSTEM_NODE, ['--version'], { encoding: 'utf8' }).trim();
/** Whether that Node's zlib decodes zstd (22.15+, 23.8+). */
const hasZstd =
  version !== '' && spawnSync(SYSTEM_NODE, ['-e', 'process.exit(typeof require("zlib").createZstdDecompress === "function" ? 0 : 1)']).status === 0;
const noRegistry = registryMissing();

let gzip: { layout: string; tag: string; expect: LayeredExpect };
let zstd: { layout: string; tag: string };
let registry: RunningRegistry | undefined;

beforeAll(async () => {
  if (noNode) return;
  gzip = await writeLayeredImage(join(testBase(), 'node-gzip'), { zstd: false });
  zstd = await writeLayeredImage(join(testBase(), 'node-zstd'));
  if (noRegistry) return;
  registry = await startRegistry();
  pushLayout(gzip.layout, gzip.tag, registry.host, 'node-gzip');
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  // The rootless trees hold files of subordinate ids.
  cleanupBaseInUserns(!noNode);
});

function oneLine(r: Result): string {
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr.trim();
}

describe(`the system Node ${noNode ? `(skipped: ${noNode})` : `${SYSTEM_NODE} ${version}`}`, () => {
  it.skipIf(noNode)('is there', () => {
    expect(existsSync(SYSTEM_NODE), `LAUNCH_SYSTEM_NODE=${SYSTEM_NODE} does not exist`).toBe(true);
    expect(version).toMatch(/^v\d+\./);
  });
});

eachMode(`image verbs on the system Node`, ['busybox', 'dist', 'addon', 'newuidmap'], (mode, baseSkip) => {
  const skip = baseSkip ?? noNode;
  const who = () => runAs(mode)!;
  const launch = (args: string[]) => launchSync(who(), args, { node: SYSTEM_NODE, timeout: 120_000 });
  let store: string;

  beforeAll(() => {
    if (!skip) store = join(ownedDir(who(), 'node-store'), 'store');
  });

  it.skipIf(skip)('unpack: a gzip image makes a bundle', () => {
    const bundle = join(ownedDir(who(), 'node-unpack'), 'bundle');
    const r = launch(['unpack', '--store', store, `oci:${gzip.layout}:${gzip.tag}`, bundle]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).process.cwd).toBe('/data');
    expect(existsSync(join(bundle, 'rootfs/bin/busybox'))).toBe(true);
  });

  it.skipIf(skip)(hasZstd ? 'unpack: a zstd image too (this Node decodes zstd)' : 'unpack: a zstd layer is one line naming the layer and the Node it needs', () => {
    const bundle = join(ownedDir(who(), 'node-unpack-zstd'), 'bundle');
    const r = launch(['unpack', '--store', store, `oci:${zstd.layout}:${zstd.tag}`, bundle]);
    if (hasZstd) {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return;
    }
    expect(r.status).toBe(125);
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(oneLine(r)).toMatch(
      new RegExp(
        `^launch: unpack: layer sha256:[0-9a-f]{64}: zstd-compressed, and zstd layers need Node >= 22\\.15 \\(or >= 23\\.8 on 23\\.x\\): this Node, ${esc(version)} at \`[^\`]+\`, has no zstd decoder$`,
      ),
    );
    // Nothing left: the bundle directory was made by this unpack.
    expect(existsSync(bundle)).toBe(false);
  });

  it.skipIf(skip)('run --image: a gzip image runs', () => {
    const r = launch(['run', '--image', `oci:${gzip.layout}:${gzip.tag}`, '--store', store, '--', 'cat /etc/hello.txt']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(gzip.expect.present['/etc/hello.txt']!.content);
    expect(r.status).toBe(0);
  });

  it.skipIf(skip || noRegistry)(`pull, images and rmi ${noRegistry ?? ''}`, () => {
    const ref = `${registry!.host}/node-gzip:${gzip.tag}`;
    const pulled = launch(['pull', '--tls-verify=false', '--store', store, ref]);
    expect(pulled.stderr).toBe('');
    expect(pulled.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    const listed = launch(['images', '--store', store, '--format', 'json']);
    expect(listed.stderr).toBe('');
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: ref })]);
    const removed = launch(['rmi', '--store', store, ref]);
    expect(removed.stderr).toBe('');
    expect(removed.stdout).toBe(`${ref}\n`);
    expect(readdirSync(join(store, 'images/blobs/sha256'))).toEqual([]);
  });

  it.skipIf(skip)('images and rmi --prune on the store', () => {
    const listed = launch(['images', '--store', store]);
    expect(listed.stderr).toBe('');
    expect(listed.stdout).toMatch(/^NAME +IMAGE ID +CREATED +SIZE\n/);
    expect(listed.status).toBe(0);
    const pruned = launch(['rmi', '--store', store, '--prune']);
    expect(pruned.stderr).toBe('');
    expect(pruned.status).toBe(0);
    // The tree `run --image` unpacked belongs to no stored image: collected.
    expect(readdirSync(join(store, 'rootfs'))).toEqual([]);
  });

  it.skipIf(skip)(mode === 'root' ? 'unshare: refused for root in one line' : 'unshare: runs a command as root of the user namespace', () => {
    const r = launch(['unshare', '--', '/bin/sh', '-c', 'id -u']);
    if (mode === 'root') {
      expect(r.status).toBe(125);
      expect(oneLine(r)).toBe('launch: unshare: unshare is for ordinary users: root owns every id already');
      return;
    }
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0\n');
    expect(r.status).toBe(0);
  });
});
