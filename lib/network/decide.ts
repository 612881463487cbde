// The network a container gets, decided before anything is made: which helper (if any) will
// connect its namespace, and the config's linux.namespaces adjusted to match. Pure apart from
// looking for the helper programs and /dev/net/tun (and its driver), so it is tested without a
// container.
import { accessSync, constants, existsSync } from 'node:fs';
import { specError, usageError } from '../errors.js';
import { findExecutable } from '../host.js';
import type { Spec } from '../spec/schema.js';
import type { NetworkMode, NetworkRequest, Publish } from './options.js';

export type Helper = 'pasta' | 'slirp4netns';

export interface NetworkDecision {
  /** The config to run: a network namespace added (a helper needs one) or removed (host). */
  spec: Spec;
  /** What launch does: connect the namespace with a helper, share the host's, leave it with
   * loopback only (none), or leave the config's choice alone (a namespace joined by path, no
   * namespace at all, or `create` without a request). */
  mode: Helper | 'host' | 'none' | 'config';
  /** The helper's program: set exactly when mode is a helper. */
  program?: string;
  /** The helper maps its gateway to the host's 127.0.0.1 (asked for with :host-loopback). */
  hostLoopback: boolean;
  publish: Publish[];
  /** For --debug. */
  notes: string[];
  /** For stderr, without --debug: the container lacks the network it was asked for (auto
   * found no helper that can run), with why and the fix. Asking for `none` silences it. */
  warning?: string;
}

/** Why this user cannot open /dev/net/tun for reading and writing. */
export interface TunFailure {
  /** access(2)'s errno code: EACCES (the node's mode), ENOENT (no node), ... */
  errno: string;
  /** /sys/class/misc/tun exists: the driver is there (loaded or built in), so a missing node
   * is missing from this /dev alone, and `modprobe tun` would not bring it. */
  loaded: boolean;
}

export interface HelperFacts {
  /** The program, when installed. */
  find(helper: Helper): string | undefined;
  /** What stops this user from using /dev/net/tun, or undefined when it can. */
  tun(): TunFailure | undefined;
  /** The user launch runs as (named in the message; root needs no sudo). */
  uid(): number;
}

const TUN = '/dev/net/tun';

export const hostHelperFacts: HelperFacts = {
  find: (h) => findExecutable(h),
  tun() {
    try {
      accessSync(TUN, constants.R_OK | constants.W_OK);
      return undefined;
    } catch (err) {
      return { errno: (err as NodeJS.ErrnoException).code ?? 'EIO', loaded: existsSync('/sys/class/misc/tun') };
    }
  },
  uid: () => process.getuid!(),
};

/** The one text for an unusable /dev/net/tun, cause and the command that fixes it: the error
 * of -p and of an explicit helper, and the warning when auto falls back to loopback only. The
 * command is what a user can paste, so it is chosen by the errno, not guessed at. */
export function tunProblem(f: TunFailure, uid: number): string {
  const sudo = uid === 0 ? '' : 'sudo ';
  const why = "and user-mode networking opens it in the container's namespace";
  // Distributions ship it 0666 (machines that harden it to 0600 exist, this project's CI among
  // them): a tap device opened by an unprivileged user reaches nothing that user could not.
  if (f.errno === 'EACCES') return `\`${TUN}\` is not readable and writable by uid ${uid} (EACCES), ${why}; fix: \`${sudo}chmod 0666 ${TUN}\` (the mode distributions ship)`;
  if (f.errno === 'ENOENT') {
    // The driver loaded makes its node itself (devtmpfs); loaded with no node is a /dev of its
    // own (a container's), where only mknod helps: 10:200 is tun's fixed misc minor.
    const fix = f.loaded ? `${sudo}mkdir -p /dev/net && ${sudo}mknod -m 0666 ${TUN} c 10 200` : `${sudo}modprobe tun`;
    return `\`${TUN}\` does not exist (ENOENT), ${why}; fix: \`${fix}\``;
  }
  return `\`${TUN}\` cannot be opened for reading and writing by uid ${uid} (${f.errno}), ${why}`;
}

/** Why `helper` cannot run here, or undefined. */
function helperProblem(helper: Helper, facts: HelperFacts): string | undefined {
  if (!facts.find(helper)) return `${helper} is not installed (Debian: apt-get install ${helper === 'pasta' ? 'passt' : 'slirp4netns'})`;
  const tun = facts.tun();
  return tun && tunProblem(tun, facts.uid());
}

