// adaptOwnerOptions: a mount's uid=/gid= the user namespace does not map (lib/plan/ownerids.ts).
import { expect, it } from 'vitest';
import { adaptOwnerOptions } from '../../lib/plan/ownerids.js';
import { thrown } from '../helpers/thrown.js';

const SELF = { uid: [{ containerID: 0, hostID: 1000, size: 1 }], gid: [{ containerID: 0, hostID: 1000, size: 1 }] };
const WIDE = { uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [{ containerID: 0, hostID: 100000, size: 65536 }] };
const DEVPTS = ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'];

it('drops devpts\'s unmapped gid= with a note naming the config path', () => {
  const notes: string[] = [];
  expect(adaptOwnerOptions('devpts', DEVPTS, SELF, 'mounts[2]', notes)).toEqual(['newinstance', 'ptmxmode=0666', 'mode=0620']);
  expect(notes).toEqual(['mounts[2].options: gid=5 is not mapped in the user namespace: dropped']);
});

it('keeps ids the mappings cover, and everything when the mappings are unknown', () => {
  const notes: string[] = [];
  expect(adaptOwnerOptions('devpts', DEVPTS, WIDE, 'mounts[2]', notes)).toEqual(DEVPTS);
  expect(adaptOwnerOptions('devpts', ['gid=0', 'uid=0'], SELF, 'mounts[2]', notes)).toEqual(['gid=0', 'uid=0']);
  expect(adaptOwnerOptions('devpts', DEVPTS, undefined, 'mounts[2]', notes)).toEqual(DEVPTS);
  expect(notes).toEqual([]);
});

it('refuses an unmapped owner of another filesystem\'s root, pointing at launch spec --rootless', () => {
  const e = thrown(() => adaptOwnerOptions('tmpfs', ['mode=0700', 'gid=1000'], SELF, 'mounts[7]', []), 'spec');
  expect(e.configPath).toBe('mounts[7].options');
  expect(e.message).toContain('`gid=1000` is not mapped in the user namespace');
  expect(e.message).toContain('`launch spec --rootless`');
});
