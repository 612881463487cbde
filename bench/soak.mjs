#!/usr/bin/env node
// Soak test (issue 6): many `run`s of /bin/true in a row, many at once, and many with launch
// itself SIGKILLed during its set-up, as root and rootless; after each phase, whatever the
// runs left behind (state directories, mounts, cgroups, processes, temp files) is a leak.
// Not part of the quick suite: `npm run soak -- [options]`. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync,
  statSync, unlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PATHS, makeModes, nodeDir, removeTmp, setUpMode } from './env.mjs';
import { capture, die, fmt, lookUpUser, printTable, sleep, stats } from './util.mjs';

const BASE = { seq: 1000, concurrent: 50, killed: 100 };
const PHASES = ['seq', 'concurrent', 'killed', 'rerun'];

const USAGE = `usage: node bench/soak.mjs [options]   (npm run soak -- [options])
  --launch PATH        the launch to soak (default dist/launch, else bin/launch)
  --scale F            multiply the counts (${BASE.seq} sequential, ${BASE.concurrent} concurrent, ${BASE.killed} killed; default 1)
  --mode M             root, rootless or both (default both; rootless only when not root)
  --rootless-user NAME the user for rootless mode as root (default $BENCH_USER, else launchtest)
  --seq N --concurrent N --killed N   set one count directly (overrides --scale)
  --settle MS          how long leftovers may take to go away before they count (default 2000)
  --keep               leave the temp dir (bundles, state roots) for inspection`;

function parseArgs(argv) {
  const o = { launch: null, scale: 1, mode: 'both', user: process.env.BENCH_USER || null, counts: {}, settle: 2000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : die(`${a} needs a value`));
    if (a === '--launch') o.launch = resolve(next());
    else if (a === '--scale') {
      o.scale = Number(next());
      if (!(o.scale > 0)) die(`--scale must be a positive number, got ${argv[i]}`);
    } else if (a === '--mode') {
      o.mode = next();
      if (!['root', 'rootless', 'both'].includes(o.mode)) die(`--mode must be root, rootless or both, got ${o.mode}`);
    } else if (a === '--rootless-user') o.user = next();
    else if (a === '--seq' || a === '--concurrent' || a === '--killed') {
      const n = Number(next());
      if (!Number.isInteger(n) || n < 0) die(`${a} must be a non-negative integer, got ${argv[i]}`);
      o.counts[a.slice(2)] = n;
    } else if (a === '--settle') o.settle = Number(next());
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else die(`unknown argument: ${a}\n${USAGE}`);
  }
  for (const k of Object.keys(BASE)) o.counts[k] ??= Math.max(1, Math.round(BASE[k] * o.scale));
  return o;
}


// --- set-up ------------------------------------------------------------------

const opt = parseArgs(process.argv.slice(2));
const isRoot = process.getuid() === 0;
if (!opt.launch) opt.launch = existsSync(PATHS.launchBin) ? PATHS.launchBin : PATHS.launch;
if (!existsSync(opt.launch)) die(`${opt.launch} not found`);
if (!existsSync(PATHS.runc)) die(`${PATHS.runc} not found (needed for \`runc spec\`)`);
if (!existsSync(PATHS.busybox)) die(`${PATHS.busybox} not found (the containers' root filesystem)`);
// bin/launch hands what its native front does not take to `env node`: the pinned Node (runuser keeps PATH).
process.env.PATH = `${nodeDir()}:${process.env.PATH}`;

let user = null;
if (isRoot && opt.mode !== 'root') {
  user = lookUpUser(opt.user ?? 'launchtest');
  if (!user) die(`rootless mode needs a user: no such user ${opt.user ?? 'launchtest'} (--rootless-user)`);
}
if (!isRoot && opt.mode === 'root') die('--mode root needs root');
const modes = makeModes(user).filter((m) => opt.mode === 'both' || m.name === opt.mode);

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { interrupted = sig; });

// Every id carries MARK, so everything of ours is found by name (ids, cmdlines, cgroups)
// among the other work of the machine, and only that is looked at or cleaned.
const MARK = `soak${process.pid}-`;
const tmp = mkdtempSync(join(tmpdir(), 'launch-soak-'));
chmodSync(tmp, 0o755); // the rootless user reaches its bundles through it
const errDir = join(tmp, 'stderr');
mkdirSync(errDir); // the soak's own: it opens the runs' stderr files itself

