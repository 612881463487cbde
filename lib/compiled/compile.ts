// Compiling a bundle: after a `run` or `create` that went through Node, everything it decided
// is written down as one entry the native runner (addon/monitor/compiled.c) can execute alone
// the next time the same command line meets the same host: the child's plan, and the parent's
// steps (cgroup directories and values, id maps, the state and front record templates). The
// id, pid, start time and creation time are placeholders (format.ts PH). Nothing is trusted
// blindly: each template, filled with this run's values, must give back exactly what this
// run made, or there is no entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupPlan } from '../cgroups/manager.js';
import type { HostFacts } from '../host.js';
import { encodePlan } from '../plan/encode.js';
import type { Plan } from '../plan/build.js';
import { formatMap } from '../plan/idmap.js';
import type { Op } from '../plan/ops.js';
import type { Spec } from '../spec/schema.js';
import { SECCOMP_CACHE } from '../runtime/seccomp.js';
import { frontRecord } from '../state/front-record.js';
import type { ContainerState } from '../state/store.js';
import { type Fact, envFact, factPath, fileFact, idsFact, kindFact, record, statFact, treeFacts, unameFact } from './facts.js';
import { type Field, type LookupWords, PH, encodeEntry, expand, lookupString, sealEntry } from './format.js';

/** The environment variables the Node path reads on the way (lib/cli, lib/state, lib/runtime). */
const ENV_READ = ['XDG_RUNTIME_DIR', 'LISTEN_FDS', 'LISTEN_PID', 'LAUNCH_ADDON', 'LAUNCH_NO_FRONT', 'NOTIFY_SOCKET'];

export interface CompileInput {
  words: LookupWords;
  spec: Spec;
  host: HostFacts;
  /** What probing `host` read, as the recorder noted it (facts.ts record). */
  hostProbe: { facts: Fact[]; unknown: string[] };
  /** This run's plan (and its bytes, as the child got them), cgroup and state, as made and written. */
  plan: Plan;
  planBytes: Buffer;
  cgroup: CgroupPlan | undefined;
  state: ContainerState;
  stateDir: string;
  /** The plan and cgroup the same decisions give for another id (pure but for host probes). */
  planFor(id: string, cgroup: CgroupPlan | undefined): Plan;
  cgroupFor(id: string): CgroupPlan | undefined;
  /** Why the Node path cannot be replayed (hooks, a network helper, ...): no entry then. */
  refusals: string[];
  /** launch's own files: the single executable, or a checkout's JavaScript and native parts. */
  buildFiles(): Fact[];
}

export type CompileResult = { entry: Buffer } | { reason: string };

const subst = (s: string, id: string) => s.split(PH.id).join(id);

function substOps(ops: readonly Op[], id: string): Op[] {
  return ops.map((op) => ({ ...op, args: op.args.map((a) => (typeof a === 'string' ? subst(a, id) : Array.isArray(a) ? a.map((x) => (typeof x === 'string' ? subst(x, id) : x)) : a)) as Op['args'] }));
}

/** JSON with placeholders: the JSON escape of 0x01 back to the byte; pid and start time are
 * numbers, so their quotes go. */
function jsonTemplate(json: string): string {
  return json.replace(/"\\u0001([PSM])"/g, '\x01$1').replace(/\\u0001([A-Z])/g, '\x01$1');
}