export function decideNetwork(spec: Spec, req: NetworkRequest, verb: 'run' | 'create', facts: HelperFacts = hostHelperFacts): NetworkDecision {
  const notes: string[] = [];
  const namespaces = spec.linux?.namespaces ?? [];
  const index = namespaces.findIndex((n) => n.type === 'network');
  const entry = index < 0 ? undefined : namespaces[index];
  const joined = entry?.path ? `linux.namespaces[${index}].path` : undefined;
  // Unasked, the config's network as runc makes it (a new namespace has loopback only): a
  // helper is a way out of the namespace, and -p asks for one as --network auto would.
  const mode: NetworkMode | undefined = req.mode ?? (verb === 'run' && req.publish.length ? 'auto' : undefined);
  const named = `${mode}${req.hostLoopback ? ':host-loopback' : ''}`;
  // Where the mode was asked for, as the start of a line: the flag, or the annotation's path.
  const asked = req.modeFrom === '--network' ? `--network ${named}` : `${req.modeFrom}: ${named}`;
  const fail = (msg: string) => (req.modeFrom === '--network' ? usageError(`--network ${named}: ${msg}`) : specError(`${named}: ${msg}`, { configPath: req.modeFrom }));
  const hostLoopback = Boolean(req.hostLoopback);
  const withNamespaces = (list: typeof namespaces): Spec => ({ ...spec, linux: { ...spec.linux, namespaces: list } });
  const publishing = (what: string) => {
    if (!req.publish.length) return;
    const msg = `publishing ports needs pasta or slirp4netns; ${what}`;
    throw req.publishFrom === '--publish' ? usageError(`--publish: ${msg}`) : specError(msg, { configPath: req.publishFrom });
  };
  // -p with no namespace in the config (the rootless default, an image run): publishing needs
  // a namespace and a helper, so ask for them as --network auto would for a namespace.
  if (mode === 'auto' && !entry && req.publish.length) {
    const d = decideNetwork(withNamespaces([...namespaces, { type: 'network' }]), req, verb, facts);
    d.notes.unshift('--publish: added a network namespace for the user-mode network (the config has none)');
    return d;
  }
  if (mode === undefined || (mode === 'auto' && (!entry || joined))) {
    // The caller's own network (podman, CNI: a namespace by path) or the host's: not ours.
    publishing(joined ? `the container joins the network namespace at ${joined}` : entry ? 'this verb leaves the network to its caller' : 'the config has no network namespace (the host network)');
    return { spec, mode: 'config', hostLoopback: false, publish: [], notes };
  }
  if (joined) throw fail(`the config joins the network namespace at ${joined}; remove its path to let launch make one`);
  if (mode === 'host') {
    publishing('--network host already uses the host\'s ports');
    if (entry) notes.push(`--network host: the container shares the host's network namespace (linux.namespaces[${index}] left out)`);
    return { spec: entry ? withNamespaces(namespaces.filter((_, i) => i !== index)) : spec, mode: 'host', hostLoopback: false, publish: [], notes };
  }
  const own = entry ? spec : withNamespaces([...namespaces, { type: 'network' }]);
  if (!entry) notes.push(`network ${mode}: added a network namespace (the config has none)`);
  if (mode === 'none') {
    publishing('--network none has no way in');
    return { spec: own, mode: 'none', hostLoopback: false, publish: [], notes };
  }
  if (mode === 'auto') {
    const problems: string[] = [];
    for (const helper of ['pasta', 'slirp4netns'] as const) {
      const problem = helperProblem(helper, facts);
      if (!problem) return { spec: own, mode: helper, program: facts.find(helper)!, hostLoopback, publish: req.publish, notes };
      problems.push(problem);
    }
    const why = [...new Set(problems)].join('; ');
    publishing(`neither can run here: ${why}`);
    // A warning, not a --debug note: auto was asked for by name (a bundle's annotation, or
    // --network), and a container that quietly cannot reach anything looks like a bug of its
    // own. Not an error: auto means "what this machine allows", and loopback is that here.
    return { spec: own, mode: 'none', hostLoopback: false, publish: [], notes, warning: `${asked}: loopback only, no user-mode networking: ${why}` };
  }
  const problem = helperProblem(mode, facts);
  if (problem) throw fail(problem);
  return { spec: own, mode, program: facts.find(mode)!, hostLoopback, publish: req.publish, notes };
}