const rt = [{ name: 'launch', bin: opt.launch }];
const started = Date.now();
console.log(`launch soak: ${opt.launch}; seq=${opt.counts.seq} concurrent=${opt.counts.concurrent} killed=${opt.counts.killed} (scale ${opt.scale}); `
  + `modes: ${modes.map((m) => m.name + (m.owner ? ` (as ${m.owner.name})` : '')).join(', ')}`);
console.log(`load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (${cpus().length} CPUs); ids: ${MARK}<mode>-<phase>-<n>; temp dir: ${tmp}`);

// --- running one launch --------------------------------------------------------

let errSeq = 0;
/** Start argv with stdin/stdout on /dev/null and stderr to a file of its own; `done` resolves
 * with { ms, code, signal, stderr }. */
function start(argv) {
  const errFile = join(errDir, `e${errSeq++}`);
  const fd = openSync(errFile, 'w');
  const t0 = process.hrtime.bigint();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  const done = new Promise((res) => {
    const finish = (code, signal, spawnError) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let stderr = '';
      try { stderr = readFileSync(errFile, 'utf8'); } catch { /* none */ }
      try { unlinkSync(errFile); } catch { /* left in tmp, removed at the end */ }
      res({ ms, code, signal, stderr: spawnError ? spawnError.message : stderr });
    };
    child.on('exit', (code, signal) => finish(code, signal));
    child.on('error', (e) => finish(null, null, e));
  });
  return { child, t0, done };
}

/** One line saying why a run failed: the last line of its stderr (skipping stack frames),
 * with ids and the temp dir replaced so equal errors count as one. */
function errorLine(r) {
  const lines = r.stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/^at /.test(l));
  const line = lines.length ? lines[lines.length - 1] : `exit status ${r.code ?? ''}${r.signal ? ` (${r.signal})` : ''}`.trim();
  return normalise(line);
}
const normalise = (s) => s.split(tmp).join('$TMP').replace(new RegExp(`${MARK}[a-z]+-[a-z]+-\\d+`, 'g'), '$ID');

function runArgv(mode, id) { return mode.argv('launch', 'run', '--bundle', mode.bundle('true', 'launch'), id); }
const idOf = (mode, phase, n) => `${MARK}${mode.name}-${phase}-${n}`;

function newPhase(mode, phase) {
  return { mode: mode.name, phase, runs: 0, ok: 0, failed: 0, times: [], errors: new Map(), killed: 0, finished: 0,
    deleteFailed: 0, failedIds: [], stages: new Map(), leaks: [], notes: [], wallMs: 0 };
}
function count(res, r, id, before) {
  res.runs++;
  if (r.code === 0) { res.ok++; res.times.push(r.ms); return; }
  res.failed++;
  const line = errorLine(r);
  res.errors.set(line, (res.errors.get(line) ?? 0) + 1);
  if (res.failedIds.length < 10) res.failedIds.push(`${id}${before ? ` (before the run: ${before})` : ''}: ${line}`);
}

// --- what is there (the leak check) -----------------------------------------------

const CG = '/sys/fs/cgroup';
/** Directories under /sys/fs/cgroup/<hierarchy>/ whose name carries `needle` (ours only). */
function cgroupDirs(needle = MARK) {
  const out = [];
  const walk = (dir, depth) => {
    let ents;
    try { ents = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name.includes(needle)) out.push(p);
      if (depth < 10) walk(p, depth + 1);
    }
  };
  let hier = [];
  try { hier = readdirSync(CG); } catch { /* no cgroupfs */ }
  for (const h of hier) walk(join(CG, h), 0);
  return out.sort();
}

/** The busybox copies in our root filesystems: a process running one is a container of ours. */
const busyboxIds = () => new Set(modes.map((m) => { try { const s = statSync(join(m.dir, 'rootfs', 'bin', 'busybox')); return `${s.dev}:${s.ino}`; } catch { return ''; } }));
let ourExes = new Set();

function readOr(path, dflt = '') { try { return readFileSync(path, 'utf8'); } catch { return dflt; } }

/** Processes of ours: a cmdline naming one of our ids or the temp dir (launch, the monitor,
 * a container's init before its exec), a cgroup named after one of our ids, or an executable
 * that is one of our busyboxes (a container's process). `needle` narrows to one id. */
