// The scenarios. Each takes (ctx, mode) and returns
//   { key, title, header, rows, notes, results }
// where results maps a row name to its raw samples (for --json and the summary).
// ctx = { opt, runtimes (those not skipped), allRuntimes, interrupted(), nodeVersion }.
// Runtimes are interleaved within each iteration so that drift hits them all alike.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, PATHS, cacheRows, isCacheRow, slugOf } from './env.mjs';
import { ctrEntries, podmanEntries } from './clients.mjs';
import { capture, describeFailure, exited, fmt, fmtRatio, memOf, mib, pidNs,
  processTree, procName, ratio, rssOf, sleep, sleepSync, stats, tick, timed } from './util.mjs';

export const SCENARIOS = ['run', 'cycle', 'verbs', 'podman', 'ctr', 'exec', 'seq', 'mem'];

/** One row of a timing table: a name and what to do for iteration `i`. */
const entry = (name, once, kind = 'runtime') => ({ name, once, kind });

/**
 * Warm up, then time every entry `runs` times, interleaved. An entry that fails every
 * warm-up (at least 2 tries) is skipped, with its error as the reason: it cannot run here.
 * Later failures are counted. once(i) returns { ok, ms, error, parts? }.
 */
async function interleave(ctx, entries, runs, warmup) {
  const res = {};
  for (const e of entries) res[e.name] = { kind: e.kind, samples: [], parts: {}, failures: 0, lastError: null, skipped: null };
  const warmed = new Set();
  for (let w = 0; w < Math.max(warmup, 2) && !ctx.interrupted(); w++) {
    for (const e of entries) {
      if (w >= warmup && warmed.has(e.name)) continue; // the extra try is for failures only
      const t = e.once(`w${w}`);
      await tick();
      if (ctx.interrupted()) return res;
      if (t.ok) warmed.add(e.name);
      else res[e.name].lastError = t.error;
    }
  }
  for (const e of entries) {
    if (!warmed.has(e.name)) res[e.name].skipped = res[e.name].lastError;
    res[e.name].lastError = null;
  }
  const live = () => entries.filter((e) => !res[e.name].skipped);
  for (let i = 0; i < runs && !ctx.interrupted(); i++) {
    for (const e of live()) {
      const t = e.once(i);
      await tick(); // a SIGINT handler runs here, after the child is gone
      if (ctx.interrupted()) break; // Ctrl-C hit the child too: not the runtime's failure
      const r = res[e.name];
      if (t.ok) {
        r.samples.push(t.ms);
        for (const [k, v] of Object.entries(t.parts ?? {})) (r.parts[k] ??= []).push(v);
      } else { r.failures++; r.lastError = t.error; }
    }
  }
  return res;
}

/** Table rows for timing results: median, p90, min, runs, failures, ratio to runc. */
function timingTable(res, { parts = [] } = {}) {
  const base = stats(res.runc?.samples ?? []).median;
  const header = ['', 'median ms', 'p90 ms', 'min ms', ...parts.map((p) => `${p} ms`), 'runs', 'fail', 'vs runc'];
  const rows = [];
  for (const [name, r] of Object.entries(res)) {
    if (r.skipped) continue;
    const s = (r.stats = stats(r.samples));
    rows.push([name, fmt(s.median), fmt(s.p90), fmt(s.min), ...parts.map((p) => fmt(stats(r.parts[p] ?? []).median)),
      String(s.n), String(r.failures), r.kind === 'runtime' ? fmtRatio(ratio(s.median, base)) : `(${fmtRatio(ratio(s.median, base))})`]);
  }
  return { header, rows };
}

/** Notes every table gets: skipped rows and failures, with their reasons. */
function commonNotes(ctx, res) {
  const notes = [];
  for (const rt of ctx.allRuntimes) if (rt.skip) notes.push(`${rt.name} skipped: ${rt.skip}`);
  for (const [name, r] of Object.entries(res)) {
    if (r.skipped) notes.push(`${name} skipped: ${r.skipped}`);
    else if (r.failures) notes.push(`${name} failed ${r.failures}x (last: ${r.lastError})`);
  }
  return notes;
}

