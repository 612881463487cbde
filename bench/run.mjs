#!/usr/bin/env node
// Benchmark: `launch run` of /bin/true vs `runc run` and `crun run`, all in the
// same invocation, so the ratios compare runtimes under identical machine state.
//   node bench/run.mjs [--runs N] [--warmup N] [--json FILE] [--rootless-user NAME]
// As root: benchmarks root mode, plus rootless mode (via `runuser -u NAME --`)
// when --rootless-user or $BENCH_USER is given. As non-root: rootless only.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, copyFileSync, symlinkSync, readFileSync,
  writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAUNCH = fileURLToPath(new URL('../bin/launch', import.meta.url));
const DIST_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNTIMES = { launch: LAUNCH, runc: '/usr/sbin/runc', crun: '/usr/bin/crun' };

function parseArgs(argv) {
  const o = { runs: 30, warmup: 3, json: null, user: process.env.BENCH_USER || null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], next = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') o.runs = posInt(next(), a);
    else if (a === '--warmup') o.warmup = Math.max(1, posInt(next(), a)); // need >=1 to detect broken runtimes
    else if (a === '--json') o.json = next();
    else if (a === '--rootless-user') o.user = next();
    else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/run.mjs [--runs N=30] [--warmup N=3] [--json FILE] [--rootless-user NAME]');
      process.exit(0);
    } else die(`unknown argument: ${a}`);
  }
  return o;
}
function posInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) die(`${name} must be a positive integer, got ${s}`);
  return n;
}
function die(msg, code = 2) { console.error(`bench: ${msg}`); process.exit(code); }

