// The network of one container start, in the two moments the runtime gives it: before the
// plan (adjust the config, write /etc/resolv.conf and /etc/hosts into the state directory),
// and at the init's first sync, when its namespaces exist and its program has not run yet
// (start the helper). runtime/run.ts calls both; everything it needs to undo is stopHelper.
import type { Spec } from '../spec/schema.js';
import { type HelperFacts, type NetworkDecision, decideNetwork, hostHelperFacts } from './decide.js';
import { networkFiles, withNetworkFiles } from './files.js';
import { recordHelper } from './helper.js';
import type { NetworkRequest } from './options.js';

export interface NetworkPlan {
  spec: Spec;
  decision: NetworkDecision;
  /** Detached trees (open_tree) of the files, which the child binds from /proc/self/fd (see
   * planNetwork); the caller closes them once the child has started. */
  fds: number[];
  /** Their /proc/self/fd paths, as the mounts name them (PlanOptions.treeSources). */
  treeSources: Set<string>;
}

/** Decide, and write the files launch owns into `stateDir` (already claimed). */
export function planNetwork(
  spec: Spec,
  req: NetworkRequest,
  verb: 'run' | 'create',
  stateDir: string,
  o: { openTree: (path: string) => number; facts?: HelperFacts },
): NetworkPlan {
  const facts = o.facts ?? hostHelperFacts;
  const decision = decideNetwork(spec, req, verb, facts);
  const files = networkFiles(decision, decision.spec.hostname || undefined);
  const fds: number[] = [];
  const treeSources = new Set<string>();
  if (!files) return { spec: decision.spec, decision, fds, treeSources };
  // Root's container with a user namespace mounts as a subordinate uid, which may not search
  // the 0700 state root: launch clones each file's mount (open_tree) for the child to attach,
  // as runc does for such sources. The clone copies the fds.
  const viaTree = process.getuid!() === 0 && decision.spec.linux?.namespaces?.some((n) => n.type === 'user');
  const source = (file: string) => {
    if (!viaTree) return file;
    const path = `/proc/self/fd/${fds[fds.push(o.openTree(file)) - 1]}`;
    treeSources.add(path);
    return path;
  };
  return { spec: withNetworkFiles(decision.spec, stateDir, files, source), decision, fds, treeSources };
}

/** Start the helper for the init `pid` (its network namespace made, maybe a user namespace
 * too); returns the helper's pid, recorded in the state directory, or undefined for none. */
export async function connectNetwork(d: NetworkDecision, pid: number, o: { stateDir: string; userns: () => boolean }): Promise<number | undefined> {
  if (d.program === undefined) return undefined;
  await (await import('./ports.js')).checkPorts(d.publish);
  const start = { program: d.program, pid, stateDir: o.stateDir, publish: d.publish, userns: o.userns(), hostLoopback: d.hostLoopback };
  // Loaded only when a helper runs (child_process, net): not part of every start.
  const helper = d.mode === 'pasta' ? await (await import('./pasta.js')).startPasta(start) : await (await import('./slirp.js')).startSlirp(start);
  recordHelper(o.stateDir, helper);
  return helper;
}