function ourProcesses(needle = MARK) {
  const out = [];
  // One id: as a whole word or path component (…-killed-1 is not …-killed-10).
  const re = new RegExp(`(^|[\\s/])${needle.replace(/[.+]/g, '\\$&')}($|[\\s/])`, 'm');
  const has = needle === MARK ? (s) => s.includes(MARK) : (s) => re.test(s);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const cmdline = readOr(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    let why = null;
    if (has(cmdline) || (needle === MARK && cmdline.includes(tmp))) why = 'cmdline';
    else if (has(readOr(`/proc/${pid}/cgroup`))) why = 'cgroup';
    else if (needle === MARK) {
      try { const s = statSync(`/proc/${pid}/exe`); if (ourExes.has(`${s.dev}:${s.ino}`)) why = 'exe'; } catch { /* kernel thread, gone */ }
    }
    if (!why) continue;
    const stat = readOr(`/proc/${pid}/stat`);
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid, ppid: Number(after[1]), state: after[0], comm: readOr(`/proc/${pid}/comm`).trim(), cmdline: cmdline.slice(0, 200), why });
  }
  return out;
}

/** Processes named like launch's stages that are not ours: another job's, shown as a note. */
function foreignLaunchProcesses(ours) {
  const mine = new Set(ours.map((p) => p.pid));
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || mine.has(Number(name))) continue;
    const comm = readOr(`/proc/${name}/comm`).trim();
    if (comm.startsWith('launch:')) out.push(`${name} ${comm}`);
  }
  return out;
}

const TEMP_DIRS = ['/tmp', '/var/tmp', '/dev/shm', ...(process.env.XDG_RUNTIME_DIR ? [process.env.XDG_RUNTIME_DIR] : [])];
function listDir(d) { try { return readdirSync(d); } catch { return []; } }
/** Files under dir, relative, recursively (our temp tree minus the state roots and rootfs). */
function listTree(dir, skip) {
  const out = [];
  const walk = (d, rel) => {
    let ents;
    try { ents = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      const p = join(d, e.name);
      if (skip.has(p)) continue;
      out.push(join(rel, e.name));
      if (e.isDirectory()) walk(p, join(rel, e.name));
    }
  };
  walk(dir, '');
  return out;
}

/** Everything the leak check compares. */
function snapshot(mode) {
  const root = mode.roots.launch;
  const procs = ourProcesses();
  return {
    state: listDir(root),
    mounts: readOr('/proc/self/mountinfo').split('\n').filter((l) => l.includes(tmp) || l.includes(MARK)),
    cgroups: cgroupDirs(),
    procs,
    foreign: foreignLaunchProcesses(procs),
    temp: TEMP_DIRS.flatMap((d) => listDir(d).map((n) => join(d, n))).filter((p) => p !== tmp),
    tree: listTree(tmp, new Set([errDir, ...modes.filter((m) => m.dir).flatMap((m) => [m.roots.launch, join(m.dir, 'rootfs')])])),
  };
}

/** What is in `after` and not in `before`, by category. launch makes no named temp files
 * (the carried addon goes into an O_TMPFILE file), so a temp leak is a name with one of our
 * ids, or a new file in our own temp tree. Other new names in the system's temp dirs are
 * shown, not counted: other jobs on the machine make them (launch's own test suite too). */
function diff(before, after) {
  const minus = (a, b, key = (x) => x) => { const s = new Set(b.map(key)); return a.filter((x) => !s.has(key(x))); };
  const newTemp = minus(after.temp, before.temp);
  return {
    state: minus(after.state, before.state),
    mounts: minus(after.mounts, before.mounts),
    cgroups: minus(after.cgroups, before.cgroups),
    procs: minus(after.procs, before.procs, (p) => `${p.pid}/${p.comm}`),
    temp: [...newTemp.filter((p) => p.includes(MARK)), ...minus(after.tree, before.tree).map((p) => join(tmp, p))],
    launchTemp: newTemp.filter((p) => !p.includes(MARK) && /launch/i.test(p.split('/').pop())),
    otherTemp: newTemp.filter((p) => !p.includes(MARK) && !/launch/i.test(p.split('/').pop())),
    foreign: minus(after.foreign, before.foreign),
  };
}
function describeEntry(p) {
  try { const st = statSync(p); return `${p} (uid ${st.uid}, ${st.isDirectory() ? 'dir' : `${st.size} bytes`})`; } catch { return `${p} (gone)`; }
}
const LEAK_KINDS = ['state', 'mounts', 'cgroups', 'procs', 'temp'];
const leakCount = (d) => LEAK_KINDS.reduce((n, k) => n + d[k].length, 0);