function prefixNote(mode, res) {
  const notes = [];
  if (mode.prefix.length) notes.push(`every command runs via \`${mode.prefix.join(' ')}\`; its cost is in every row`);
  if (res.crun && !res.crun.skipped) {
    notes.push('crun runs via `nsenter --mount` into a private mount namespace with cgroup2 at /sys/fs/cgroup '
      + '(crun refuses this cgroup-v1 hybrid host); that costs ~ the "crun wrapper only" row of the run table per crun command');
    if (!mode.rootless) notes.push('crun as root gets the config without linux.resources (no device eBPF filter: loading it needs RLIMIT_MEMLOCK raised, denied here); it still makes a cgroup');
  }
  return notes;
}

/** A cold row first removes its compiled-bundle cache (not timed), then runs `once`. */
function withCache(mode, row, once) {
  if (row.cache !== 'cold') return once;
  return (i) => {
    const err = mode.dropCache(row.name);
    return err ? { ok: false, error: `removing the cache: ${err}` } : once(i);
  };
}

/** What the cold and warm rows are, and whether the cache existed at all. */
function cacheNotes(mode, res) {
  const rows = Object.keys(res).filter((n) => isCacheRow(n) && !res[n].skipped);
  if (!rows.length) return [];
  const notes = [`(cold): <state root>/${CACHE_DIR} removed (rm -rf, untimed, as its owner) before every iteration, so each run or create `
    + `compiles and stores its bundle; (warm): left in place, filled by the warm-up. Each launch row has a state root (--root) of its own`];
  const none = rows.filter((n) => n.endsWith('(warm)') && !mode.hasCache(n));
  if (none.length) {
    notes.push(`no ${CACHE_DIR} was made in the state root of ${none.join(', ')}: that launch has no compiled-bundle cache, so its cold and warm rows measure the same`);
  }
  return notes;
}

// --- 1. run of /bin/true ---------------------------------------------------

export async function runTrue(ctx, mode) {
  const entries = cacheRows(ctx.runtimes).map((row) => entry(row.name, withCache(mode, row, (i) =>
    timed(mode.argv(row.name, 'run', '--bundle', mode.bundle('true', row.name), `run-${slugOf(row.name)}-${i}`), mode.errFile))));
  entries.push(entry('node -e 0', () => timed(mode.ref(PATHS.node, '-e', '0'), mode.errFile), 'reference'));
  if (mode.prefix.length) entries.push(entry('runuser only', () => timed(mode.ref('/bin/true'), mode.errFile), 'reference'));
  if (mode.crunWrapperRef && ctx.runtimes.some((rt) => rt.name === 'crun')) {
    entries.push(entry('crun wrapper only', () => timed(mode.crunWrapperRef, mode.errFile), 'reference'));
  }
  const res = await interleave(ctx, entries, ctx.opt.runs, ctx.opt.warmup);
  const { header, rows } = timingTable(res);
  return {
    key: 'run', title: `run /bin/true — ${mode.name}`, header, rows, results: res,
    notes: [...cacheNotes(mode, res), ...prefixNote(mode, res),
      `node -e 0 is ${PATHS.node} (${ctx.nodeVersion}); ratios in parentheses are references, not runtimes`, ...commonNotes(ctx, res)],
  };
}

// --- 2. create -> start -> delete --------------------------------------------

/** Wait for the container's process to exit (gone or a zombie); false after `ms`. */
function waitExit(pid, ms = 10000) {
  const end = Date.now() + ms;
  while (!exited(pid)) {
    if (Date.now() > end) return false;
    sleepSync(1);
  }
  return true;
}

/** What a failed step returns, once the container is deleted: nothing left behind. */
const failure = (mode, rt, id) => (step, t) => {
  capture(mode.argv(rt, 'delete', '-f', id));
  return { ok: false, error: `${step}: ${t.error}` };
};

/** Timed `create --pid-file` of `prog`: { ms, pid }, or { failed } (fail's result). */
function createWithPid(mode, rt, id, prog, fail) {
  const pidFile = join(mode.pidDir, id);
  const c = timed(mode.argv(rt, 'create', '--bundle', mode.bundle(prog, rt), '--pid-file', pidFile, id), mode.errFile);
  if (!c.ok) return { failed: fail('create', c) };
  let pid = NaN;
  try { pid = Number(readFileSync(pidFile, 'utf8').trim()); } catch { /* below */ }
  if (!(pid > 0)) return { failed: fail('create', { error: `no pid in --pid-file ${pidFile}` }) };
  return { ms: c.ms, pid };
}

