#!/usr/bin/env node
// Benchmark launch (the single executable dist/launch, and bin/launch on Node) against runc
// and crun, all in one invocation so the ratios compare runtimes under the same machine state.
// See bench/README.md. Scenarios are in scenarios.mjs, the set-up in env.mjs.
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { PATHS, baseOf, deleteLeftovers, findRuntimes, makeModes, makeTmp, nodeDir, removeTmp, setUpMode,
  startCrunNamespace } from './env.mjs';
import { RUNNERS, SCENARIOS, VERB_PARTS } from './scenarios.mjs';
import { capture, die, fmt, fmtRatio, lookUpUser, mib, printTable, ratio, stats } from './util.mjs';

const USAGE = `usage: node bench/run.mjs [options]
  --runs N             timed iterations per scenario (default 30)
  --warmup N           untimed iterations first (default 3, at least 1)
  --seq N              containers per sequential batch (default 100)
  --seq-reps N         sequential batches per runtime (default 3)
  --mem-runs N         memory samples per runtime (default 5)
  --only LIST          scenarios, comma-separated: ${SCENARIOS.join(',')} (default all)
  --rootless-user NAME the user for rootless mode when run as root (default $BENCH_USER, else launchtest if it exists)
  --json FILE          also write the raw samples as JSON`;

function parseArgs(argv) {
  const o = { runs: 30, warmup: 3, seq: 100, seqReps: 3, memRuns: 5, only: SCENARIOS, json: null, user: process.env.BENCH_USER || null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : die(`${a} needs a value`));
    const int = () => posInt(next(), a);
    if (a === '--runs') o.runs = int();
    else if (a === '--warmup') o.warmup = Math.max(1, int()); // >= 1: a broken runtime is found there
    else if (a === '--seq') o.seq = int();
    else if (a === '--seq-reps') o.seqReps = int();
    else if (a === '--mem-runs') o.memRuns = int();
    else if (a === '--only') {
      o.only = next().split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of o.only) if (!SCENARIOS.includes(s)) die(`unknown scenario ${s} (known: ${SCENARIOS.join(', ')})`);
    } else if (a === '--json') o.json = next();
    else if (a === '--rootless-user') o.user = next();
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else die(`unknown argument: ${a}\n${USAGE}`);
  }
  return o;
}
function posInt(s, name) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) die(`${name} must be a positive integer, got ${s}`);
  return n;
}


// --- set-up ------------------------------------------------------------------

const opt = parseArgs(process.argv.slice(2));
const isRoot = process.getuid() === 0;
if (!existsSync(PATHS.distMain)) die('dist/ is missing: run `npm run build` first');
if (!existsSync(PATHS.runc)) die(`${PATHS.runc} not found (needed for \`runc spec\` and as the baseline)`);
if (!existsSync(PATHS.busybox)) die(`${PATHS.busybox} not found (the containers' root filesystem)`);
if (!existsSync(PATHS.node)) die(`${PATHS.node} not found: run \`npm install\` (the Node the single executable is built from)`);
// bin/launch hands what its native front does not take to `env node`: the single executable's Node.
process.env.PATH = `${nodeDir()}:${process.env.PATH}`;

let user = null;
if (opt.user) {
  if (!isRoot) die('--rootless-user / BENCH_USER needs root (it uses runuser)');
  if (!(user = lookUpUser(opt.user))) die(`no such user: ${opt.user}`);
} else if (isRoot) user = lookUpUser('launchtest');

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { interrupted = sig; });

const runtimes = findRuntimes();
const crun = runtimes.find((rt) => rt.name === 'crun');
let crunNs = null;
if (!crun.skip) {
  crunNs = await startCrunNamespace();
  if (crunNs.error) { crun.skip = crunNs.error; crunNs = null; }
}
const nodeVersion = capture([PATHS.node, '--version']).stdout.trim();
const modes = makeModes(user);
const tmp = makeTmp();