/** The leak check after a phase: what is left after up to --settle ms (a process killed by
 * PDEATHSIG, a monitor finishing its teardown, may take a moment). */
async function leakCheck(mode, before, res) {
  const t0 = Date.now();
  let d;
  for (;;) {
    d = diff(before, snapshot(mode));
    if (leakCount(d) === 0 || Date.now() - t0 >= opt.settle) break;
    await sleep(100);
  }
  res.leakDiff = d;
  for (const k of LEAK_KINDS) {
    for (const x of d[k]) res.leaks.push({ kind: k, what: k === 'procs' ? `pid ${x.pid} ppid ${x.ppid} state ${x.state} comm ${x.comm} (${x.why}): ${x.cmdline}` : x });
  }
  if (d.launchTemp.length) res.notes.push(`new launch-like names in ${TEMP_DIRS.join(', ')}, not ours by name (not counted; another job's?): ${d.launchTemp.slice(0, 5).map(describeEntry).join(', ')}`);
  if (d.otherTemp.length) res.notes.push(`${d.otherTemp.length} new entries in ${TEMP_DIRS.join(', ')} not named after launch (other work on the machine): ${d.otherTemp.slice(0, 5).join(', ')}${d.otherTemp.length > 5 ? ', ...' : ''}`);
  if (d.foreign.length) res.notes.push(`launch:* processes of another job (not counted): ${d.foreign.slice(0, 5).join(', ')}`);
}

// --- phases ------------------------------------------------------------------

async function phaseSeq(mode, res) {
  for (let i = 0; i < opt.counts.seq && !interrupted; i++) {
    const id = idOf(mode, 'seq', i);
    count(res, await start(runArgv(mode, id)).done, id);
    if (opt.counts.seq >= 100 && (i + 1) % 100 === 0) process.stderr.write(`  [${mode.name}] seq ${i + 1}/${opt.counts.seq}\n`);
  }
}

async function phaseConcurrent(mode, res) {
  const runs = [];
  for (let i = 0; i < opt.counts.concurrent; i++) runs.push(start(runArgv(mode, idOf(mode, 'concurrent', i))));
  (await Promise.all(runs.map((x) => x.done))).forEach((r, i) => count(res, r, idOf(mode, 'concurrent', i)));
}

/** The launch process of a run: the spawned process as root; rootless, runuser's child once it
 * has exec'd (argv[0] no longer runuser, nor env of bin/launch's #!). */
function launchPid(mode, child) {
  if (!mode.owner) return child.pid;
  for (const t of listDir(`/proc/${child.pid}/task`)) {
    for (const c of readOr(`/proc/${child.pid}/task/${t}/children`).split(' ').filter(Boolean)) {
      const argv0 = readOr(`/proc/${c}/cmdline`).split('\0')[0].split('/').pop();
      if (argv0 && argv0 !== 'runuser' && argv0 !== 'env') return Number(c);
    }
  }
  return null;
}

/** The children of pid, by comm (the container's init shows its stage: launch:[1:init]). */
function childComms(pid) {
  const out = [];
  for (const t of listDir(`/proc/${pid}/task`)) {
    for (const c of readOr(`/proc/${pid}/task/${t}/children`).split(' ').filter(Boolean)) out.push(readOr(`/proc/${c}/comm`).trim() || '?');
  }
  return out;
}

/** What one id has on the host right now. */
function idResidue(mode, id) {
  const dir = join(mode.roots.launch, id);
  const stateFile = join(dir, 'state.json');
  let status = null;
  if (existsSync(stateFile)) { try { status = JSON.parse(readFileSync(stateFile, 'utf8')).status; } catch { status = 'unreadable'; } }
  return {
    stateDir: existsSync(dir) ? listDir(dir) : null,
    status,
    cgroups: cgroupDirs(id).filter((p) => p.endsWith(`/${id}`) || p.includes(`/${id}/`)),
    procs: ourProcesses(id),
  };
}
const residueText = (r) => [r.stateDir ? `state dir [${r.stateDir.join(' ')}]${r.status ? ` (status ${r.status})` : ''}` : 'no state dir',
  `${r.cgroups.length} cgroup dirs${r.cgroups.length ? ` (${r.cgroups.map(cgroupLabel).join(',')})` : ''}`,
  `${r.procs.length} processes${r.procs.length ? ` (${r.procs.map((p) => `${p.pid} ${p.comm} ${p.state}`).join(', ')})` : ''}`].join(', ');