function cycleOnce(mode, rt, i) {
  const id = `cycle-${slugOf(rt)}-${i}`;
  const fail = failure(mode, rt, id);
  const c = createWithPid(mode, rt, id, 'true', fail);
  if (c.failed) return c.failed;
  const s = timed(mode.argv(rt, 'start', id), mode.errFile);
  if (!s.ok) return fail('start', s);
  // Not timed: waiting for /bin/true to exit (polling /proc, not `state`).
  if (!waitExit(c.pid)) return fail('wait', { error: `container process ${c.pid} still running after 10 s` });
  const d = timed(mode.argv(rt, 'delete', id), mode.errFile);
  if (!d.ok) return fail('delete', d);
  return { ok: true, ms: c.ms + s.ms + d.ms, parts: { create: c.ms, start: s.ms, delete: d.ms } };
}

export async function cycle(ctx, mode) {
  const entries = cacheRows(ctx.runtimes).map((row) => entry(row.name, withCache(mode, row, (i) => cycleOnce(mode, row.name, i))));
  const res = await interleave(ctx, entries, ctx.opt.runs, ctx.opt.warmup);
  const { header, rows } = timingTable(res, { parts: ['create', 'start', 'delete'] });
  header[1] = 'cycle median ms';
  return {
    key: 'cycle', title: `create → start → delete of /bin/true — ${mode.name}`, header, rows, results: res,
    notes: ['cycle = create + start + delete (sum of the three commands); the wait for /bin/true to exit between start and delete '
      + '(polling /proc/PID from --pid-file) is not counted', ...cacheNotes(mode, res), ...prefixNote(mode, res), ...commonNotes(ctx, res)],
  };
}

// --- 2b. the verbs one by one ----------------------------------------------

/** The verbs callers run once or more per container, each timed alone (issue 17): `state` of
 * an id that does not exist (a caller's probe) and of a created container, `start`, `kill`
 * and `delete` of a container running `sleep`. ms is their sum; each is a part. */
export const VERB_PARTS = ['state?', 'state', 'start', 'kill', 'delete'];

