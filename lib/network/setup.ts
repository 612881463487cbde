// The network of one container start, in the two moments the runtime gives it: before the
// plan (adjust the config, write /etc/resolv.conf and /etc/hosts into the state directory),
// and at the init's first sync, when its namespaces exist and its program has not run yet
// (start the helper). runtime/run.ts calls both; everything it needs to undo is stopHelper.
import { chmodSync } from 'node:fs';
import type { Spec } from '../spec/schema.js';
import { type HelperFacts, type NetworkDecision, decideNetwork, hostHelperFacts } from './decide.js';
import { networkFiles, withNetworkFiles } from './files.js';
import { recordHelper } from './helper.js';
import type { NetworkRequest } from './options.js';

export interface NetworkPlan {
  spec: Spec;
  decision: NetworkDecision;
}

/** Decide, and write the files launch owns into `stateDir` (already claimed). */
export function planNetwork(spec: Spec, req: NetworkRequest, verb: 'run' | 'create', stateDir: string, facts: HelperFacts = hostHelperFacts): NetworkPlan {
  const decision = decideNetwork(spec, req, verb, facts);
  const files = networkFiles(decision, decision.spec.hostname || undefined);
  // Root's container with a user namespace runs as a subordinate uid that must look the files
  // up through this directory (0700 otherwise). state.json stays 0600.
  if (files && process.getuid!() === 0 && decision.spec.linux?.namespaces?.some((n) => n.type === 'user')) chmodSync(stateDir, 0o711);
  return { spec: files ? withNetworkFiles(decision.spec, stateDir, files) : decision.spec, decision };
}

/** Start the helper for the init `pid` (its network namespace made, maybe a user namespace
 * too); returns the helper's pid, recorded in the state directory, or undefined for none. */
export async function connectNetwork(d: NetworkDecision, pid: number, o: { stateDir: string; userns: () => boolean }): Promise<number | undefined> {
  if (d.mode !== 'pasta' && d.mode !== 'slirp4netns') return undefined;
  await (await import('./ports.js')).checkPorts(d.publish);
  const start = { program: d.program!, pid, stateDir: o.stateDir, publish: d.publish, userns: o.userns() };
  // Loaded only when a helper runs (child_process, net): not part of every start.
  const helper = d.mode === 'pasta' ? await (await import('./pasta.js')).startPasta(start) : await (await import('./slirp.js')).startSlirp(start);
  recordHelper(o.stateDir, helper);
  return helper;
}