/** The hierarchy's name; a v1 cpuset with no cpus or mems says so (it takes no task: ENOSPC). */
function cgroupLabel(p) {
  const h = p.split('/')[4];
  if (h !== 'cpuset') return h;
  const empty = ['cpus', 'mems'].filter((f) => readOr(join(p, `cpuset.${f}`), 'x').trim() === '');
  return empty.length ? `cpuset[empty ${empty.join('+')}]` : h;
}
const residueEmpty = (r) => !r.stateDir && !r.cgroups.length && !r.procs.length;

async function phaseKilled(mode, res, typicalMs) {
  res.typicalMs = typicalMs;
  res.killedIds = [];
  for (let i = 0; i < opt.counts.killed && !interrupted; i++) {
    const id = idOf(mode, 'killed', i);
    const delay = Math.random() * typicalMs;
    const run = start(runArgv(mode, id));
    let exited = false;
    run.done.then(() => { exited = true; });
    // Rootless: the delay counts from runuser's exec of launch (runuser's own start-up is
    // not launch's set-up), so the kills spread over launch's life as they do as root.
    let target = launchPid(mode, run.child);
    while (target === null && !exited) { await sleep(0.2); target = launchPid(mode, run.child); }
    await sleep(delay);
    let at = null, comm = null, kids = [];
    if (target !== null && !exited) {
      comm = readOr(`/proc/${target}/comm`).trim();
      kids = childComms(target);
      at = Number(process.hrtime.bigint() - run.t0) / 1e6;
      try { process.kill(target, 'SIGKILL'); } catch { at = null; }
    }
    const r = await run.done;
    // Did the SIGKILL end launch, or had the run finished? runuser reports a killed child as 128+9.
    const killed = at !== null && (r.signal === 'SIGKILL' || (Boolean(mode.owner) && r.code === 137));
    // What the kill left: the moment it hit, told by what exists.
    const left = idResidue(mode, id);
    let stage;
    if (!killed) stage = r.code === 0 ? 'finished before the kill' : `failed before the kill: ${errorLine(r)}`;
    else if (comm === 'launch:monitor') stage = 'monitor (container started)';
    else if (left.status) stage = `state.json written (${left.status})${kids.length ? `, child ${kids.join('+')}` : ''}`;
    else if (kids.length) stage = `child cloned (${kids.join('+')}), no state.json${left.cgroups.length ? ', cgroup made' : ''}`;
    else if (left.cgroups.length) stage = 'cgroup made, no child, no state.json';
    else if (left.stateDir) stage = 'state dir claimed, no cgroup';
    else stage = 'before the state dir (loading)';
    res.stages.set(stage, (res.stages.get(stage) ?? 0) + 1);
    res.runs++;
    if (killed) res.killed++;
    else if (r.code === 0) { res.finished++; res.ok++; res.times.push(r.ms); } else {
      res.failed++; // the run failed on its own before it could be killed: counted
      const line = errorLine(r);
      res.errors.set(line, (res.errors.get(line) ?? 0) + 1);
    }
    // Clean up as a caller would: delete --force, then see what is still there.
    const del = await start(mode.argv('launch', 'delete', '--force', id)).done;
    if (del.code !== 0) {
      res.deleteFailed++;
      const line = `delete --force: ${errorLine(del)}`;
      res.errors.set(line, (res.errors.get(line) ?? 0) + 1);
    }
    let after = idResidue(mode, id);
    // Only processes go away by themselves (PDEATHSIG): wait for those, not for the rest.
    for (let t = 0; after.procs.length && t < opt.settle; t += 50) { await sleep(50); after = idResidue(mode, id); }
    res.killedIds.push(id);
    if (!residueEmpty(after)) {
      res.perId ??= [];
      res.perId.push({ id, delay: fmt(delay), at: at === null ? '-' : fmt(at), atMs: at, comm, kids, stage, atKill: residueText(left),
        del: del.code === 0 ? 'exit 0' : `exit ${del.code}: ${errorLine(del)}`, after: residueText(after) });
    }
  }
  // Stragglers: whatever `list` still shows is deleted too (and reported).
  const l = capture(mode.argv('launch', 'list', '-q'));
  const ids = (l.stdout || '').split('\n').map((s) => s.trim()).filter(Boolean);
  if (ids.length) {
    res.notes.push(`\`launch list\` still showed ${ids.length} after the deletes: ${ids.slice(0, 5).join(' ')}; deleted again`);
    for (const id of ids) await start(mode.argv('launch', 'delete', '--force', id)).done;
  }
}

