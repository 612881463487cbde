// process.apparmorProfile / selinuxLabel -> WRITE_FILE ops (lib/plan/lsm.ts), and where the
// plans put them: before the root changes (run) or the mount namespace is joined (exec).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostFacts, LsmFacts } from '../../lib/host.js';
import { buildExecPlan, buildPlan } from '../../lib/plan/build.js';
import { lsmOps } from '../../lib/plan/lsm.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

const NONE: LsmFacts = { apparmor: false, selinux: false, apparmorExec: '/proc/thread-self/attr/exec' };
const BOTH: LsmFacts = { apparmor: true, selinux: true, apparmorExec: '/proc/thread-self/attr/apparmor/exec' };
const proc = (p: Partial<NonNullable<Spec['process']>>) => ({ cwd: '/', args: ['sh'], ...p });

describe('lsmOps', () => {
  it('asks for the profile and the label at the next exec', () => {
    const ops = lsmOps(proc({ apparmorProfile: 'docker-default', selinuxLabel: 'system_u:system_r:container_t:s0' }), BOTH);
    expect(ops.map((o) => [o.op, o.args, o.origin.configPath])).toEqual([
      ['WRITE_FILE', ['/proc/thread-self/attr/apparmor/exec', 'exec docker-default'], 'process.apparmorProfile'],
      ['WRITE_FILE', ['/proc/thread-self/attr/exec', 'system_u:system_r:container_t:s0'], 'process.selinuxLabel'],
    ]);
    expect(lsmOps(proc({}), NONE)).toEqual([]);
  });

  it('refuses a module the host does not run, naming the config path (never runs unconfined)', () => {
    expect(thrown(() => lsmOps(proc({ apparmorProfile: 'p' }), NONE), 'spec')).toMatchObject({ configPath: 'process.apparmorProfile' });
    expect(thrown(() => lsmOps(proc({ selinuxLabel: 'l' }), undefined), 'spec')).toMatchObject({ configPath: 'process.selinuxLabel' });
  });
});

describe('placement', () => {
  const bundle = mkdtempSync(join(tmpdir(), 'launch-lsm-'));
  mkdirSync(join(bundle, 'rootfs'));
  afterAll(() => rmSync(bundle, { recursive: true, force: true }));
  const host: HostFacts = { uid: 0, gid: 0, userName: 'root', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined, capLastCap: 40, cgroupVersion: 2, rootless: false, lsm: BOTH };

  it('run: right after the first sync, before the root filesystem', () => {
    const spec = defaultSpec({ rootless: false });
    delete spec.linux!.seccomp;
    spec.process!.apparmorProfile = 'p';
    const names = buildPlan(spec, { bundle, host }).ops.map((o) => o.op);
    expect(names.slice(0, 5)).toEqual(['SYNC', 'LOOPBACK', 'WRITE_FILE', 'MOUNT_ROOT_PROPAGATION', 'ROOTFS']);
  });

  it('exec: before the container\'s mount namespace is joined', () => {
    const p = buildExecPlan(proc({ selinuxLabel: 'l' }), { host, joins: [{ type: 'mount', path: '/proc/self/fd/9', file: 'mnt' }] });
    expect(p.ops.map((o) => o.op).slice(0, 3)).toEqual(['WRITE_FILE', 'SETNS', 'SYNC']);
  });
});
