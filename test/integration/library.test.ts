// launch as a library (lib/index.ts): a project of its own that has launch in node_modules
// imports it BY NAME, so Node resolves it through package.json `exports` and TypeScript
// through its `types`, and runs real containers through the API — create, start, state,
// kill, delete, run, unpack — as root and as an ordinary user. The package is linked as
// `npm link` (or a `file:` dependency) links it: a symlink to this checkout.
//
// Checked to fail: without `exports` (and no `main`) the import of 'launch' is not found;
// without the emitted declarations (tsconfig `declaration`) tsc says it has no declaration
// file for 'launch' (TS7016). (TypeScript would find dist/index.d.ts next to the exported
// dist/index.js even without the `types` condition; that is there for other resolvers.)
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPlatform } from '../../lib/image/platform.js';
import { cleanupBaseInUserns, makeBundle, ownedDir, testBase } from '../helpers/bundle.js';
import { type RunAs, eachMode, missing, runAs } from '../helpers/env.js';
import { writeImage, writeLayout } from '../helpers/image.js';
import { rawTar, writeLayeredImage } from '../helpers/layered-image.js';
import { BINARY, SLOW, spawnOptions, stateRoot } from '../helpers/launch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const notHere = BINARY ? 'the package, not the single executable (LAUNCH_BINARY)' : undefined;

// The rootless unpack leaves files of subordinate ids (the image's uid 1234).
afterAll(() => cleanupBaseInUserns(!BINARY));

/** A project directory owned by `who` with launch linked in as node_modules/launch. */
function project(who: RunAs, name: string): string {
  const dir = ownedDir(who, name);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { launch: `file:${ROOT}` } }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules/launch'));
  return dir;
}

/** Run `script` (an ES module) in `dir` as `who`; its last stdout line is its JSON result. */
function runScript(who: RunAs, dir: string, script: string, args: string[]) {
  writeFileSync(join(dir, 'main.mjs'), script);
  const r = spawnSync(process.execPath, [join(dir, 'main.mjs'), ...args], {
    ...spawnOptions(who, { cwd: dir }),
    encoding: 'utf8',
    timeout: 120_000 * SLOW,
  });
  const lines = (r.stdout ?? '').trimEnd().split('\n');
  let result: Record<string, unknown> | undefined;
  try {
    result = JSON.parse(lines.at(-1) ?? '');
  } catch {
    result = undefined;
  }
  return { status: r.status, stderr: r.stderr ?? '', output: lines.slice(0, -1).join('\n'), result };
}

// One container through its whole lifecycle, one foreground run, and the errors a caller gets.
const LIFECYCLE = `
import * as launch from 'launch';
import { LaunchError, create, deleteContainer, formatError, kill, list, loadConfig, run, start, state, validateConfig } from 'launch';

const [sleeper, exiter, root, id] = process.argv.slice(2);
const seen = [];
const status = async () => (await state({ id, root })).status;

await create({ id, bundle: sleeper, root });
seen.push(await status());
const listed = (await list({ root })).map((c) => c.id);
await start({ id, root });
seen.push(await status());
await kill({ id, root, signal: 'KILL' });
for (let i = 0; i < 500 && (await status()) !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 10));
seen.push(await status());
await launch.delete({ id, root });

const errors = {};
for (const [name, fn] of Object.entries({
  gone: () => state({ id, root }),
  start: () => start({ id, root }),
  config: () => validateConfig({ ociVersion: '1.2.0', root: { path: 7 } }, '/b/config.json'),
})) {
  try {
    await fn();
    errors[name] = 'no error';
  } catch (err) {
    errors[name] = err instanceof LaunchError ? { kind: err.kind, configPath: err.configPath, line: formatError(err) } : String(err);
  }
}
await deleteContainer({ id, root, force: true }); // gone already: no error with force

// Failing poststart and poststop hooks are warnings: to the caller's callback, not its stderr,
// from run and, for a created container, from start and deleteContainer, which run them there.
const failing = { poststart: [{ path: '/bin/false' }], poststop: [{ path: '/bin/false' }] };
const config = await loadConfig(exiter);
config.hooks = failing;
const warned = { run: [], start: [], delete: [] };
const code = await run({ id: id + '-fg', bundle: exiter, root, config, warn: (line) => warned.run.push(line) });
const detached = await loadConfig(sleeper);
detached.hooks = failing;
await create({ id: id + '-hooks', bundle: sleeper, root, config: detached });
await start({ id: id + '-hooks', root, warn: (line) => warned.start.push(line) });
await deleteContainer({ id: id + '-hooks', root, force: true, warn: (line) => warned.delete.push(line) });
const left = (await list({ root })).map((c) => c.id);
console.log(JSON.stringify({ seen, listed, errors, code, left, warned }));
`;