/** The ids of the killed runs, run again to the end: an id must be free for reuse, and a
 * run must start on a host the killed ones may have left something on. */
async function phaseRerun(mode, res, ids) {
  for (const id of ids) {
    if (interrupted) break;
    const before = idResidue(mode, id); // what the killed run and delete --force left
    count(res, await start(runArgv(mode, id)).done, id, residueEmpty(before) ? '' : residueText(before));
  }
}

// --- main ----------------------------------------------------------------------

const results = [];
let code = 0;
try {
  for (const mode of modes) setUpMode(mode, tmp, rt, null);
  ourExes = busyboxIds();
  const leftover = cgroupDirs('soak').filter((p) => !p.includes(MARK));
  if (leftover.length) console.log(`note: cgroups of an earlier soak run (not this one's, left alone): ${leftover.join(', ')}`);
  for (const mode of modes) {
    let typical = NaN;
    let killedIds = [];
    let killedSnap = null;
    for (const phase of PHASES) {
      if (interrupted) break;
      if (phase === 'rerun' ? !killedIds.length : opt.counts[phase] === 0) continue;
      process.stderr.write(`[${mode.name}] ${phase}...\n`);
      const res = newPhase(mode, phase);
      // rerun: against the snapshot before the killed runs, so its row shows what the kills
      // left that neither `delete --force` nor the next run of the same id cleaned up.
      const snap = phase === 'rerun' ? killedSnap : snapshot(mode);
      if (phase === 'killed') killedSnap = snap;
      const t0 = Date.now();
      if (phase === 'seq') await phaseSeq(mode, res);
      else if (phase === 'concurrent') await phaseConcurrent(mode, res);
      else if (phase === 'killed') {
        // The delays spread over a whole run: up to the median of the sequential runs.
        typical = stats(results.find((r) => r.mode === mode.name && r.phase === 'seq')?.times ?? []).median;
        if (!Number.isFinite(typical)) typical = mode.owner ? 60 : 90;
        await phaseKilled(mode, res, typical);
        killedIds = res.killedIds;
      } else await phaseRerun(mode, res, killedIds);
      res.wallMs = Date.now() - t0;
      await leakCheck(mode, snap, res);
      results.push(res);
      const s = stats(res.times);
      process.stderr.write(`[${mode.name}] ${phase}: ${res.ok}/${res.runs} ok${res.killed ? `, ${res.killed} killed` : ''}, median ${fmt(s.median)} ms, ${res.leaks.length} leaks\n`);
    }
  }
} catch (e) {
  console.error(`soak: ${e.stack || e.message}`);
  code = 1;
} finally {
  // Whatever is left of ours: containers launch still lists, then processes (by pid), then
  // empty cgroups named after our ids (rmdir only: never one that is not ours, nor in use).
  const cleanup = [];
  for (const mode of modes) {
    if (!mode.argv) continue;
    const l = capture(mode.argv('launch', 'list', '-q'));
    for (const id of (l.stdout || '').split('\n').map((s) => s.trim()).filter((s) => s.startsWith(MARK))) {
      capture(mode.argv('launch', 'delete', '--force', id));
      cleanup.push(`deleted ${id}`);
    }
  }
  for (const p of ourProcesses()) {
    try { process.kill(p.pid, 'SIGKILL'); cleanup.push(`killed ${p.pid} ${p.comm}`); } catch { /* gone */ }
  }
  await sleep(200);
  for (const d of cgroupDirs().reverse()) {
    if (!d.split('/').pop().startsWith(MARK)) continue;
    try { rmdirSync(d); cleanup.push(`rmdir ${d}`); } catch (e) { cleanup.push(`cannot rmdir ${d}: ${e.code}`); }
  }
  if (cleanup.length) console.log(`\ncleanup after the soak: ${cleanup.length} actions: ${cleanup.slice(0, 10).join('; ')}${cleanup.length > 10 ? '; ...' : ''}`);
  if (opt.keep) console.log(`temp dir kept: ${tmp}`);
  else removeTmp(tmp);
}