export function compile(input: CompileInput): CompileResult {
  const { spec, state, words } = input;
  if (input.refusals.length) return { reason: input.refusals.join('; ') };
  if (JSON.stringify(spec).includes('\\u0001') || input.stateDir.includes('\x01')) return { reason: 'the config holds a 0x01 byte' };
  if (state.pid === undefined || state.started === undefined) return { reason: 'the init was gone before its state was written' };
  const id = state.id;

  // The same decisions for the placeholder id, under the recorder: every file planning reads
  // becomes a fact. The host was probed under it already (run.ts prepare), and both plannings
  // decide from that one probe.
  const traced = record(() => {
    const cgroup = input.cgroupFor(PH.id);
    return { cgroup, plan: input.planFor(PH.id, cgroup) };
  });
  const foreign = [...input.hostProbe.unknown, ...traced.unknown].filter((u) => !inSeccompCache(u));
  if (foreign.length) return { reason: `planning reads what a fact cannot hold (${foreign[0]})` };
  const { plan, cgroup } = traced.result;
  if (!encodePlan(substOps(plan.ops, id)).equals(input.planBytes)) return { reason: 'the plan depends on the id in a way a template cannot hold' };
  if (plan.cloneFlags !== input.plan.cloneFlags) return { reason: 'the clone flags depend on the id' };

  const steps: Field[] = [];
  if (cgroup) {
    if (cgroup.deviceFilter) return { reason: 'linux.resources.devices needs an eBPF filter' };
    if (cgroup.writes.some((w) => w.fallback || w.optional || w.retryAfter !== undefined)) return { reason: 'a cgroup value has a fallback file' };
    const real = JSON.stringify(input.cgroup, (_, v) => (typeof v === 'function' ? undefined : v));
    const made = JSON.stringify({ ...cgroup, dirs: Object.fromEntries(Object.entries(cgroup.dirs).map(([k, v]) => [k, subst(v, id)])), created: cgroup.created.map((d) => subst(d, id)), joins: cgroup.joins.map((d) => subst(d, id)), enable: cgroup.enable.map((d) => subst(d, id)) }, (_, v) => (typeof v === 'function' ? undefined : v));
    if (real !== made) return { reason: 'the cgroup depends on the id in a way a template cannot hold' };
    cgroup.created.forEach((dir, i) => {
      const parent = cgroup.enable[i];
      if (parent !== undefined) steps.push(['cg-enable', parent]);
      steps.push(['cg', dir]);
    });
    for (const w of cgroup.writes) steps.push(['cg-write', `${join(cgroup.dirFor(w.controller), w.file)}\0${w.value}`]);
  }
  if (words.verb === 'create') steps.push(['fifo', '']);
  const idmap = plan.idmap;
  if (idmap) {
    const helper = (path: string | undefined, maps: typeof idmap.uid) => `${path}\0${maps.flatMap((m) => [m.containerID, m.hostID, m.size]).join(' ')}`;
    steps.push(idmap.uidMethod === 'helper' ? ['idmap-helper', helper(input.host.newuidmap, idmap.uid)] : ['idmap-write', `uid_map\0${formatMap(idmap.uid)}`]);
    if (idmap.setgroupsDeny) steps.push(['idmap-write', 'setgroups\0deny']);
    steps.push(idmap.gidMethod === 'helper' ? ['idmap-helper', helper(input.host.newgidmap, idmap.gid)] : ['idmap-write', `gid_map\0${formatMap(idmap.gid)}`]);
  }
  if (plan.oomScoreAdj !== undefined) steps.push(['oom', String(plan.oomScoreAdj)]);
  for (const dir of cgroup?.joins ?? []) steps.push(['join', dir]);
  if (state.ns) steps.push(['ns', state.ns.type]);

  // The state and the front record, from this run's state with placeholders in it.
  const sentinel = {
    ...state,
    id: PH.id,
    status: PH.status,
    pid: PH.pid,
    started: PH.started,
    created: PH.created,
    ...(state.ns ? { ns: { type: state.ns.type, link: PH.nsLink } } : {}),
    ...(state.cgroup ? { cgroup: { ...state.cgroup, dirs: cgroup?.dirs ?? {}, created: PH.made } } : {}),
  } as unknown as ContainerState;
  const stateTpl = jsonTemplate(JSON.stringify(sentinel));
  const made = state.cgroup?.created ?? [];
  const own = new Set(Object.values(state.cgroup?.dirs ?? {}));
  // The runner falls back to Node when a directory of the container's own was there already.
  if ([...own].some((d) => !made.includes(d))) return { reason: 'the container\'s cgroup was there before' };
  const values = {
    id,
    pid: String(state.pid),
    started: String(state.started),
    created: state.created,
    nsLink: state.ns?.link ?? '',
    made: JSON.stringify(made),
    rmdirs: made.filter((d) => own.has(d)).join('\n'),
    parents: made.filter((d) => !own.has(d)).join('\n'),
  };
  const written = readFileSync(join(input.stateDir, 'state.json'), 'utf8');
  if (expand(stateTpl, { ...values, status: state.status }) !== written) return { reason: 'the state does not fit a template' };
  // The front record, numbers as placeholders: its fields are rendered by the runner.
  const numeric = { ...sentinel, pid: 1999999999, started: 1999999999, ...(state.cgroup ? { cgroup: { ...state.cgroup, dirs: cgroup?.dirs ?? {}, created: [...(cgroup?.joins ?? [])] } } : {}) } as unknown as ContainerState & { pid: number; started: number };
  const byKey: Record<string, string> = { pid: PH.pid, started: PH.started, rmdirs: PH.rmdirs, parents: PH.parents };
  const front = frontFields(frontRecord(numeric)).map(([k, v]) => [k, byKey[k] ?? jsonTemplate(v)] as const);
  const frontWritten = readFileSync(join(input.stateDir, 'front'));
  const frontMade = encodeEntry(front.map(([k, v]) => [k, expand(v, values)])).subarray(Buffer.byteLength('launch-compiled 1\n'));
  if (!frontMade.equals(frontWritten.subarray(frontWritten.indexOf(0x0a) + 1))) return { reason: 'the front record does not fit a template' };

  const facts: Fact[] = [
    ['lookup', lookupString(words)],
    idsFact(),
    unameFact(),
    ...ENV_READ.map((n) => envFact(process.env, n)),
    fileFact(join(state.bundle ?? '', 'config.json')),
    fileFact('/etc/passwd'),
    kindFact(state.rootfs ?? ''),
    ...input.hostProbe.facts,
    ...traced.facts.filter((f) => !isSeccompCache(f)),
    ...seccompLibrary(traced.facts),
    ...input.buildFiles(),
  ];
  const entry = sealEntry([
    ...facts,
    ['plan', encodePlan(plan.ops)],
    ['clone-flags', String(plan.cloneFlags)],
    ...steps,
    ['state', stateTpl],
    ...front.map(([k, v]) => ['front', `${k}\0${v}`] as Field),
  ]);
  return { entry };
}


