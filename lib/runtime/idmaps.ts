// The parent's half of the USERMAP stage: give the child's user namespace its id maps.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fromNodeError, hostError } from '../errors.js';
import { formatMap, type IdMap, type Mapping } from '../plan/idmap.js';

function writeProc(pid: number, name: string, text: string, configPath: string): void {
  const file = `/proc/${pid}/${name}`;
  try {
    writeFileSync(file, text);
  } catch (err) {
    throw fromNodeError('host', 'cannot write', err, { configPath, file });
  }
}

function runHelper(helper: string, pid: number, maps: Mapping[], configPath: string): void {
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  const r = spawnSync(helper, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.error) throw fromNodeError('host', 'cannot run', r.error, { configPath, file: helper });
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    throw hostError(`failed (exit ${r.status ?? r.signal}${why ? `: ${why}` : ''})`, { configPath, file: helper });
  }
}

export function writeIdMaps(pid: number, map: IdMap, helpers: { newuidmap?: string; newgidmap?: string }): void {
  if (map.uidMethod === 'helper') runHelper(helpers.newuidmap!, pid, map.uid, 'linux.uidMappings');
  else writeProc(pid, 'uid_map', formatMap(map.uid), 'linux.uidMappings');
  if (map.setgroupsDeny) writeProc(pid, 'setgroups', 'deny', 'linux.gidMappings');
  if (map.gidMethod === 'helper') runHelper(helpers.newgidmap!, pid, map.gid, 'linux.gidMappings');
  else writeProc(pid, 'gid_map', formatMap(map.gid), 'linux.gidMappings');
}