// --- report ----------------------------------------------------------------------

const header = ['mode / phase', 'runs', 'ok', 'failed', 'killed', 'median ms', 'p90 ms', 'wall s', ...LEAK_KINDS, 'verdict'];
const rows = [];
for (const r of results) {
  const s = stats(r.times);
  const d = r.leakDiff;
  const bad = r.leaks.length > 0 || (r.phase !== 'killed' && r.failed > 0) || r.deleteFailed > 0;
  if (bad) code = code || 1;
  rows.push([`${r.mode} ${r.phase}`, r.runs, r.ok, r.failed, r.phase === 'killed' ? r.killed : '-', fmt(s.median), fmt(s.p90), fmt(r.wallMs / 1000),
    ...LEAK_KINDS.map((k) => d[k].length), bad ? 'FAIL' : 'ok']);
}
printTable(`soak of ${opt.launch} (leaks per phase: new since the phase began, after ${opt.settle} ms)`, header, rows,
  ['median/p90: the successful runs (killed: those that finished before the kill); wall: the phase, leak check excluded',
    'rerun: the killed ids run again to the end; its leak columns count from before the killed phase (what neither delete --force nor the next run removed)']);

for (const r of results) {
  const title = `[${r.mode}] ${r.phase}`;
  if (r.errors.size) {
    console.log(`\n${title}: errors (distinct, first 5 of ${r.errors.size}):`);
    for (const [line, n] of [...r.errors].slice(0, 5)) console.log(`  ${n}x ${line}`);
    if (r.failedIds.length) console.log(`${title}: failed runs (first 10):\n${r.failedIds.map((x) => `  ${x}`).join('\n')}`);
  }
  if (r.phase === 'killed') {
    console.log(`\n${title}: SIGKILL of launch after 0..${fmt(r.typicalMs)} ms (the sequential median); where the kill landed:`);
    for (const [stage, n] of [...r.stages].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(4)}  ${stage}`);
    if (r.deleteFailed) console.log(`  delete --force failed ${r.deleteFailed}x`);
    if (r.perId?.length) {
      const ats = r.perId.map((p) => p.atMs).filter((x) => x !== null);
      const byStage = new Map();
      for (const p of r.perId) byStage.set(p.stage, (byStage.get(p.stage) ?? 0) + 1);
      console.log(`${title}: ${r.perId.length} ids not clean after \`delete --force\`, killed ${fmt(Math.min(...ats))}..${fmt(Math.max(...ats))} ms after the start; `
        + `by stage: ${[...byStage].map(([st, n]) => `${n}x ${st}`).join('; ')}`);
      const byLeft = new Map();
      for (const p of r.perId) byLeft.set(p.after, (byLeft.get(p.after) ?? 0) + 1);
      console.log(`  left after delete --force: ${[...byLeft].map(([x, n]) => `${n}x ${x}`).join('; ')}`);
      console.log('  the first 10:');
      for (const p of r.perId.slice(0, 10)) {
        console.log(`  ${p.id}: delay ${p.delay} ms, killed at ${p.at} ms (launch comm ${p.comm}, children [${p.kids.join(' ')}]), stage: ${p.stage}`);
        console.log(`    right after the kill: ${p.atKill}`);
        console.log(`    delete --force: ${p.del}; after it: ${p.after}`);
      }
    }
  }
  if (r.leaks.length) {
    console.log(`\n${title}: LEAKS (${r.leaks.length}, first 10):`);
    for (const l of r.leaks.slice(0, 10)) console.log(`  ${l.kind}: ${l.what}`);
  }
  for (const n of r.notes) console.log(`${title}: note: ${n}`);
}
if (interrupted) { console.log(`\ninterrupted (${interrupted}): the figures above are partial`); code = 130; }
console.log(`\nsoak ${code === 0 ? 'passed' : code === 130 ? 'interrupted' : 'FAILED'} in ${fmt((Date.now() - started) / 1000)} s; load average: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
process.exit(code);
