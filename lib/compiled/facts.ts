// What a compiled bundle depends on, as facts the runner checks again before it uses the entry
// (addon/monitor/compiled.c check_fact): file contents, whether paths exist or may be
// written, environment variables, the kernel, the caller's ids, the identity of launch's own
// files. The host-dependent ones are not listed by hand: the planning code runs again under a
// recorder that notes every file it reads, stats or probes (record below), so a new probe in
// lib/plan or lib/cgroups is a new fact without anyone remembering to add it. This module
// reads through `fs.` itself (never a named import): the recorder swaps those properties.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { release, version, machine } from 'node:os';
import { join } from 'node:path';
import type { Field } from './format.js';

export type Fact = Field;

const kindOf = (st: fs.Stats | undefined): string => (!st ? 'none' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other');

export function fileFact(path: string): Fact {
  let data: Buffer | undefined;
  try {
    data = fs.readFileSync(path);
  } catch {
    data = undefined;
  }
  return fileFactOf(path, data);
}

/** The fact of a file read as `data` (undefined: it could not be read). */
function fileFactOf(path: string, data: Buffer | undefined): Fact {
  return ['file', Buffer.concat([Buffer.from(`${path}\0`), data ? Buffer.concat([Buffer.from('1'), data]) : Buffer.from('0')])];
}

export function kindFact(path: string, follow = true): Fact {
  let st: fs.Stats | undefined;
  try {
    st = follow ? fs.statSync(path) : fs.lstatSync(path);
  } catch {
    st = undefined;
  }
  return kindFactOf(path, st, follow);
}

/** The fact of a path stat'ed (lstat'ed: not `follow`) as `st` (undefined: it is not there). */
function kindFactOf(path: string, st: fs.Stats | undefined, follow: boolean): Fact {
  return [follow ? 'kind' : 'lkind', `${path}\0${kindOf(st)}`];
}

/** The fact of access(2) of `path` for `mode`: allowed or not. */
function accessFactOf(path: string, mode: number, ok: boolean): Fact {
  return ['access', `${path}\0${mode}\0${ok ? 1 : 0}`];
}

/** A file of launch's own: it is the same file, unchanged (device, inode, size, times). */
export function statFact(path: string): Fact {
  try {
    const st = fs.statSync(path, { bigint: true });
    return ['stat', `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`];
  } catch {
    return ['stat', `${path}\0none`];
  }
}

export function envFact(env: NodeJS.ProcessEnv, name: string): Fact {
  const v = env[name];
  return ['env', v === undefined ? name : `${name}=${v}`];
}

export function unameFact(): Fact {
  return ['uname', `${release()}\0${version()}\0${machine()}`];
}

export function idsFact(): Fact {
  return ['ids', [process.getuid!(), process.getgid!(), ...process.getgroups!()].join(' ')];
}

/** Every file under `dir` (launch's compiled JavaScript), as stat facts. */
export function treeFacts(dir: string): Fact[] {
  const out: Fact[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...treeFacts(p));
    else out.push(statFact(p));
  }
  return out;
}

/** The path a fact is about: its value up to the first NUL (text, or a file fact's bytes). */
export function factPath(f: Fact): string {
  const v = f[1];
  if (typeof v === 'string') return v.split('\0')[0]!;
  const end = v.indexOf(0);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1', 0, end < 0 ? v.byteLength : end);
}

/** Run `fn` with node:fs's reading calls noted: the facts they observed, in order, once each.
 * Synchronous on purpose: nothing else runs while the functions are replaced. A call the
 * recorder cannot turn into a fact (a directory listing, an fd) is returned in `unknown`. */
export function record<T>(fn: () => T): { result: T; facts: Fact[]; unknown: string[] } {
  const facts = new Map<string, Fact>();
  const unknown: string[] = [];
  // Once each: keyed by kind and path. A file fact's value is bytes: keyed by '' it made
  // every file read after the first a "duplicate", so /etc/subuid and the seccomp profile
  // were no facts and their changes no misses.
  const note = (f: Fact) => {
    const key = `${f[0]}\0${factPath(f)}`;
    if (!facts.has(key)) facts.set(key, f);
  };
  const target = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = new Map<string, (...a: unknown[]) => unknown>();
  // Each call is made once, and its fact taken from what that call saw: reading a file twice
  // (once for the fact, once for the planner) cost a cold create its time, and the two reads
  // could differ. `observe` gets the real function and the call's arguments. What a recorded
  // call does inside (readFileSync opens through fs.openSync) is its own business: the
  // planner's calls alone are noted.
  let inside = 0;
  const wrap = (name: string, observe: (orig: (...a: unknown[]) => unknown, path: string, args: unknown[]) => unknown) => {
    const orig = target[name]!;
    saved.set(name, orig);
    target[name] = (...args: unknown[]) => {
      if (inside) return orig.apply(fs, args);
      const p = args[0];
      if (typeof p !== 'string') {
        unknown.push(`${name} of a non-path`);
        return orig.apply(fs, args);
      }
      inside++;
      try {
        return observe((...a: unknown[]) => orig.apply(fs, a), p, args);
      } finally {
        inside--;
      }
    };
  };
  /** The call's result, and its fact from that result, or from the error it threw (rethrown). */
  const noted = <R>(call: () => R, fact: (r: R | undefined, failed: boolean) => Fact): R => {
    let r: R;
    try {
      r = call();
    } catch (err) {
      note(fact(undefined, true));
      throw err;
    }
    note(fact(r, false));
    return r;
  };
  wrap('readFileSync', (orig, p, args) => {
    const opt = args[1];
    // No options, or an encoding alone: the bytes are read once and decoded here. Other
    // options (a flag, a signal): read apart for the fact, as the call may not give bytes.
    const plain = opt === undefined || typeof opt === 'string' || (typeof opt === 'object' && opt !== null && Object.keys(opt).every((k) => k === 'encoding'));
    if (!plain) {
      note(fileFact(p));
      return orig(...args);
    }
    const encoding = typeof opt === 'string' ? opt : (opt as { encoding?: BufferEncoding | null } | undefined)?.encoding;
    const bytes = noted(() => orig(p) as Buffer, (b) => fileFactOf(p, b));
    return encoding ? bytes.toString(encoding as BufferEncoding) : bytes;
  });
  const stat = (follow: boolean) => (orig: (...a: unknown[]) => unknown, p: string, args: unknown[]) =>
    noted(() => orig(...args) as fs.Stats | undefined, (st) => kindFactOf(p, st, follow));
  wrap('statSync', stat(true));
  wrap('lstatSync', stat(false));
  wrap('existsSync', (orig, p, args) => noted(() => orig(...args) as boolean, (ok) => accessFactOf(p, fs.constants.F_OK, Boolean(ok))));
  wrap('accessSync', (orig, p, args) => {
    const mode = typeof args[1] === 'number' ? args[1] : fs.constants.F_OK;
    return noted(() => orig(...args), (_, failed) => accessFactOf(p, mode, !failed));
  });
  for (const name of ['readdirSync', 'readlinkSync', 'realpathSync', 'openSync', 'opendirSync']) {
    wrap(name, (orig, p, args) => {
      unknown.push(`${name} ${p}`);
      return orig(...args);
    });
  }
  syncBuiltinESMExports();
  try {
    return { result: fn(), facts: [...facts.values()], unknown };
  } finally {
    for (const [name, orig] of saved) target[name] = orig;
    syncBuiltinESMExports();
  }
}

