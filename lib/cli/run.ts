// `launch run [--detach] ID` and `launch create ID`: load the bundle's config and start it.
import { resolve } from 'node:path';
import { entryPath } from '../compiled/store.js';
import { loadSpec } from '../spec/load.js';
import type { Spec } from '../spec/schema.js';
import { type RunOptions, runDetached, runForeground } from '../runtime/run.js';
import { checkCallerFds, listenFds, preserveFdsCount } from './fds.js';
import type { GlobalOptions } from './main.js';

export interface RunVerbOptions extends GlobalOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** As typed: checked here (fds.ts). */
  preserveFds?: number | string;
  ignoreCgroupLimits?: boolean;
  detach?: boolean;
  /** launch made the id up (`launch DIR`, `run --image` without one): a detached run prints
   * it, as `docker run -d` does, or the caller could not name the container it started. A
   * caller that chose the id is told nothing, as by runc. */
  idGenerated?: boolean;
  keep?: boolean;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /** --network and --publish (run only; `create` reads the config's annotations alone). */
  network?: { network?: string; publish: string[] };
  /** `run --image`: the image and the words that replace its Cmd, in place of the bundle. */
  image?: { image: string; args: string[]; tty: boolean; store?: string; tlsVerify: boolean };
}

/** As runc: the LISTEN_FDS fds (systemd socket activation) come first, from 3, and the
 * --preserve-fds ones after them; all must be fds the caller gave, checked before anything
 * is made. */
function passedFds(o: RunVerbOptions): number {
  const listen = listenFds(process.env, process.pid);
  const preserve = preserveFdsCount(o.preserveFds);
  checkCallerFds(3, listen, `LISTEN_FDS=${listen}`);
  checkCallerFds(3 + listen, preserve, `--preserve-fds ${preserve}`);
  return listen + preserve;
}

/** The native runner's word on this command line (addon/monitor/compiled.c, which took it
 * and fell back to Node): `miss` or `failed`, the entry it looked for, and why. Taken out of
 * the environment, so that nothing launch starts inherits it. */
function runnerVerdict(o: RunVerbOptions, verb: 'run' | 'create'): RunOptions['compiled'] {
  const said = process.env.LAUNCH_COMPILED;
  delete process.env.LAUNCH_COMPILED;
  if (said === undefined) return undefined;
  const [verdict = '', file = '', ...why] = said.split('\n');
  const debug = o.debug ? (line: string) => process.stderr.write(`launch: debug: ${line}\n`) : undefined;
  debug?.(`compiled bundle: ${verdict} \`${file}\`${why.length ? `: ${why.join(' ')}` : ''}`);
  if (o.image || (verdict !== 'miss' && verdict !== 'failed')) return undefined;
  const words = {
    uid: process.getuid!(),
    verb,
    root: o.root,
    cwd: process.cwd(),
    bundle: o.bundle,
    detach: Boolean(o.detach),
    keep: Boolean(o.keep),
    noPivot: Boolean(o.noPivot),
    noNewKeyring: Boolean(o.noNewKeyring),
    pidFile: o.pidFile !== undefined,
  };
  // The runner named the entry; Node must read the command line the same way to fill it.
  if (entryPath(o.root, { words }) !== file) {
    debug?.('compiled bundle: not compiled: the runner read the command line differently');
    return undefined;
  }
  return { words, drop: verdict === 'failed' };
}

function runOptions(o: RunVerbOptions, verb: 'run' | 'create'): RunOptions {
  return {
    compiled: runnerVerdict(o, verb),
    id: o.id,
    bundle: resolve(o.bundle),
    stateRoot: o.root,
    pidFile: o.pidFile,
    consoleSocket: o.consoleSocket,
    preserveFds: passedFds(o),
    keep: o.keep,
    noPivot: o.noPivot,
    noNewKeyring: o.noNewKeyring,
    ignoreCgroupLimits: o.ignoreCgroupLimits,
    systemdCgroup: o.systemdCgroup,
    network: o.network ?? { publish: [] },
    debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
  };
}

/** The container's environment says so (LISTEN_PID=1: its init is the listener). A copy: the
 * config's own process stays as it was, for `exec` (RunOptions.execProcess). */
function withListenFds(spec: Spec): Spec {
  const n = listenFds(process.env, process.pid);
  if (!n || !spec.process) return spec;
  const env = [...(spec.process.env ?? []).filter((e) => !/^LISTEN_(FDS|PID)=/.test(e)), `LISTEN_FDS=${n}`, 'LISTEN_PID=1'];
  return { ...spec, process: { ...spec.process, env } };
}

export async function runVerb(o: RunVerbOptions): Promise<number> {
  const opts = runOptions(o, 'run');
  let spec: Spec;
  if (o.image) {
    const { imageBundle } = await import('../image/bundle.js');
    const { imageAccess } = await import('./image.js');
    const made = await imageBundle({ ...imageAccess(o.image), image: o.image.image, args: o.image.args, tty: o.image.tty });
    spec = made.spec;
    opts.bundle = made.bundle;
  } else spec = loadSpec(opts.bundle);
  opts.execProcess = spec.process;
  spec = withListenFds(spec);
  if (!o.detach) return runForeground(spec, opts);
  await runDetached(spec, { ...opts, create: false });
  if (o.idGenerated) process.stdout.write(`${o.id}\n`);
  return 0;
}

export async function createVerb(o: RunVerbOptions): Promise<void> {
  const opts = runOptions(o, 'create');
  const spec = loadSpec(opts.bundle);
  await runDetached(withListenFds(spec), { ...opts, create: true, execProcess: spec.process });
}
