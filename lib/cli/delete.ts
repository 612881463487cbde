// `launch delete [--force] ID`: remove what is left of a container, its cgroup and its state;
// with --force a container that still runs is killed first, as runc (lib/lifecycle/delete.ts).
import { deleteContainer } from '../lifecycle/delete.js';
import type { GlobalOptions } from './main.js';

export async function deleteVerb(o: GlobalOptions & { id: string; force: boolean }): Promise<void> {
  await deleteContainer({ root: o.root, id: o.id, force: o.force });
}