// Run synchronously; `prefix` is [] or ['runuser','-u',USER,'--'].
function sh(prefix, cmd, args, opts = {}) {
  const argv = [...prefix, cmd, ...args];
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
}
function lastLine(r) {
  if (r.error) return r.error.message;
  const lines = `${r.stderr || ''}\n${r.stdout || ''}`.trim().split('\n').filter(Boolean);
  return lines.length ? lines[lines.length - 1] : `exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
}
function stderrLast(r) {
  // Prefer stderr (the runtime's error); fall back to the general description.
  const e = (r.stderr || '').trim().split('\n').filter(Boolean);
  return e.length ? e[e.length - 1] : lastLine(r);
}

function stats(xs) {
  if (!xs.length) return { median: NaN, p90: NaN, min: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; // nearest-rank
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { median, p90: q(0.9), min: s[0] };
}

// --- setup ---------------------------------------------------------------
const opt = parseArgs(process.argv.slice(2));
if (!existsSync(DIST_MAIN)) die('dist/ is missing: run `npm run build` first', 2);
if (!existsSync(RUNTIMES.runc)) die(`${RUNTIMES.runc} not found (needed for \`runc spec\`)`, 2);
const isRoot = process.getuid() === 0;
if (opt.user && !isRoot) die('--rootless-user / BENCH_USER needs root (it uses runuser)');
let uid = null, gid = null;
if (opt.user) {
  const r = spawnSync('id', ['-u', opt.user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', opt.user], { encoding: 'utf8' });
  if (r.status !== 0) die(`no such user: ${opt.user}`);
  uid = Number(r.stdout.trim()); gid = Number(g.stdout.trim());
}

// Each mode: a prefix to run commands with, and whether the bundle is rootless.
const modes = [];
if (isRoot) modes.push({ name: 'root', prefix: [], rootless: false });
if (isRoot && opt.user) modes.push({ name: 'rootless', prefix: ['runuser', '-u', opt.user, '--'], rootless: true, chown: true });
if (!isRoot) modes.push({ name: 'rootless', prefix: [], rootless: true });

const tmp = mkdtempSync(join(tmpdir(), 'launch-bench-'));
let interrupted = false;
const onSignal = (sig) => { interrupted = sig; };
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

function makeBundle(mode) {
  const dir = join(tmp, mode.name);
  const rootfs = join(dir, 'bundle', 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const l of ['true', 'sh']) symlinkSync('busybox', join(rootfs, 'bin', l));
  mode.bundle = join(dir, 'bundle');
  mode.roots = {};
  for (const rt of Object.keys(RUNTIMES)) mkdirSync(mode.roots[rt] = join(dir, `state-${rt}`));
  // The rootless user must own its bundle and --root dirs (and reach them: tmp is 0700).
  if (mode.chown) {
    spawnSync('chown', ['-R', `${uid}:${gid}`, dir]);
    spawnSync('chmod', ['755', tmp]);
  }
  // `runc spec --rootless` must run as the target user: it maps that user's uid/gid.
  const r = sh(mode.prefix, RUNTIMES.runc, ['spec', ...(mode.rootless ? ['--rootless'] : [])], { cwd: mode.bundle });
  if (r.status !== 0) throw new Error(`runc spec failed: ${stderrLast(r)}`);
  const cfgPath = join(mode.bundle, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.process.terminal = false;
  cfg.process.args = ['/bin/true'];
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
}

// Commands per mode. References share the prefix so their costs are comparable:
// `env node -e 0` resolves node exactly like bin/launch's `#!/usr/bin/env node`.
function commands(mode, i) {
  const c = {};
  for (const [rt, bin] of Object.entries(RUNTIMES)) {
    c[rt] = [bin, ['--root', mode.roots[rt], 'run', '--bundle', mode.bundle, `bench-${rt}-${i}`]];
  }
  c['node -e 0'] = ['/usr/bin/env', ['node', '-e', '0']];
  if (mode.prefix.length) c['runuser only'] = ['/bin/true', []];
  for (const k of Object.keys(mode.skip)) delete c[k];
  return c;
}

function timeOne(mode, cmd, args, capture) {
  const t0 = process.hrtime.bigint();
  const r = sh(mode.prefix, cmd, args, { stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'ignore' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, ok: !r.error && r.status === 0, r };
}
const tick = () => new Promise((res) => setImmediate(res)); // lets SIGINT handlers run

async function benchMode(mode) {
  mode.skip = {}; mode.results = {};
  // Warm-up: the first failure of a runtime skips it (e.g. crun on cgroup v1 hybrid).
  for (let w = 0; w < opt.warmup && !interrupted; w++) {
    for (const [name, [cmd, args]] of Object.entries(commands(mode, `w${w}`))) {
      const t = timeOne(mode, cmd, args, true);
      await tick();
      if (interrupted) return;
      if (!t.ok && w === 0) {
        console.log(`[${mode.name}] skipping ${name}: ${stderrLast(t.r)}`);
        mode.skip[name] = true;
      }
    }
  }
  // Timed runs, interleaved per iteration so drift hits every runtime alike.
  for (let i = 0; i < opt.runs && !interrupted; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands(mode, i))) {
      const res = (mode.results[name] ??= { times: [], failures: 0, lastError: null });
      const t = timeOne(mode, cmd, args, false);
      await tick(); // the signal handler only runs here, after the child is gone
      if (interrupted) break; // Ctrl-C hit the child too: don't count it as a failure
      if (t.ok) res.times.push(t.ms);
      else { res.failures++; res.lastError = t.r.error?.message ?? `exit ${t.r.status ?? t.r.signal}`; }
    }
  }
}

function report(mode) {
  const base = stats(mode.results.runc?.times ?? []).median;
  const rows = [['runtime', 'median ms', 'p90 ms', 'min ms', 'runs', 'failures', 'ratio to runc']];
  for (const [name, res] of Object.entries(mode.results)) {
    const s = (res.stats = stats(res.times));
    const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
    rows.push([name, f(s.median), f(s.p90), f(s.min), String(res.times.length), String(res.failures),
      Number.isFinite(base) && Number.isFinite(s.median) ? `${(s.median / base).toFixed(2)}x` : '-']);
  }
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(`\n== ${mode.name} mode${mode.prefix.length ? ` (each command via: ${mode.prefix.join(' ')})` : ''} ==`);
  for (const r of rows) console.log(r.map((x, c) => (c ? x.padStart(w[c]) : x.padEnd(w[c]))).join('  '));
  if (mode.prefix.length) console.log('note: runuser\'s own cost (row "runuser only") is included in every row equally; ratios are not adjusted for it.');
  for (const [name, res] of Object.entries(mode.results)) if (res.failures) console.log(`note: ${name} failed ${res.failures}x (last: ${res.lastError})`);
}

function summary(mode) {
  const l = mode.results.launch?.stats, r = mode.results.runc?.stats;
  if (!l || !r || !Number.isFinite(l.median) || !Number.isFinite(r.median)) {
    return `${mode.name}: launch/runc = n/a (${!l || !Number.isFinite(l.median) ? 'launch' : 'runc'} has no successful runs)`;
  }
  let line = `${mode.name}: launch/runc = ${(l.median / r.median).toFixed(2)}x (median ${l.median.toFixed(1)} ms vs ${r.median.toFixed(1)} ms)`;
  const ru = mode.results['runuser only']?.stats;
  if (ru && Number.isFinite(ru.median) && r.median > ru.median) {
    line += `; minus runuser overhead (${ru.median.toFixed(1)} ms): ${((l.median - ru.median) / (r.median - ru.median)).toFixed(2)}x`;
  }
  return line;
}

// Leftover containers (from failed or interrupted runs), then temp dirs.
function cleanup() {
  for (const mode of modes) {
    if (!mode.roots) continue;
    for (const rt of ['runc', 'crun']) {
      const l = sh(mode.prefix, RUNTIMES[rt], ['--root', mode.roots[rt], 'list', '-q']);
      for (const id of (l.stdout || '').split('\n').filter(Boolean)) {
        sh(mode.prefix, RUNTIMES[rt], ['--root', mode.roots[rt], 'delete', '-f', id]);
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}

// --- main ------------------------------------------------------------------
let code = 0;
try {
  const nodeOnPath = spawnSync('/usr/bin/env', ['node', '-p', 'process.execPath + " " + process.version'], { encoding: 'utf8' });
  console.log(`bench node: ${process.execPath} ${process.version}; node on PATH (runs bin/launch): ${nodeOnPath.stdout.trim() || 'not found'}`);
  console.log(`runs=${opt.runs} warmup=${opt.warmup}; runtimes: ${Object.entries(RUNTIMES).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  for (const rt of Object.keys(RUNTIMES)) {
    const v = spawnSync(RUNTIMES[rt], ['--version'], { encoding: 'utf8' });
    if (rt !== 'launch') console.log(`  ${rt}: ${(v.stdout || v.error?.message || '').split('\n')[0]}`);
  }
  for (const mode of modes) {
    if (interrupted) break;
    makeBundle(mode);
    if (mode.prefix.length) {
      const p = sh(mode.prefix, '/usr/bin/env', ['node', '-p', 'process.execPath + " " + process.version']);
      console.log(`[${mode.name}] node on PATH for ${opt.user}: ${p.stdout?.trim() || stderrLast(p)}`);
    }
    await benchMode(mode);
  }
  if (interrupted) { console.log(`\ninterrupted (${interrupted}); partial results follow`); code = 130; }
  for (const mode of modes) if (mode.results) report(mode);
  console.log('');
  for (const mode of modes) if (mode.results) console.log(summary(mode));
  if (opt.json) {
    const out = { node: { execPath: process.execPath, version: process.version, onPath: nodeOnPath.stdout.trim() },
      runs: opt.runs, warmup: opt.warmup, modes: {} };
    for (const m of modes) if (m.results) out.modes[m.name] = { skipped: Object.keys(m.skip), results: m.results };
    writeFileSync(opt.json, JSON.stringify(out, null, 2));
    console.log(`wrote ${opt.json}`);
  }
} catch (e) {
  console.error(`bench: ${e.message}`);
  code = 1;
} finally {
  cleanup();
}
process.exit(code);
