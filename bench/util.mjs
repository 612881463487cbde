// Small helpers for the bench: running commands, statistics, tables.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function die(msg, code = 2) {
  console.error(`bench: ${msg}`);
  process.exit(code);
}

/** Lets a pending SIGINT/SIGTERM handler run between synchronous children. */
export const tick = () => new Promise((res) => setImmediate(res));
export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
/** A synchronous sleep (for short polls between timed commands). */
const sab = new Int32Array(new SharedArrayBuffer(4));
export const sleepSync = (ms) => Atomics.wait(sab, 0, 0, ms);

/** Run argv and capture its output: only for commands that leave no process behind
 * holding a pipe (state, list, --version, spec). */
export function capture(argv, opts = {}) {
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', ...opts });
}

/**
 * Run argv with stdin and stdout on /dev/null and stderr to `errFile`, timing it.
 * A pipe would not do: a detached or created container keeps the runtime's stdio,
 * and spawnSync would wait for it to close. `env`: the command's environment.
 */
export function timed(argv, errFile, env = process.env) {
  const fd = openSync(errFile, 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', fd], env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const ok = !r.error && r.status === 0;
    return { ms, ok, error: ok ? null : describeFailure(r, errFile) };
  } finally {
    closeSync(fd);
  }
}

/** One line saying why a command failed: the last line of its stderr, else its status. */
export function describeFailure(r, errFile) {
  if (r.error) return r.error.message;
  let text = r.stderr || '';
  if (errFile) try { text = readFileSync(errFile, 'utf8'); } catch { /* none */ }
  // The last line, skipping a stack trace's `at ...` frames.
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^at /.test(l));
  if (lines.length) return lines[lines.length - 1];
  return `exit status ${r.status ?? ''}${r.signal ? ` (${r.signal})` : ''}`.trim();
}

// --- statistics ------------------------------------------------------------

export function stats(xs) {
  if (!xs.length) return { n: 0, median: NaN, p90: NaN, min: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; // nearest rank
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { n: s.length, median, p90: q(0.9), min: s[0] };
}

export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
export const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
export const fmtRatio = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');
export const mib = (kib) => kib / 1024;

// --- tables ----------------------------------------------------------------

/** Print a table: first column left-aligned, the others right-aligned. */
export function printTable(title, header, rows, notes = []) {
  console.log(`\n== ${title} ==`);
  const all = [header, ...rows];
  const w = header.map((_, c) => Math.max(...all.map((r) => String(r[c]).length)));
  for (const r of all) console.log(r.map((x, c) => (c ? String(x).padStart(w[c]) : String(x).padEnd(w[c]))).join('  ').trimEnd());
  for (const n of notes) console.log(`note: ${n}`);
}

// --- /proc -----------------------------------------------------------------

/** `pid` and all its descendants, as [{ pid, comm }], through /proc/PID/task/TID/children
 * (every thread's: Go forks from any thread). Cheap enough to poll every few ms. */
export function processTree(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    let comm, tids;
    try {
      comm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      tids = readdirSync(`/proc/${p}/task`);
    } catch { continue; } // gone
    out.push({ pid: p, comm });
    for (const t of tids) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').split(' ')) if (c.trim()) stack.push(Number(c));
      } catch { /* thread gone */ }
    }
  }
  return out;
}

/** Resident set in KiB from /proc/PID/statm (as VmRSS), or 0 if gone. */
export function rssOf(pid) {
  try { return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KIB; } catch { return 0; }
}
const PAGE_KIB = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout) / 1024 || 4;

/** VmRSS and VmHWM in KiB (0 for a kernel thread or zombie). */
export function memOf(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key) => Number((s.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm')) || [])[1] ?? 0);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

export function pidNs(pid) {
  try { return readlinkSync(`/proc/${pid}/ns/pid`); } catch { return null; }
}

/** Gone, or a zombie: the container's process has exited. */
export function exited(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** The basename of the process's argv[0] (its comm when that cannot be read). Not comm, which
 * Node sets to "MainThread"; not /proc/PID/exe, which is a memfd for runc and crun. */
export function procName(pid, comm) {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return argv0 ? argv0.split('/').pop() : comm;
  } catch { return comm; }
}

/** A user's name and ids (the rootless mode runs as it), or null when there is no such user. */
export function lookUpUser(name) {
  const u = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return null;
  return { name, uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}