// A rootfs from an image (a user namespace with the subordinate ids, rootless), then run.
const UNPACK = `
import { loadConfig, run, unpack } from 'launch';

const [image, bundle, store, root, id] = process.argv.slice(2);
await unpack({ image, bundle, store });
const config = await loadConfig(bundle);
config.process.args = ['/bin/sh', '-c', 'cat /etc/hello.txt; stat -c %u /data/owned-by-1234'];
const code = await run({ id, bundle, root, config });
console.log(JSON.stringify({ code }));
`;

// An unpack's notes (aufs metadata skipped), to the caller's callback, not its stderr: rootless
// they come from the helper, whose stderr is this program's own.
const NOTES = `
import { unpack } from 'launch';

const [image, bundle, store] = process.argv.slice(2);
const notes = [];
await unpack({ image, bundle, store, note: (msg) => notes.push(msg) });
console.log(JSON.stringify({ notes }));
`;

// What a TypeScript program sees: the declarations, strictly checked (lib checks included).
const TYPED = `
import { create, deleteContainer, kill, run, start, state, LaunchError, type OciState, type Spec, loadConfig, pull } from 'launch';

export async function demo(bundle: string): Promise<number> {
  await create({ id: 'a', bundle });
  await start({ id: 'a' });
  const s: OciState = await state({ id: 'a' });
  const status: 'creating' | 'created' | 'running' | 'paused' | 'stopped' = s.status;
  await kill({ id: 'a', signal: 'TERM', all: true });
  await deleteContainer({ id: 'a', force: true });
  const spec: Spec = await loadConfig(bundle);
  const args: string[] | undefined = spec.process?.args;
  const pulled: { name: string; configDigest: string } = await pull({ ref: 'busybox' });
  // @ts-expect-error: a container is named by its id
  await start({ root: '/run/launch' });
  // @ts-expect-error: the exit status is a number
  const wrong: string = await run({ id: 'b', bundle });
  const code: number = await run({ id: 'b', bundle, keep: true });
  try {
    await start({ id: 'c' });
  } catch (err) {
    if (err instanceof LaunchError) return err.exitCode + (err.errno ?? 0);
  }
  return code + status.length + (args?.length ?? 0) + pulled.name.length + wrong.length;
}
`;

