// A container without a mount namespace of its own (linux.namespaces has no `mount`), as runc
// runs it: the process sees the host's mounts and is chroot'ed into root.path (runc's chroot()
// when there is no NEWNS). Nothing may be mounted then: every mount would land in the host's
// own mount namespace. So what needs a mount is refused with its config path, as runc refuses
// maskedPaths and readonlyPaths ("unable to restrict sys entries without a private MNT
// namespace"); runc would also remount the host's mount under root.path read-only for
// root.readonly, and mount `mounts` on the host: launch refuses both.
import { specError } from '../errors.js';
import type { Spec } from '../spec/schema.js';
import type { Op } from './ops.js';
import { ROOT_OVERLAY, existingRootfs } from './rootfs.js';

const NEEDS_MOUNTNS = 'needs a mount namespace of its own (add {"type": "mount"} to linux.namespaces): without one, launch would mount on the host';

/** Refuse what cannot be done without mounting; the CHROOT into root.path. */
export function noMountNsOps(spec: Spec, bundle: string): Op[] {
  const refuse = (configPath: string) => {
    throw specError(NEEDS_MOUNTNS, { configPath });
  };
  const linux = spec.linux ?? {};
  if (spec.mounts?.length) refuse('mounts[0]');
  if (linux.maskedPaths?.length) refuse('linux.maskedPaths[0]');
  if (linux.readonlyPaths?.length) refuse('linux.readonlyPaths[0]');
  if (spec.root?.readonly) refuse('root.readonly');
  if (linux.rootfsPropagation) refuse('linux.rootfsPropagation');
  // Nodes would be made in the bundle's own /dev on the host's disk, not in a /dev of the container's.
  if (linux.devices?.length) refuse('linux.devices[0]');
  if (spec.annotations?.[ROOT_OVERLAY] !== undefined) refuse(`annotations["${ROOT_OVERLAY}"]`);
  const root = existingRootfs(spec, bundle);
  return [{ op: 'CHROOT', args: [root], origin: { configPath: 'root.path', what: 'chroot into', file: root } }];
}
