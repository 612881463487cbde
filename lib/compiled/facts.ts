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
  return ['file', Buffer.concat([Buffer.from(`${path}\0`), data ? Buffer.concat([Buffer.from('1'), data]) : Buffer.from('0')])];
}

export function kindFact(path: string, follow = true): Fact {
  let st: fs.Stats | undefined;
  try {
    st = follow ? fs.statSync(path) : fs.lstatSync(path);
  } catch {
    st = undefined;
  }
  return [follow ? 'kind' : 'lkind', `${path}\0${kindOf(st)}`];
}

export function accessFact(path: string, mode: number): Fact {
  let ok = true;
  try {
    fs.accessSync(path, mode);
  } catch {
    ok = false;
  }
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

/** Run `fn` with node:fs's reading calls noted: the facts they observed, in order, once each.
 * Synchronous on purpose: nothing else runs while the functions are replaced. A call the
 * recorder cannot turn into a fact (a directory listing, an fd) is returned in `unknown`. */
export function record<T>(fn: () => T): { result: T; facts: Fact[]; unknown: string[] } {
  const facts = new Map<string, Fact>();
  const unknown: string[] = [];
  const note = (f: Fact) => {
    const key = `${f[0]}\0${typeof f[1] === 'string' ? f[1].split('\0')[0] : ''}`;
    if (!facts.has(key)) facts.set(key, f);
  };
  const target = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = new Map<string, (...a: unknown[]) => unknown>();
  const wrap = (name: string, fact: (path: string, args: unknown[]) => Fact | undefined) => {
    const orig = target[name]!;
    saved.set(name, orig);
    target[name] = (...args: unknown[]) => {
      const p = args[0];
      if (typeof p === 'string') {
        const f = fact(p, args);
        if (f) note(f);
      } else unknown.push(`${name} of a non-path`);
      return orig.apply(fs, args);
    };
  };
  wrap('readFileSync', (p) => withOriginals(saved, () => fileFact(p)));
  wrap('statSync', (p) => withOriginals(saved, () => kindFact(p)));
  wrap('lstatSync', (p) => withOriginals(saved, () => kindFact(p, false)));
  wrap('existsSync', (p) => withOriginals(saved, () => accessFact(p, fs.constants.F_OK)));
  wrap('accessSync', (p, a) => withOriginals(saved, () => accessFact(p, typeof a[1] === 'number' ? a[1] : fs.constants.F_OK)));
  for (const name of ['readdirSync', 'readlinkSync', 'realpathSync', 'openSync', 'opendirSync']) {
    wrap(name, (p) => {
      unknown.push(`${name} ${p}`);
      return undefined;
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

/** A fact is taken with the real functions, not the recording ones. */
function withOriginals<T>(saved: Map<string, (...a: unknown[]) => unknown>, fn: () => T): T {
  const target = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const now = new Map([...saved.keys()].map((k) => [k, target[k]!]));
  for (const [k, f] of saved) target[k] = f;
  try {
    return fn();
  } finally {
    for (const [k, f] of now) target[k] = f;
  }
}