function verbsOnce(mode, rt, i) {
  const id = `verbs-${rt}-${i}`;
  const fail = failure(mode, rt, id);
  const missing = timed(mode.argv(rt, 'state', `${id}-none`), mode.errFile);
  if (missing.ok) return fail('state of a missing id', { error: 'succeeded' });
  const c = createWithPid(mode, rt, id, 'sleep', fail);
  if (c.failed) return c.failed;
  const pid = c.pid;
  const st = timed(mode.argv(rt, 'state', id), mode.errFile);
  if (!st.ok) return fail('state', st);
  const s = timed(mode.argv(rt, 'start', id), mode.errFile);
  if (!s.ok) return fail('start', s);
  const k = timed(mode.argv(rt, 'kill', id, 'KILL'), mode.errFile);
  if (!k.ok) return fail('kill', k);
  // Not timed: the kill taking effect.
  if (!waitExit(pid)) return fail('wait', { error: `container process ${pid} still running after 10 s` });
  const d = timed(mode.argv(rt, 'delete', id), mode.errFile);
  if (!d.ok) return fail('delete', d);
  const parts = { 'state?': missing.ms, state: st.ms, start: s.ms, kill: k.ms, delete: d.ms };
  return { ok: true, ms: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

export async function verbs(ctx, mode) {
  const entries = ctx.runtimes.map((rt) => entry(rt.name, (i) => verbsOnce(mode, rt.name, i)));
  const res = await interleave(ctx, entries, ctx.opt.runs, ctx.opt.warmup);
  const { header, rows } = timingTable(res, { parts: VERB_PARTS });
  header[1] = 'sum median ms';
  return {
    key: 'verbs', title: `state (missing id), state, start, kill, delete, each alone — ${mode.name}`, header, rows, results: res,
    notes: ['state? = state of an id that does not exist; the others act on a container created (not timed) with /bin/sleep; '
      + 'the wait for the kill to take effect is not counted', ...prefixNote(mode, res), ...commonNotes(ctx, res)],
  };
}

// --- 2c. podman with each runtime ------------------------------------------

export async function podman(ctx, mode) {
  const p = podmanEntries(mode, ctx.runtimes, entry);
  try {
    if (p.why) return { key: 'podman', title: `podman run --rm /bin/true — ${mode.name}`, header: ['', 'skipped'], rows: [], results: {}, skipped: p.why, notes: [`skipped: ${p.why}`] };
    const res = await interleave(ctx, p.entries, ctx.opt.runs, ctx.opt.warmup);
    const { header, rows } = timingTable(res);
    return {
      key: 'podman', title: `podman --runtime RUNTIME run --rm /bin/true (create, start, delete through conmon) — ${mode.name}`, header, rows, results: res,
      notes: ['podman with vfs storage, cgroupfs, no network, its own root, run root, tmp dir' + (mode.rootless ? ' and XDG_RUNTIME_DIR' : '')
        + '; crun is left out (podman would run it on the v1 hybrid tree it refuses)',
      mode.rootless
        ? 'rootless: podman makes its user namespace (newuidmap/newgidmap, the user\'s subordinate ids) and runs conmon and the runtime in it; '
          + 'no cgroups (cgroup v1); the runtimes\' state roots are their defaults under that XDG_RUNTIME_DIR'
        : 'podman passes the runtime no --root: the state roots are the runtimes\' defaults (/run/runc, /run/launch for both launch rows)',
      ...prefixNote(mode, res), ...commonNotes(ctx, res)],
    };
  } finally {
    p.cleanup?.();
  }
}

// --- 2d. containerd's ctr with each runtime ------------------------------------

export async function ctr(ctx, mode) {
  const title = `ctr run --rm /bin/true (containerd, runc v2 shim with --runc-binary RUNTIME) — ${mode.name}`;
  const p = await ctrEntries(mode, ctx.runtimes, entry);
  try {
    if (p.why) return { key: 'ctr', title, header: ['', 'skipped'], rows: [], results: {}, skipped: p.why, notes: [`skipped: ${p.why}`] };
    const res = await interleave(ctx, p.entries, ctx.opt.runs, ctx.opt.warmup);
    const { header, rows } = timingTable(res);
    return {
      key: 'ctr', title, header, rows, results: res,
      notes: ['a containerd of the bench\'s own (overlayfs snapshotter, an image imported from the busybox rootfs); ctr with '
        + '--runc-root and --fifo-dir under the bench\'s temp dir; the time includes the shim\'s start and ctr\'s I/O FIFOs; '
        + 'crun is left out (the shim would run it on the v1 hybrid tree it refuses)', ...commonNotes(ctx, res)],
    };
  } finally {
    await p.cleanup?.();
  }
}

// --- 3. exec into a running container ----------------------------------------

export async function exec(ctx, mode) {
  const started = [];
  const setupErrors = {};
  try {
    for (const rt of ctx.runtimes) {
      const id = `exec-${rt.name}`;
      const start = () => timed(mode.argv(rt.name, 'run', '-d', '--bundle', mode.bundle('sleep', rt.name), id), mode.errFile);
      let t = start();
      if (!t.ok) { capture(mode.argv(rt.name, 'delete', '-f', id)); t = start(); } // a second chance
      if (t.ok) started.push({ rt: rt.name, id });
      else { setupErrors[rt.name] = `run -d: ${t.error}`; capture(mode.argv(rt.name, 'delete', '-f', id)); }
      await tick();
      if (ctx.interrupted()) break;
    }
    const entries = started.map(({ rt, id }) => entry(rt, () => timed(mode.argv(rt, 'exec', id, '/bin/true'), mode.errFile)));
    const res = await interleave(ctx, entries, ctx.opt.runs, ctx.opt.warmup);
    for (const [rt, error] of Object.entries(setupErrors)) {
      res[rt] = { kind: 'runtime', samples: [], parts: {}, failures: 0, lastError: null, skipped: error };
    }
    const { header, rows } = timingTable(res);
    return {
      key: 'exec', title: `exec /bin/true into a running container (sleep 1000, started with run -d) — ${mode.name}`,
      header, rows, results: res, notes: [...prefixNote(mode, res), ...commonNotes(ctx, res)],
    };
  } finally {
    for (const { rt, id } of started) capture(mode.argv(rt, 'delete', '-f', id));
  }
}

// --- 4. N sequential runs -----------------------------------------------------

export async function seq(ctx, mode) {
  const n = ctx.opt.seq;
  const entries = ctx.runtimes.map((rt) => entry(rt.name, (i) =>
    timed(mode.argv(rt.name, 'run', '--bundle', mode.bundle('true', rt.name), `seq-${rt.name}-${i}`), mode.errFile)));
  entries.push(entry('node -e 0', () => timed(mode.ref(PATHS.node, '-e', '0'), mode.errFile), 'reference'));
  const res = {};
  for (const e of entries) res[e.name] = { kind: e.kind, samples: [], failures: 0, lastError: null, skipped: null };
  // Warm-up runs; a row that fails twice there is skipped.
  for (const e of entries) {
    let t = e.once('w0');
    if (!t.ok) t = e.once('w1');
    if (!t.ok) res[e.name].skipped = t.error;
    await tick();
  }
  for (let rep = 0; rep < ctx.opt.seqReps && !ctx.interrupted(); rep++) {
    for (const e of entries) {
      const r = res[e.name];
      if (r.skipped) continue;
      const t0 = process.hrtime.bigint();
      let failed = null;
      for (let k = 0; k < n && !failed; k++) {
        const t = e.once(`${rep}-${k}`);
        if (!t.ok) failed = t.error;
        await tick();
        if (ctx.interrupted()) break;
      }
      if (ctx.interrupted()) break;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (failed) { r.failures++; r.lastError = failed; } else r.samples.push(ms);
    }
  }
  const base = stats(res.runc?.samples ?? []).median;
  const header = ['', 'median total s', 'per run ms', 'min total s', 'reps', 'fail', 'vs runc'];
  const rows = [];
  for (const [name, r] of Object.entries(res)) {
    if (r.skipped) continue;
    const s = (r.stats = stats(r.samples));
    const rat = fmtRatio(ratio(s.median, base));
    rows.push([name, fmt(s.median / 1000, 2), fmt(s.median / n), fmt(s.min / 1000, 2), String(s.n), String(r.failures),
      r.kind === 'runtime' ? rat : `(${rat})`]);
  }
  return {
    key: 'seq', title: `${n} sequential runs of /bin/true — ${mode.name}`, header, rows, results: res,
    notes: [`each rep times ${n} runs back to back (new container id each); median over ${ctx.opt.seqReps} reps, runtimes interleaved per rep`,
      ...prefixNote(mode, res), ...commonNotes(ctx, res)],
  };
}

// --- 5. resident memory while a foreground container sleeps -------------------

/**
 * The runtime's own processes under `rootPid`: not the wrapper (runuser), not the container
 * (every process in another pid namespace than the bench's, with its descendants).
 */
function splitTree(rootPid, ownNs) {
  const own = [], container = [];
  for (const p of processTree(rootPid)) {
    if (pidNs(p.pid) !== ownNs) container.push(p);
    else if (p.comm !== 'runuser') own.push(p);
  }
  return { own, container };
}

/**
 * Start `argv` (a foreground container running `sleep 30`, or a reference). Poll the summed
 * RSS of the runtime's own processes every few ms (VmHWM alone would miss a peak from before
 * an execve) until `delayMs` have passed and, with `needContainer`, the container has run for
 * SETTLE_MS; then sample VmRSS and VmHWM, and stop() it.
 */
async function sampleMemory(mode, argv, { delayMs, stop, needContainer }) {
  const ownNs = pidNs(process.pid);
  const fd = openSync(mode.errFile, 'w');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  let exitedEarly = false;
  const done = new Promise((res) => {
    child.on('exit', (code, sig) => { exitedEarly = true; res({ code, sig }); });
    child.on('error', (e) => { exitedEarly = true; res({ error: e }); });
  });
  const start = Date.now();
  let polled = 0, containerSince = null;
  for (;;) {
    const now = Date.now();
    if (exitedEarly || now - start > GIVE_UP_MS) break;
    if (now - start >= delayMs && (!needContainer || (containerSince && now - containerSince >= SETTLE_MS))) break;
    const { own, container } = splitTree(child.pid, ownNs);
    polled = Math.max(polled, own.reduce((a, p) => a + rssOf(p.pid), 0));
    if (container.length && !containerSince) containerSince = now;
    await sleep(POLL_MS);
  }
  let result;
  if (exitedEarly) {
    const how = await done;
    result = { ok: false, error: `exited before the sample (${how.error?.message ?? `status ${how.code ?? how.sig}`}): ${describeFailure({}, mode.errFile)}` };
  } else {
    const { own, container } = splitTree(child.pid, ownNs);
    const mems = [];
    for (const p of own) {
      try { mems.push({ name: procName(p.pid, p.comm), ...memOf(p.pid) }); } catch { /* exited meanwhile */ }
    }
    if (needContainer && !container.length) result = { ok: false, error: `no container process (in another pid namespace) under the runtime after ${GIVE_UP_MS / 1000} s` };
    else {
      const rss = mems.reduce((a, p) => a + p.rss, 0);
      const hwm = Math.max(0, ...mems.map((p) => p.hwm));
      result = { ok: true, rss, hwm, peak: Math.max(polled, rss, hwm), procs: mems.map((p) => p.name), container: container.map((p) => p.comm) };
    }
    stop(own);
  }
  const finished = await Promise.race([done, sleep(10000).then(() => null)]);
  if (!finished) { try { child.kill('SIGKILL'); } catch { /* gone */ } await done; }
  return result;
}
const POLL_MS = 5, SETTLE_MS = 500, GIVE_UP_MS = 20000;

export async function memory(ctx, mode) {
  const entries = ctx.runtimes.map((rt) => ({
    name: rt.name, kind: 'runtime',
    sample: (i) => {
      const id = `mem-${rt.name}-${i}`;
      return sampleMemory(mode, mode.argv(rt.name, 'run', '--bundle', mode.bundle('mem', rt.name), id), {
        delayMs: 1500, needContainer: true,
        // End the sleep early; the foreground runtime then exits with 137.
        stop: () => capture(mode.argv(rt.name, 'kill', id, 'KILL')),
      });
    },
  }));
  entries.push({
    name: 'node (idle)', kind: 'reference',
    sample: () => sampleMemory(mode, mode.ref(PATHS.node, '-e', 'setTimeout(() => {}, 30000)'), {
      delayMs: 1500, needContainer: false,
      stop: (own) => { for (const p of own) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } },
    }),
  });
  const res = {};
  for (const e of entries) res[e.name] = { kind: e.kind, rss: [], hwm: [], peak: [], procs: null, container: null, failures: 0, lastError: null, skipped: null };
  for (let i = 0; i < ctx.opt.memRuns && !ctx.interrupted(); i++) {
    for (const e of entries) {
      const r = res[e.name];
      if (r.skipped) continue;
      let s = await e.sample(i);
      if (!s.ok && i === 0 && !ctx.interrupted()) s = await e.sample(`${i}b`); // a second chance before skipping
      if (ctx.interrupted()) break;
      if (s.ok) { r.rss.push(s.rss); r.hwm.push(s.hwm); r.peak.push(s.peak); r.procs = s.procs; r.container = s.container; }
      else if (i === 0) r.skipped = s.error;
      else { r.failures++; r.lastError = s.error; }
    }
  }
  const base = (f) => stats(res.runc?.[f] ?? []).median;
  const header = ['', 'steady RSS MiB', 'peak MiB', 'VmHWM MiB', 'processes counted', 'runs', 'fail', 'RSS vs runc', 'peak vs runc'];
  const rows = [];
  for (const [name, r] of Object.entries(res)) {
    if (r.skipped) continue;
    const m = (f) => stats(r[f]).median;
    const wrap = (x) => (r.kind === 'runtime' ? x : `(${x})`);
    rows.push([name, fmt(mib(m('rss')), 2), fmt(mib(m('peak')), 2), fmt(mib(m('hwm')), 2), countList(r.procs ?? []), String(r.rss.length),
      String(r.failures), wrap(fmtRatio(ratio(m('rss'), base('rss')))), wrap(fmtRatio(ratio(m('peak'), base('peak'))))]);
  }
  return {
    key: 'mem', title: `resident memory of the runtime while a foreground container sleeps — ${mode.name}`, header, rows, results: res,
    notes: [`medians of ${ctx.opt.memRuns} runs; the runtime's own processes only: the container (processes in another pid namespace) and runuser are left out. `
      + 'steady = sum of VmRSS 1.5 s after the start, and at least 0.5 s after the container appeared (it runs `sleep 30`; then `kill ID KILL`); '
      + `peak = the largest summed RSS seen polling every ${POLL_MS} ms from the start (or VmHWM if larger); `
      + 'VmHWM = the largest of the processes\' VmHWM, which counts only since their last execve',
    'node (idle) is the same Node as `node -e 0`, sleeping in a timer: the floor for a Node process',
    ...commonNotes(ctx, res)],
  };
}

function countList(xs) {
  const m = new Map();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m].map(([k, v]) => (v > 1 ? `${k}x${v}` : k)).join(',') || '-';
}

export const RUNNERS = { run: runTrue, cycle, verbs, podman, ctr, exec, seq, mem: memory };
