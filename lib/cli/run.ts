// `launch run [--detach] ID` and `launch create ID`: load the bundle's config and start it.
import { resolve } from 'node:path';
import { loadSpec } from '../spec/load.js';
import type { Spec } from '../spec/schema.js';
import { type RunOptions, runDetached, runForeground } from '../runtime/run.js';
import type { GlobalOptions } from './main.js';

export interface RunVerbOptions extends GlobalOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignoreCgroupLimits?: boolean;
  detach?: boolean;
  keep?: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** --network and --publish (run only; `create` reads the config's annotations alone). */
  network?: { network?: string; publish: string[] };
  /** `run --image`: the image and the words that replace its Cmd, in place of the bundle. */
  image?: { image: string; args: string[]; tty: boolean; store?: string; tlsVerify: boolean };
}

/** systemd socket activation, as runc: LISTEN_FDS fds (from 3) go on to the container, whose
 * environment says so (LISTEN_PID=1: the container's init is the listener). */
function listenFds(env: NodeJS.ProcessEnv): number {
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function runOptions(o: RunVerbOptions): RunOptions {
  return {
    id: o.id,
    bundle: resolve(o.bundle),
    stateRoot: o.root,
    pidFile: o.pidFile,
    consoleSocket: o.consoleSocket,
    preserveFds: Math.max(o.preserveFds ?? 0, listenFds(process.env)),
    keep: o.keep,
    noPivot: o.noPivot,
    noNewKeyring: o.noNewKeyring,
    ignoreCgroupLimits: o.ignoreCgroupLimits,
    systemdCgroup: o.systemdCgroup,
    network: o.network ?? { publish: [] },
    debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
  };
}

/** A copy: the config's own process stays as it was, for `exec` (RunOptions.execProcess). */
function withListenFds(spec: Spec): Spec {
  const n = listenFds(process.env);
  if (!n || !spec.process) return spec;
  const env = [...(spec.process.env ?? []).filter((e) => !/^LISTEN_(FDS|PID)=/.test(e)), `LISTEN_FDS=${n}`, 'LISTEN_PID=1'];
  return { ...spec, process: { ...spec.process, env } };
}

export async function runVerb(o: RunVerbOptions): Promise<number> {
  const opts = runOptions(o);
  let spec: Spec;
  if (o.image) {
    const { imageRun } = await import('./image.js');
    const made = await imageRun({ ...o, ...o.image });
    spec = made.spec;
    opts.bundle = made.bundle;
  } else spec = loadSpec(opts.bundle);
  opts.execProcess = spec.process;
  spec = withListenFds(spec);
  if (!o.detach) return runForeground(spec, opts);
  await runDetached(spec, { ...opts, create: false });
  return 0;
}

export async function createVerb(o: RunVerbOptions): Promise<void> {
  const opts = runOptions(o);
  const spec = loadSpec(opts.bundle);
  await runDetached(withListenFds(spec), { ...opts, create: true, execProcess: spec.process });
}
