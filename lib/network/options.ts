// What the caller asked of the network: `--network MODE` and `-p/--publish` on `run` (and
// `launch DIR`, `run --image`), or the same two things as annotations in config.json, so that
// a bundle can say it once for whoever runs it. The command line wins over the annotations.
import { specError, usageError } from '../errors.js';
import type { Spec } from '../spec/schema.js';

/** The annotations a config.json can choose its network with (documented in the README). */
export const NETWORK_ANNOTATION = 'run.launch.network';
export const PUBLISH_ANNOTATION = 'run.launch.publish';

export const NETWORK_MODES = ['pasta', 'slirp4netns', 'none', 'host', 'auto'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];
/** `pasta:host-loopback`: the one option of a user-mode network. Without it the container
 * cannot reach what the host binds to 127.0.0.1 (databases, agents, admin ports: reachable
 * from the host's own users only), as with runc or any other machine on the network. */
export const HOST_LOOPBACK = 'host-loopback';
const LOOPBACK_MODES: readonly NetworkMode[] = ['pasta', 'slirp4netns', 'auto'];

/** -p [IP:]HOST:CONTAINER[/tcp|udp]: a port of the host forwarded into the container. */
export interface Publish {
  proto: 'tcp' | 'udp';
  /** The host address to listen on; every address when absent. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
}

export interface NetworkRequest {
  /** undefined: the config as it is (runc's network), or `auto` for `run -p`. */
  mode?: NetworkMode;
  /** `:host-loopback` was asked for: the helper maps its gateway to the host's 127.0.0.1. */
  hostLoopback?: boolean;
  publish: Publish[];
  /** Where the choice came from, for error lines: `--network`, or the annotation's path. */
  modeFrom: string;
  publishFrom: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function port(text: string, what: string, fail: (msg: string) => Error): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw fail(`${what} \`${text}\` is not a port number from 1 to 65535`);
  return n;
}

/** One publish spec; `fail` makes the error (a usage error for a flag, a spec error for the
 * annotation), so the line names where the bad text was. */
export function parsePublish(text: string, fail: (msg: string) => Error): Publish {
  const slash = text.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : text.slice(slash + 1);
  if (proto !== 'tcp' && proto !== 'udp') throw fail(`\`${text}\`: the protocol must be tcp or udp, not \`${proto}\``);
  const parts = (slash < 0 ? text : text.slice(0, slash)).split(':');
  if (parts.length < 2 || parts.length > 3) throw fail(`\`${text}\` is not [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`);
  const hostIp = parts.length === 3 ? parts[0]! : undefined;
  if (hostIp !== undefined && !IPV4.test(hostIp)) throw fail(`\`${text}\`: \`${hostIp}\` is not an IPv4 address`);
  const hostPort = port(parts[parts.length - 2]!, 'host port', fail);
  const containerPort = port(parts[parts.length - 1]!, 'container port', fail);
  return { proto, ...(hostIp ? { hostIp } : {}), hostPort, containerPort };
}

function mode(text: string, fail: (msg: string) => Error): { mode: NetworkMode; hostLoopback?: true } {
  const [name, option, ...more] = text.split(':');
  if (!(NETWORK_MODES as readonly string[]).includes(name!)) throw fail(`\`${text}\` is not one of ${NETWORK_MODES.join(', ')} (pasta, slirp4netns and auto may end in :${HOST_LOOPBACK})`);
  const m = name as NetworkMode;
  if (option === undefined) return { mode: m };
  if (option !== HOST_LOOPBACK || more.length) throw fail(`\`${text}\`: the only option is :${HOST_LOOPBACK}`);
  if (!LOOPBACK_MODES.includes(m)) throw fail(`\`${text}\`: :${HOST_LOOPBACK} is for ${LOOPBACK_MODES.join(', ')} (${m === 'host' ? 'host shares the host\'s loopback already' : 'none has no way out'})`);
  return { mode: m, hostLoopback: true };
}

/** The request from the command line (if given) over the config's annotations. */
export function networkRequest(spec: Spec, cli: { network?: string; publish?: readonly string[] }): NetworkRequest {
  const notes = spec.annotations ?? {};
  const annotated = (key: string) => `annotations["${key}"]`;
  let req: NetworkRequest = { publish: [], modeFrom: '--network', publishFrom: '--publish' };
  if (cli.network !== undefined) req = { ...req, ...mode(cli.network, (m) => usageError(`--network: ${m}`)) };
  else if (notes[NETWORK_ANNOTATION] !== undefined) {
    const at = annotated(NETWORK_ANNOTATION);
    req = { ...req, ...mode(notes[NETWORK_ANNOTATION], (m) => specError(m, { configPath: at })), modeFrom: at };
  }
  if (cli.publish?.length) req.publish = cli.publish.map((p) => parsePublish(p, (m) => usageError(`--publish: ${m}`)));
  else if (notes[PUBLISH_ANNOTATION]) {
    const at = annotated(PUBLISH_ANNOTATION);
    const items = notes[PUBLISH_ANNOTATION].split(',').map((s) => s.trim()).filter(Boolean);
    req = { ...req, publish: items.map((p) => parsePublish(p, (m) => specError(m, { configPath: at }))), publishFrom: at };
  }
  const seen = new Set<string>();
  for (const p of req.publish) {
    const key = `${p.hostIp ?? '*'}:${p.hostPort}/${p.proto}`;
    const msg = `host port ${p.hostPort}/${p.proto} is published twice`;
    if (seen.has(key)) throw req.publishFrom === '--publish' ? usageError(`--publish: ${msg}`) : specError(msg, { configPath: req.publishFrom });
    seen.add(key);
  }
  return req;
}
