// /etc/resolv.conf and /etc/hosts for a container whose network launch chose: written into
// its state directory and bound over the root filesystem's own (as podman does), so the
// bundle is not changed and the files go with the state. A mount of the config's own on
// either path wins.
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fromNodeError } from '../errors.js';
import { readText } from '../host.js';
import type { Spec } from '../spec/schema.js';
import type { NetworkDecision } from './decide.js';

/** slirp4netns's fixed addresses (its defaults for 10.0.2.0/24). */
export const SLIRP = { address: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3' } as const;

/** The address pasta forwards DNS queries from (--dns-forward) to the host's resolver, as
 * podman 5 does: link-local, so it never clashes with a real server. */
export const PASTA_DNS = '169.254.1.1';

/** Host names that reach the host's loopback from inside (podman's, and docker's): written
 * only where they do (--network host, or a helper's :host-loopback). */
export const HOST_NAMES = ['host.containers.internal', 'host.docker.internal'];

export interface HostRoute {
  iface: string;
  /** The default IPv4 gateway: pasta maps it to the host's loopback when asked. */
  gateway: string;
  /** The interface's IPv4 address: pasta gives the container the same one. */
  address?: string;
}

/** The host's IPv4 default route from /proc/net/route (hex, little-endian), or undefined. */
export function defaultRoute(table = readText('/proc/net/route'), ifaces = networkInterfaces()): HostRoute | undefined {
  for (const line of table.split('\n').slice(1)) {
    const [iface, dest, gw, flags, , , , mask] = line.trim().split(/\s+/);
    // RTF_UP | RTF_GATEWAY, destination and mask 0: the default route.
    if (!iface || dest !== '00000000' || mask !== '00000000' || (parseInt(flags ?? '0', 16) & 3) !== 3) continue;
    const n = parseInt(gw!, 16);
    const gateway = [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
    const address = ifaces[iface]?.find((a) => a.family === 'IPv4')?.address;
    return { iface, gateway, ...(address ? { address } : {}) };
  }
  return undefined;
}

/** The container's resolv.conf: its name server, and the host's search and options lines. */
export function resolvConf(nameservers: readonly string[], host = readText('/etc/resolv.conf')): string {
  const kept = host.split('\n').filter((l) => /^\s*(search|domain|options)\s/.test(l));
  return [...nameservers.map((n) => `nameserver ${n}`), ...kept].join('\n') + '\n';
}

export function hostsFile(entries: { address?: string; gateway?: string; hostname?: string }): string {
  const lines = ['127.0.0.1\tlocalhost localhost.localdomain', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (entries.hostname) lines.push(`${entries.address ?? '127.0.1.1'}\t${entries.hostname}`);
  if (entries.gateway) lines.push(`${entries.gateway}\t${HOST_NAMES.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** The two files' contents for a decision, or undefined when launch leaves /etc alone. */
export function networkFiles(d: NetworkDecision, hostname: string | undefined, route = d.mode === 'pasta' ? defaultRoute() : undefined): { 'resolv.conf': string; hosts: string } | undefined {
  switch (d.mode) {
    case 'pasta':
      return { 'resolv.conf': resolvConf([PASTA_DNS]), hosts: hostsFile({ address: route?.address, gateway: d.hostLoopback ? route?.gateway : undefined, hostname }) };
    case 'slirp4netns':
      return { 'resolv.conf': resolvConf([SLIRP.dns]), hosts: hostsFile({ address: SLIRP.address, gateway: d.hostLoopback ? SLIRP.gateway : undefined, hostname }) };
    case 'host': {
      // The host's own files: the same network, the same names (its 127.0.0.53 works here).
      const hosts = `${readText('/etc/hosts') || hostsFile({})}127.0.0.1\t${HOST_NAMES.join(' ')}\n`;
      return { 'resolv.conf': readText('/etc/resolv.conf'), hosts };
    }
    default:
      return undefined;
  }
}

/** Write the files into `dir` (the state directory) and bind them over the container's;
 * `source` says what the mount names for a file written (default: its path). */
export function withNetworkFiles(spec: Spec, dir: string, files: Record<string, string>, source = (file: string) => file): Spec {
  const mounts = [...(spec.mounts ?? [])];
  for (const [name, text] of Object.entries(files)) {
    const destination = `/etc/${name}`;
    if (mounts.some((m) => m.destination.replace(/\/+$/, '') === destination)) continue;
    const file = join(dir, name);
    try {
      // Readable by the container's users, whoever they map to on the host.
      writeFileSync(file, text, { mode: 0o644 });
    } catch (err) {
      throw fromNodeError('state', 'cannot write', err, { file });
    }
    mounts.push({ destination, type: 'bind', source: source(file), options: ['bind', 'rprivate'] });
  }
  return { ...spec, mounts };
}
