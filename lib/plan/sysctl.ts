// Which linux.sysctl entries a container may set. /proc/sys is only partly namespaced: a key
// outside the container's own namespaces (vm.*, most of kernel.*, fs.*, net.* without a network
// namespace of its own) is the host's, and writing it as root changes the host (core_pattern
// makes the host's kernel run a program as root at the next crash). The rule is runc's
// (libcontainer/configs/validate, sysctl()), applied to the file the plan writes.
import { statSync } from 'node:fs';
import { specError } from '../errors.js';
import { formatConfigPath } from '../spec/load.js';

/** The container's namespace of a type: none (the host's), a new one, or one joined by path. */
export type NsOf = (type: 'ipc' | 'uts' | 'network') => { path?: string } | undefined;

/** Whether the namespace file `path` is launch's own one of `type` (the "host's" as runc means
 * it: the current one, not the initial one). Throws a Node error when `path` cannot be read. */
export type IsOwnNs = (type: 'ipc' | 'uts' | 'network', path: string) => boolean;

// The ipc namespace's own (ipc/ipc_sysctl.c): runc's list, and the *_next_id that checkpoint
// and restore set (also per namespace since Linux 3.x).
const IPC_KEYS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni',
  'kernel.shm_rmid_forced', 'kernel.msg_next_id', 'kernel.sem_next_id', 'kernel.shm_next_id',
]);

/** The key as the dotted name of the file the plan writes (`/proc/sys/<key, dots as slashes>`):
 * `kernel/shmmax`, `kernel.shmmax` and `kernel//shmmax` are the same file, judged the same. */
export function sysctlFileName(key: string): string {
  return key.split(/[./]/).filter(Boolean).join('.');
}

/** Throws a spec error naming `linux.sysctl["<key>"]` unless the key is in a namespace of the
 * container's own. A namespace joined by path counts unless it is launch's own (runc checks this
 * for the network namespace; an ipc or uts one that is launch's is as much the host's). */
export function checkSysctl(key: string, nsOf: NsOf, isOwnNs: IsOwnNs): void {
  const configPath = formatConfigPath(['linux', 'sysctl', key]);
  const name = sysctlFileName(key);
  const own = (type: 'ipc' | 'uts' | 'network'): boolean => {
    const ns = nsOf(type);
    if (!ns) return false;
    if (!ns.path) return true;
    try {
      return !isOwnNs(type, ns.path);
    } catch {
      // A path that cannot be read now cannot be joined either: its SETNS, before the sysctl
      // writes, fails the start and says why.
      return true;
    }
  };
  const need = (type: 'ipc' | 'uts' | 'network') => {
    if (own(type)) return;
    throw specError(`needs ${type === 'ipc' ? 'an' : 'a'} ${type} namespace of the container's own: in the host's, it would change the host's value`, { configPath });
  };
  if (IPC_KEYS.has(name) || name.startsWith('fs.mqueue.')) return need('ipc');
  if (name.startsWith('net.')) return need('network');
  if (name === 'kernel.domainname') return need('uts');
  if (name === 'kernel.hostname') throw specError('conflicts with the `hostname` field: set that instead', { configPath });
  throw specError('is not namespaced: it is the host\'s, and the container may not set it', { configPath });
}

const NS_FILE = { ipc: 'ipc', uts: 'uts', network: 'net' } as const;

/** IsOwnNs by the namespace files' device and inode, as runc's isHostNetNS. */
export const isOwnNamespace: IsOwnNs = (type, path) => {
  const ours = statSync(`/proc/self/ns/${NS_FILE[type]}`);
  const theirs = statSync(path);
  return ours.dev === theirs.dev && ours.ino === theirs.ino;
};
