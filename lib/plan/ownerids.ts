// The `uid=` and `gid=` data options of a mount made in a user namespace. The kernel reads
// them as ids of the mounting process's user namespace and refuses (EINVAL) an id that
// namespace does not map. A plain `launch spec` (or `runc spec`) config mounts devpts with
// `gid=5` (the tty group), and run as an ordinary user the namespace launch adds maps only
// that user's own ids to 0: the shorthand `launch DIR` promises rootless without editing the
// config, so the options are adapted here, in the plan, the way `runc spec --rootless`
// writes them. Only an id that is not mapped is touched: a config whose mappings cover it
// keeps it.
import { specError } from '../errors.js';
import type { Mapping } from './idmap.js';

export interface ContainerIds {
  uid: readonly Mapping[];
  gid: readonly Mapping[];
}

const mapped = (maps: readonly Mapping[], id: number) => maps.some((m) => id >= m.containerID && id - m.containerID < m.size);

// devpts's gid= only sets the group of the pty nodes created later; without it they get the
// opener's group, which is what `runc spec --rootless` gives them. Other filesystems' uid=
// and gid= own their root directory: dropping them would change who may write there, so
// those are refused with the way out instead.
const DROPPABLE = new Set(['devpts']);

/** `data` (the mount's data options, mountopts.ts) without the owner options `ids` does not
 * map, for a filesystem where that is harmless (a --debug note says so); refused otherwise.
 * `ids` undefined: the mappings are unknown (a joined user namespace), left to the kernel. */
export function adaptOwnerOptions(
  type: string, data: readonly string[], ids: ContainerIds | undefined, configPath: string, notes: string[],
): string[] {
  if (!ids) return [...data];
  const out: string[] = [];
  for (const opt of data) {
    const m = /^(uid|gid)=(\d+)$/.exec(opt);
    if (!m || mapped(m[1] === 'uid' ? ids.uid : ids.gid, Number(m[2]))) {
      out.push(opt);
      continue;
    }
    if (DROPPABLE.has(type)) {
      notes.push(`${configPath}.options: ${opt} is not mapped in the user namespace: dropped`);
      continue;
    }
    throw specError(
      `\`${opt}\` is not mapped in the user namespace: map it, or for a rootless config start from \`launch spec --rootless\``,
      { configPath: `${configPath}.options` },
    );
  }
  return out;
}