/** A read of the seccomp cache (runtime/seccomp.ts) is no input: the program is libseccomp's
 * compile of the profile, which config.json holds, and the cache only saves the compile. As a
 * fact it made every entry miss once the cache had let the file go (32 kept). */
/** The cache's directory or a file in it (a listing of it is an `unknown`, a read a fact). */
const inSeccompCache = (path: string): boolean => path.includes(`/${SECCOMP_CACHE}`);
const isSeccompCache = (f: Fact): boolean => inSeccompCache(factPath(f));

/** libseccomp's own file, when planning compiled (or looked up) a filter: another libseccomp
 * may compile the profile otherwise, as the cache's key says (its version). */
function seccompLibrary(facts: readonly Fact[]): Fact[] {
  if (!facts.some(isSeccompCache)) return [];
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => /\/libseccomp\.so[.\d]*$/.test(l));
  const path = line?.slice(line.indexOf('/'));
  return path ? [statFact(path)] : [];
}

function frontFields(record: Buffer): [string, string][] {
  const out: [string, string][] = [];
  let p = record.indexOf(0x0a) + 1;
  while (p < record.length) {
    const nl = record.indexOf(0x0a, p);
    const [key, len] = record.toString('latin1', p, nl).split(' ');
    const start = nl + 1;
    out.push([key!, record.toString('utf8', start, start + Number(len))]);
    p = start + Number(len) + 1;
  }
  return out;
}

export { statFact, treeFacts };