describe('launch by name from another project', () => {
  const skip = notHere ?? missing('dist');

  it.skipIf(skip)('resolves through exports: the root only, not files inside the package', () => {
    const dir = project(runAs('root') ?? runAs('rootless')!, 'lib-resolve');
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import('launch'); console.log(Object.keys(m).sort().join(' '));
         await import('launch/dist/cli/main.js').catch((e) => console.log(e.code));`,
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    const [names, deep] = r.stdout.trim().split('\n');
    for (const name of ['create', 'start', 'state', 'kill', 'delete', 'deleteContainer', 'run', 'list', 'pull', 'unpack', 'loadConfig', 'validateConfig', 'LaunchError', 'formatError']) {
      expect(names!.split(' ')).toContain(name);
    }
    expect(deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it.skipIf(skip)('type-checks against the emitted declarations (tsc, strict)', () => {
    const dir = project(runAs('root') ?? runAs('rootless')!, 'lib-types');
    writeFileSync(join(dir, 'main.ts'), TYPED);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false,
          types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['main.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

eachMode('a container through the library', ['busybox', 'dist', 'addon'], (mode, baseSkip) => {
  const skip = notHere ?? baseSkip;
  const who = () => runAs(mode)!;

  const failed = (hook: string) => `launch: warning: hooks.${hook}[0]: hook \`/bin/false\` exited with status 1`;

  it.skipIf(skip)('create, state, start, kill, delete and a foreground run with its exit status and warnings', () => {
    const dir = project(who(), 'lib-life');
    const sleeper = makeBundle(who(), { args: ['/bin/sleep', '1000'] });
    const exiter = makeBundle(who(), { args: ['/bin/sh', '-c', 'echo hello from the container; exit 7'] });
    const root = stateRoot(who());
    const id = `lib-${mode}-${process.pid}`;
    const r = runScript(who(), dir, LIFECYCLE, [sleeper, exiter, root, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.output).toBe('hello from the container');
    expect(r.result).toEqual({
      seen: ['created', 'running', 'stopped'],
      listed: [id],
      errors: {
        gone: { kind: 'state', line: `launch: state ${id}: container \`${id}\` does not exist \`${root}/${id}/state.json\`` },
        start: { kind: 'state', line: `launch: start ${id}: container \`${id}\` does not exist \`${root}/${id}\`` },
        config: { kind: 'spec', configPath: 'root.path', line: expect.stringMatching(/^launch: root\.path: .* `\/b\/config\.json`$/) },
      },
      code: 7,
      left: [],
      warned: {
        run: [failed('poststart'), failed('poststop')],
        start: [failed('poststart')],
        delete: [failed('poststop')],
      },
    });
  });
});

eachMode('an image through the library', ['busybox', 'dist', 'addon', 'newuidmap'], (mode, baseSkip) => {
  const skip = notHere ?? baseSkip;
  const who = () => runAs(mode)!;
  let image: string;
  let aufs: string;

  beforeAll(async () => {
    if (skip) return;
    const made = await writeLayeredImage(join(testBase(), `lib-image-${mode}`), { zstd: false });
    image = `oci:${made.layout}:${made.tag}`;
    const layout = join(testBase(), `lib-aufs-${mode}`);
    const layer = rawTar([{ path: 'etc', type: 'dir' }, { path: '.wh..wh.aufs', type: 'file' }]);
    writeLayout(layout, [{ desc: writeImage(layout, { layers: [layer], architecture: hostPlatform().architecture }), tag: 'aufs' }]);
    aufs = `oci:${layout}:aufs`;
  }, 120_000);

  it.skipIf(skip)('unpack into a bundle (rootless: in a user namespace, by the library\'s own helper), then run it', () => {
    const dir = project(who(), 'lib-unpack');
    const bundle = join(ownedDir(who(), 'lib-bundle'), 'bundle');
    const store = join(ownedDir(who(), 'lib-store'), 'store');
    const r = runScript(who(), dir, UNPACK, [image, bundle, store, stateRoot(who()), `lib-img-${mode}-${process.pid}`]);
    expect(r.stderr).toBe('');
    expect(r.result).toEqual({ code: 0 });
    // The file the image gives to uid 1234 is 1234's in the container, rootless too.
    expect(r.output.split('\n').at(-1)).toBe('1234');
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('unpack gives its notes to the note callback, the rootless helper\'s too, and none to stderr', () => {
    const dir = project(who(), 'lib-notes');
    const bundle = join(ownedDir(who(), 'lib-notes-bundle'), 'bundle');
    const store = join(ownedDir(who(), 'lib-notes-store'), 'store');
    const r = runScript(who(), dir, NOTES, [aufs, bundle, store]);
    expect(r.stderr).toBe('');
    expect(r.result).toEqual({ notes: [expect.stringMatching(/skipped aufs metadata `\.wh\.\.wh\.aufs`$/)] });
    expect(r.status).toBe(0);
  });
});