console.log(`launch bench: runs=${opt.runs} warmup=${opt.warmup} seq=${opt.seq}x${opt.seqReps} mem-runs=${opt.memRuns}; `
  + `scenarios: ${opt.only.join(',')}; modes: ${modes.map((m) => m.name + (m.owner ? ` (as ${m.owner.name})` : '')).join(', ')}`);
console.log(`node: ${PATHS.node} ${nodeVersion} (runs bin/launch and \`node -e 0\`)`);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`load average: ${load()} (${cpus().length} CPUs); other load skews times, interleaving spreads it over every row`);
for (const rt of runtimes) console.log(`  ${rt.name.padEnd(10)} ${rt.bin}${rt.version ? `  (${rt.version})` : ''}${rt.skip ? `  — skipped: ${rt.skip}` : ''}`);
if (isRoot && !user) console.log('rootless mode skipped: no --rootless-user, $BENCH_USER, nor a `launchtest` user');

// --- scenarios ---------------------------------------------------------------

const results = {}; // results[scenario][mode] = scenario output
let code = 0;
try {
  for (const mode of modes) setUpMode(mode, tmp, runtimes, crunNs);
  const ctx = { opt, runtimes: runtimes.filter((rt) => !rt.skip), allRuntimes: runtimes, interrupted: () => !!interrupted, nodeVersion };
  for (const key of SCENARIOS.filter((s) => opt.only.includes(s))) {
    for (const mode of modes) {
      if (interrupted) break;
      process.stderr.write(`[${mode.name}] ${key}...\n`);
      const out = await RUNNERS[key](ctx, mode);
      (results[key] ??= {})[mode.name] = out;
      printTable(out.title, out.header, out.rows, out.notes);
    }
  }
  console.log(`\nload average at the end: ${load()}`);
  if (interrupted) { console.log(`\ninterrupted (${interrupted}): the figures above are partial`); code = 130; }
  printSummary();
  if (opt.json) {
    const strip = (out) => ({ title: out.title, notes: out.notes, results: out.results });
    const json = {
      node: { path: PATHS.node, version: nodeVersion }, options: opt,
      runtimes: runtimes.map(({ name, bin, version, skip }) => ({ name, bin, version, skip })),
      scenarios: Object.fromEntries(Object.entries(results).map(([k, byMode]) =>
        [k, Object.fromEntries(Object.entries(byMode).map(([m, out]) => [m, strip(out)]))])),
    };
    writeFileSync(opt.json, JSON.stringify(json, null, 2));
    console.log(`wrote ${opt.json}`);
  }
} catch (e) {
  console.error(`bench: ${e.stack || e.message}`);
  code = 1;
} finally {
  deleteLeftovers(modes, runtimes);
  crunNs?.kill();
  removeTmp(tmp);
}
process.exit(code);

// --- summary -----------------------------------------------------------------

/** The median of a row, or why there is none. */
function median(key, mode, name, field = 'samples') {
  const rt = runtimes.find((r) => r.name === baseOf(name));
  if (rt?.skip) return { why: `${name} skipped: ${rt.skip}` };
  if (results[key]?.[mode]?.skipped) return { why: `${key} skipped: ${results[key][mode].skipped}` };
  const r = results[key]?.[mode]?.results?.[name];
  if (!r) return { why: `${name}: no ${key} results` };
  if (r.skipped) return { why: `${name} failed: ${r.skipped}` };
  const m = stats(field.startsWith('parts.') ? (r.parts[field.slice(6)] ?? []) : r[field]).median;
  return Number.isFinite(m) ? { v: m } : { why: `${name}: no successful runs` };
}

/** `vs b 1.23x` (a's median over b's) for the listed bases, or n/a and why. */
function ratios(key, mode, a, bases, field) {
  const x = median(key, mode, a, field);
  if (x.why) return `n/a (${short(x.why)})`;
  return bases.map((b) => {
    const y = median(key, mode, b, field);
    return `vs ${b} ${y.why ? `n/a (${short(y.why)})` : fmtRatio(ratio(x.v, y.v))}`;
  }).join(', ');
}
function short(s) { return s.length > 110 ? `${s.slice(0, 107)}...` : s; }
function ms(x) { return x.why ? '-' : `${fmt(x.v)} ms`; }

