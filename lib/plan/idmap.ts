// How the container's user namespace gets its id maps (user_namespaces(7)):
// - root writes /proc/<pid>/{uid,gid}_map itself, any mapping;
// - an ordinary user may write a single mapping of its own id, after "deny" to setgroups;
// - anything more goes through the setuid helpers newuidmap/newgidmap, which check the
//   ranges against /etc/subuid and /etc/subgid (as podman does).
import { specError } from '../errors.js';
import type { HostFacts, IdRange } from '../host.js';
import type { Spec } from '../spec/schema.js';

export interface Mapping { containerID: number; hostID: number; size: number }

export interface IdMap {
  uid: Mapping[];
  gid: Mapping[];
  uidMethod: 'write' | 'helper';
  gidMethod: 'write' | 'helper';
  /** "deny" must go to /proc/<pid>/setgroups before gid_map (unprivileged direct write). */
  setgroupsDeny: boolean;
}

function covered(m: Mapping, own: number, ranges: IdRange[]): boolean {
  if (m.size === 1 && m.hostID === own) return true;
  return ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
}

function method(
  maps: Mapping[], own: number, ranges: IdRange[], helper: string | undefined, kind: 'uid' | 'gid', host: HostFacts,
): 'write' | 'helper' {
  if (host.uid === 0) return 'write';
  const only = maps.length === 1 ? maps[0] : undefined;
  if (only && only.size === 1 && only.hostID === own) return 'write';
  const path = kind === 'uid' ? 'linux.uidMappings' : 'linux.gidMappings';
  const file = kind === 'uid' ? '/etc/subuid' : '/etc/subgid';
  maps.forEach((m, i) => {
    if (!covered(m, own, ranges)) {
      throw specError(
        `host ${kind}s ${m.hostID}-${m.hostID + m.size - 1} are not delegated to ${host.userName ?? `uid ${host.uid}`} in`,
        { configPath: `${path}[${i}]`, file },
      );
    }
  });
  if (!helper) {
    throw specError(`mapping more than your own ${kind} needs new${kind}map (apt-get install uidmap), which is not installed`, {
      configPath: path,
    });
  }
  return 'helper';
}

export function planIdMaps(spec: Spec, host: HostFacts): IdMap {
  const linux = spec.linux ?? {};
  const uid: Mapping[] = (linux.uidMappings ?? []).map((m) => ({ ...m }));
  const gid: Mapping[] = (linux.gidMappings ?? []).map((m) => ({ ...m }));
  // No mappings given: map the caller to root, the rootless default (and runc spec --rootless).
  // Root has no such obvious choice (runc refuses too): say which mappings are missing.
  if (host.uid === 0 && (uid.length === 0 || gid.length === 0)) {
    throw specError('a user namespace needs uid and gid mappings when launch runs as root', {
      configPath: uid.length === 0 ? 'linux.uidMappings' : 'linux.gidMappings',
    });
  }
  if (uid.length === 0) uid.push({ containerID: 0, hostID: host.uid, size: 1 });
  if (gid.length === 0) gid.push({ containerID: 0, hostID: host.gid, size: 1 });
  const uidMethod = method(uid, host.uid, host.subuid, host.newuidmap, 'uid', host);
  const gidMethod = method(gid, host.gid, host.subgid, host.newgidmap, 'gid', host);
  return { uid, gid, uidMethod, gidMethod, setgroupsDeny: host.uid !== 0 && gidMethod === 'write' };
}

export function formatMap(maps: readonly Mapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}
