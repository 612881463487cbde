import { resolve } from 'node:path';
import { loadSpec } from '../spec/load.js';
import { runForeground } from '../runtime/run.js';
import type { GlobalOptions } from './main.js';


export async function runVerb(o: GlobalOptions & { id: string; bundle: string; pidFile?: string }): Promise<number> {
  const bundle = resolve(o.bundle);
  const spec = loadSpec(bundle);
  return runForeground(spec, {
    id: o.id,
    bundle,
    stateRoot: o.root,
    pidFile: o.pidFile,
    debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
  });
}
