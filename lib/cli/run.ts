// `launch run [--detach] ID` and `launch create ID`: load the bundle's config and start it.
import { resolve } from 'node:path';
import { loadSpec } from '../spec/load.js';
import { type RunOptions, runDetached, runForeground } from '../runtime/run.js';
import type { GlobalOptions } from './main.js';

export interface RunVerbOptions extends GlobalOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  ignoreCgroupLimits?: boolean;
  detach?: boolean;
}

function runOptions(o: RunVerbOptions): RunOptions {
  return {
    id: o.id,
    bundle: resolve(o.bundle),
    stateRoot: o.root,
    pidFile: o.pidFile,
    consoleSocket: o.consoleSocket,
    ignoreCgroupLimits: o.ignoreCgroupLimits,
    systemdCgroup: o.systemdCgroup,
    debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
  };
}

export async function runVerb(o: RunVerbOptions): Promise<number> {
  const opts = runOptions(o);
  const spec = loadSpec(opts.bundle);
  if (!o.detach) return runForeground(spec, opts);
  await runDetached(spec, { ...opts, create: false });
  return 0;
}

export async function createVerb(o: RunVerbOptions): Promise<void> {
  const opts = runOptions(o);
  await runDetached(loadSpec(opts.bundle), { ...opts, create: true });
}
