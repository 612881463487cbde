// process.apparmorProfile and process.selinuxLabel: the label the container's program gets at
// its exec. The child writes it to its own /proc/thread-self/attr file (WRITE_FILE) while the
// host's /proc is still its /proc (before the rootfs, or before joining the container's mount
// namespace for `exec`); the kernel applies it at the next execve, as runc's
// apparmor.ApplyProfile and selinux.SetExecLabel do. A config that asks for a module the host
// does not run is refused: running the program unconfined instead would be a silent downgrade.
import { specError } from '../errors.js';
import type { LsmFacts } from '../host.js';
import type { Spec } from '../spec/schema.js';
import type { Op } from './ops.js';

export function lsmOps(proc: Spec['process'], lsm: LsmFacts | undefined): Op[] {
  const ops: Op[] = [];
  if (proc?.apparmorProfile) {
    if (!lsm?.apparmor) throw specError('AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled)', { configPath: 'process.apparmorProfile' });
    ops.push({
      op: 'WRITE_FILE',
      args: [lsm.apparmorExec, `exec ${proc.apparmorProfile}`],
      origin: { configPath: 'process.apparmorProfile', what: `ask for AppArmor profile \`${proc.apparmorProfile}\` via`, file: lsm.apparmorExec },
    });
  }
  if (proc?.selinuxLabel) {
    if (!lsm?.selinux) throw specError('SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)', { configPath: 'process.selinuxLabel' });
    const file = '/proc/thread-self/attr/exec';
    ops.push({
      op: 'WRITE_FILE',
      args: [file, proc.selinuxLabel],
      origin: { configPath: 'process.selinuxLabel', what: `ask for SELinux label \`${proc.selinuxLabel}\` via`, file },
    });
  }
  return ops;
}