function printSummary() {
  const lines = [];
  const launches = ['launch-bin', 'launch'];
  // run and cycle measure launch with its compiled-bundle cache removed and left in place.
  const cached = launches.flatMap((l) => [`${l} (cold)`, `${l} (warm)`]);
  // crun's ratio only when crun is there at all (a crun that failed one scenario says why).
  const withCrun = (bases) => (crun.skip ? bases : [bases[0], 'crun', ...bases.slice(1)]);
  // Rootless first: the acceptance figures are about rootless runs.
  const modeNames = modes.map((m) => m.name).sort((a, b) => (a === b ? 0 : a === 'rootless' ? -1 : 1));
  const each = (key, label, fn, rows = launches) => {
    for (const m of modeNames) {
      if (!results[key]?.[m]) continue;
      for (const l of rows) lines.push(`${`${label} [${m}]`.padEnd(30)} ${`${l}:`.padEnd(19)} ${fn(m, l)}`);
    }
  };
  /** `(x ms; runc y ms, crun z ms, ...)` for the bases that have a median. */
  const times = (key, m, x, bases) => `(${ms(x)}; ${bases.map((b) => `${b} ${ms(median(key, m, b))}`).join(', ')})`;
  each('run', 'run /bin/true', (m, l) => {
    const bases = withCrun(['runc', 'node -e 0']);
    let line = ratios('run', m, l, bases);
    const x = median('run', m, l);
    if (!x.why) line += `  ${times('run', m, x, bases)}`;
    const ru = median('run', m, 'runuser only'), r = median('run', m, 'runc'), n = median('run', m, 'node -e 0');
    if (!x.why && !ru.why && !r.why && !n.why) {
      line += `; minus runuser's ${ms(ru)}: ${fmtRatio(ratio(x.v - ru.v, r.v - ru.v))} runc, ${fmtRatio(ratio(x.v - ru.v, n.v - ru.v))} node -e 0`;
    }
    return line;
  }, cached);
  each('cycle', 'create→start→delete', (m, l) => {
    const bases = withCrun(['runc']);
    const x = median('cycle', m, l);
    return ratios('cycle', m, l, bases) + (x.why ? '' : `  ${times('cycle', m, x, bases)}`);
  }, cached);
  for (const verb of VERB_PARTS) {
    each('verbs', `${verb === 'state?' ? 'state (missing id)' : verb}`, (m, l) => {
      const x = median('verbs', m, l, `parts.${verb}`);
      return ratios('verbs', m, l, withCrun(['runc']), `parts.${verb}`) + (x.why ? '' : `  (${ms(x)}; runc ${ms(median('verbs', m, 'runc', `parts.${verb}`))})`);
    });
  }
  each('mem', 'resident memory', (m, l) => {
    const x = median('mem', m, l, 'rss'), p = median('mem', m, l, 'peak');
    const r = median('mem', m, 'runc', 'rss'), rp = median('mem', m, 'runc', 'peak');
    if (x.why) return `n/a (${short(x.why)})`;
    return `${fmt(mib(x.v), 2)} MiB steady (goal < 2 MiB: ${mib(x.v) < 2 ? 'met' : 'missed'}), ${fmt(mib(p.v), 2)} MiB peak; `
      + `${ratios('mem', m, l, ['runc'], 'rss')} steady, ${fmtRatio(ratio(p.v, rp.v))} peak`
      + (r.why ? '' : `  (runc ${fmt(mib(r.v), 2)} / ${fmt(mib(rp.v), 2)} MiB)`);
  });
  each('podman', 'podman run --rm', (m, l) => ratios('podman', m, l, ['runc']));
  each('ctr', 'ctr run --rm', (m, l) => ratios('ctr', m, l, ['runc']));
  each('exec', 'exec', (m, l) => ratios('exec', m, l, ['runc']));
  each('seq', `${opt.seq} runs in a row`, (m, l) => ratios('seq', m, l, ['runc']));
  if (lines.length) {
    console.log('\n== summary (ratios of medians) ==');
    for (const l of lines) console.log(l);
  }
}
