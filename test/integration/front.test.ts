// The native front (addon/front) against the Node path, verb by verb: the same command line
// through both must print the same bytes and exit the same way (LAUNCH_NO_FRONT=1 sends
// everything to Node). And the front must really be what answered: under a 400 MB address
// space limit Node cannot start at all (V8 reserves more), while the front needs a few KB.
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { processesWith } from '../helpers/procs.js';
import { type Result, command, detachedVerb, launchSync, spawnOptions, stateRoot } from '../helpers/launch.js';

afterAll(cleanupBase);

eachMode('the native front', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const uniq = (p: string) => `${p}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
  const viaNode = (args: string[]) => launchSync(who(), args, { env: { LAUNCH_NO_FRONT: '1' } });
  /** Under the limit only the front can answer: a fall through to Node fails. */
  function viaFront(args: string[]): Result {
    const [file, argv] = command(who(), args);
    const r = spawnSync('/bin/sh', ['-c', 'ulimit -v 400000; exec "$@"', 'sh', file, ...argv], { ...spawnOptions(who()), encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }
  const same = (args: string[]) => {
    const front = viaFront(args);
    expect(front).toEqual(viaNode(args));
    return front;
  };
  const created = (args: string[], edit?: Parameters<typeof makeBundle>[1]['edit']) => {
    const id = uniq('front');
    const r = detachedVerb(who(), ['create', '--bundle', makeBundle(who(), { args, edit }), id]);
    expect(r, r.log).toMatchObject({ status: 0 });
    return id;
  };

  it.skipIf(skip)('every error of state, start and kill for a missing or stopped container, byte for byte', () => {
    for (const verb of [['state'], ['start'], ['kill'], ['kill', '--all'], ['kill', '-a'], ['delete']]) {
      const r = same([...verb, 'nosuch']);
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(/^launch: \w+ nosuch: container `nosuch` does not exist `.*nosuch(\/state\.json)?`\n$/);
    }
    const id = created(['/bin/true']);
    try {
      expect(viaFront(['start', id])).toMatchObject({ status: 0, stdout: '', stderr: '' });
      for (let i = 0; i < 100 && JSON.parse(viaNode(['state', id]).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
      expect(JSON.parse(same(['state', id]).stdout)).toMatchObject({ id, status: 'stopped' });
      expect(same(['start', id]).stderr).toBe(`launch: start ${id}: cannot start container \`${id}\`: it has stopped\n`);
      expect(same(['kill', id]).stderr).toBe(`launch: kill ${id}: cannot kill container \`${id}\`: container not running\n`);
      expect(same(['kill', id, 'KILL']).status).toBe(125);
      expect(same(['delete', '--force', 'nosuch'])).toMatchObject({ status: 0, stderr: '' });
      // What delete removes, as the record lists it: the state and the cgroups launch made.
      const record = readFileSync(join(stateRoot(who()), id, 'front'), 'utf8');
      const dirs = /\nrmdirs \d+\n([^]*?)\nparents /.exec(record)![1]!.split('\n').filter(Boolean);
      if (mode === 'root') expect(dirs.length).toBeGreaterThan(0);
      expect(viaFront(['delete', id])).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(existsSync(join(stateRoot(who()), id))).toBe(false);
      for (const d of dirs) expect(existsSync(d), d).toBe(false);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('a refused command line is worded by Node alone, on both paths', () => {
    const cases: [string[], string][] = [
      [['state'], 'launch: state: give a container id (see launch state --help)'],
      [['state', 'a', 'b'], 'launch: state: unexpected argument `b` (see launch state --help)'],
      [['delete', 'c', '--bogus'], 'launch: delete: unknown flag `--bogus`'],
      [['sate', 'c1'], 'launch: unknown command `sate`; did you mean `state`?'],
      [['./nosuchdir'], 'launch: bundle directory `./nosuchdir`: No such file or directory (ENOENT)'],
    ];
    for (const [args, line] of cases) {
      const r = launchSync(who(), args);
      expect(r).toEqual(viaNode(args));
      expect(r).toMatchObject({ status: 125, stderr: `${line}\n` });
      // Under the limit, where only the front could answer, nothing answers in these words.
      expect(viaFront(args).stderr).not.toBe(r.stderr);
    }
  });

  it.skipIf(skip)('a switch followed by true or false is read as yargs reads it: its value, not the id', () => {
    // `delete --force true` names no container for yargs (a usage error), and `kill --all false
    // KILL` signals a container named KILL: the front must not take `true` and `false` for ids.
    const ids = ['true', 'false'];
    try {
      // run's switches too, where a compiled bundle of `run -d` waits to be hit.
      const warm = makeBundle(who(), { args: ['/bin/true'] });
      for (let i = 0; i < 2; i++) {
        ids.push(uniq('front'));
        expect(detachedVerb(who(), ['run', '-d', '--bundle', warm, ids.at(-1)!]).status).toBe(0);
      }
      const args = ['run', '--bundle', warm, '--detach', 'false'];
      const r = launchSync(who(), args);
      expect(r).toEqual(viaNode(args));
      expect(r.status).toBe(125);
      expect(existsSync(join(stateRoot(who()), 'false'))).toBe(false);
      const bundle = makeBundle(who(), { args: ['/bin/sleep', '100'] });
      for (const id of ['true', 'false']) expect(detachedVerb(who(), ['create', '--bundle', bundle, id]).status).toBe(0);
      for (const args of [['delete', '--force', 'true'], ['delete', '-f', 'false'], ['kill', '--all', 'false', 'KILL'], ['kill', '-a', 'true', 'KILL']]) {
        const r = launchSync(who(), args);
        expect(r, args.join(' ')).toEqual(viaNode(args));
        expect(r.status, args.join(' ')).toBe(125);
        for (const id of ['true', 'false']) expect(JSON.parse(viaNode(['state', id]).stdout), `${args.join(' ')}: ${id}`).toMatchObject({ status: 'created' });
      }
    } finally {
      // The id first: `delete --force true` is the very line yargs reads as no id.
      for (const id of ids) launchSync(who(), ['delete', id, '--force']);
      expect(existsSync(join(stateRoot(who()), 'true')) || existsSync(join(stateRoot(who()), 'false'))).toBe(false);
    }
  });

  it.skipIf(skip)('--log in both formats gets the same line (but the time)', () => {
    for (const format of ['json', 'text']) {
      const logs = ['front', 'node'].map((n) => join(ownedDir(who(), 'log'), `${n}.${format}`));
      const args = (log: string) => ['--log', log, '--log-format', format, 'state', 'nosuch'];
      expect(viaFront(args(logs[0]!)).status).toBe(125);
      expect(viaNode(args(logs[1]!)).status).toBe(125);
      const [a, b] = logs.map((f) => readFileSync(f, 'utf8').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/, 'TIME'));
      expect(a).toBe(b);
      expect(a).toContain('state nosuch: container `nosuch` does not exist');
    }
  });

  it.skipIf(skip)('a created container: state, start, kill and their refusals, as Node', () => {
    // Annotations with what JSON must escape: the front prints what Node rendered at create.
    const id = created(['/bin/sleep', '100'], (s) => void (s.annotations = { 'a"b': 'x\ny\\', 'ü': '\u2028' }));
    try {
      expect(JSON.parse(same(['state', id]).stdout)).toMatchObject({ id, status: 'created', annotations: { 'a"b': 'x\ny\\' } });
      // Left to Node (the front knows no such signal), so not under the limit.
      const unknown = launchSync(who(), ['kill', id, 'NOSUCHSIGNAL']);
      expect(unknown).toEqual(viaNode(['kill', id, 'NOSUCHSIGNAL']));
      expect(unknown.stderr).toMatch(/unknown signal `NOSUCHSIGNAL`/);
      expect(same(['kill', id, '0']).status).toBe(0);
      expect(same(['kill', id, 'sigcont']).status).toBe(0);
      expect(viaFront(['start', id])).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(JSON.parse(same(['state', id]).stdout)).toMatchObject({ status: 'running' });
      expect(same(['start', id]).stderr).toBe(`launch: start ${id}: cannot start container \`${id}\`: it is running, not created\n`);
      // pause and resume: natively where the record says a freezer of launch's own is there
      // (root here); otherwise (rootless on v1: no cgroup) Node's words on both paths.
      if (/\npause-native 1\n1\n/.test(readFileSync(join(stateRoot(who()), id, 'front'), 'utf8'))) {
        expect(viaFront(['pause', id])).toMatchObject({ status: 0, stderr: '' });
        expect(JSON.parse(same(['state', id]).stdout)).toMatchObject({ status: 'paused' });
        expect(same(['pause', id]).stderr).toBe(`launch: pause ${id}: container \`${id}\` is paused, not running\n`);
        expect(viaFront(['resume', id])).toMatchObject({ status: 0, stderr: '' });
        expect(same(['resume', id]).stderr).toBe(`launch: resume ${id}: container \`${id}\` is running, not paused\n`);
      } else {
        expect(mode).toBe('rootless');
        const r = launchSync(who(), ['pause', id]);
        expect(r).toEqual(viaNode(['pause', id]));
        expect(r.status).toBe(125);
      }
      expect(same(['delete', id]).stderr).toBe(`launch: delete ${id}: cannot delete container \`${id}\` that is not stopped: running (use --force)\n`);
      expect(viaFront(['kill', id, 'KILL']).status).toBe(0);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('delete --force with a cgroup: the front when the init takes the rest with it, Node when paused or sharing the pid namespace', () => {
    const recordOf = (id: string) => readFileSync(join(stateRoot(who()), id, 'front'), 'utf8');
    const dirsOf = (id: string) => /\nrmdirs \d+\n([^]*?)\nparents /.exec(recordOf(id))![1]!.split('\n').filter(Boolean);
    const gone = (id: string, dirs: string[], marker: string) => {
      expect(existsSync(join(stateRoot(who()), id)), id).toBe(false);
      for (const d of dirs) expect(existsSync(d), d).toBe(false);
      for (let i = 0; i < 100 && processesWith(marker).length; i++) spawnSync('sleep', ['0.02']);
      expect(processesWith(marker), marker).toEqual([]);
    };
    // Created (waiting at the FIFO), running with a child of its own, and stopped: its own pid
    // namespace, so the front deletes them, under the limit Node cannot start in.
    const marker = uniq('frontdel');
    const sh = (m: string) => ['/bin/sh', '-c', `sleep 1000; : ${m}`];
    const ids = [created(sh(`${marker}-0`)), created(['/bin/sh', '-c', `/bin/sh -c 'sleep 1000; : ${marker}-1' & sleep 1000; : ${marker}-1`]), created(['/bin/true'])];
    const dirs = ids.map(dirsOf);
    const inits = ids.map((id) => JSON.parse(viaNode(['state', id]).stdout).pid as number);
    try {
      expect(viaFront(['start', ids[1]!])).toMatchObject({ status: 0 });
      expect(viaFront(['start', ids[2]!])).toMatchObject({ status: 0 });
      // The running one: its init and a child of that init, both the container's.
      for (let i = 0; i < 100 && processesWith(`${marker}-1`).length < 2; i++) spawnSync('sleep', ['0.02']);
      expect(processesWith(`${marker}-1`)).toHaveLength(2);
      for (const [i, id] of ids.entries()) {
        expect(viaFront(['delete', '--force', id]), id).toMatchObject({ status: 0, stdout: '', stderr: '' });
        gone(id, dirs[i]!, `${marker}-${i}`);
        expect(existsSync(`/proc/${inits[i]}/stat`) && !/\) [ZX] /.test(readFileSync(`/proc/${inits[i]}/stat`, 'utf8')), id).toBe(false);
      }
    } finally {
      for (const id of ids) launchSync(who(), ['delete', '--force', id]);
    }
    // Paused, and without a pid namespace of its own: Node's (the freezer; the cgroup's
    // members), which the front leaves alone, so under the limit it fails and changes nothing.
    const probe = created(['/bin/true']);
    const withCgroup = recordOf(probe).includes('\ncgroup 1\n1\n');
    launchSync(who(), ['delete', '--force', probe]);
    if (!withCgroup) return; // rootless on v1: no cgroup
    const paused = created(sh(`${marker}-p`));
    const shared = created(sh(`${marker}-s`), (spec) => {
      spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'pid');
    });
    try {
      expect(viaFront(['start', paused])).toMatchObject({ status: 0 });
      expect(viaFront(['pause', paused])).toMatchObject({ status: 0 });
      for (const id of [paused, shared]) {
        const dirs = dirsOf(id);
        expect(viaFront(['delete', '--force', id]).status, id).not.toBe(0);
        expect(existsSync(join(stateRoot(who()), id, 'state.json')), id).toBe(true);
        expect(launchSync(who(), ['delete', '--force', id]), id).toMatchObject({ status: 0, stderr: '' });
        gone(id, dirs, `${marker}-${id === paused ? 'p' : 's'}`);
      }
    } finally {
      for (const id of [paused, shared]) launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('kill --all: every process of the container\'s in its cgroup, from the front', () => {
    const marker = uniq('killall');
    // The init ignores USR1 (from after its children start: they would inherit that), and so
    // does the sleep it waits in; its children (and theirs) die of it.
    // Only the children's command lines hold `${marker}-c` (the init's holds `$M-c`).
    const child = `/bin/sh -c "sleep 1000; : $M-c" &`;
    const id = created(['/bin/sh', '-c', `M=${marker}; ${child} ${child} trap '' USR1; sleep 1000`]);
    const children = () => processesWith(`${marker}-c`);
    /** Polls until `n` are there twice in a row: a child forks its sleep, which holds the same
     * command line until it execs. */
    const settle = (n: number) => {
      for (let i = 0, seen = 0; i < 250 && seen < 2; i++) {
        seen = children().length === n ? seen + 1 : 0;
        spawnSync('sleep', ['0.02']);
      }
      expect(children()).toHaveLength(n);
    };
    try {
      const withCgroup = readFileSync(join(stateRoot(who()), id, 'front'), 'utf8').includes('\ncgroup 1\n1\n');
      expect(viaFront(['start', id])).toMatchObject({ status: 0 });
      settle(2);
      spawnSync('sleep', ['0.3']); // the init's trap, set right after its children
      expect(viaFront(['kill', '--all', id, 'USR1'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
      // Without a cgroup (rootless on v1) --all is the init alone, as on Node.
      settle(withCgroup ? 0 : 2);
      expect(JSON.parse(same(['state', id]).stdout)).toMatchObject({ status: 'running' });
      expect(viaFront(['kill', '-a', id, 'KILL'])).toMatchObject({ status: 0, stderr: '' });
      for (let i = 0; i < 100 && JSON.parse(viaNode(['state', id]).stdout).status !== 'stopped'; i++) spawnSync('sleep', ['0.02']);
      // --all of a stopped container: what is left of it is signalled, and that succeeds, as
      // runc (containerd's shim runs it after the init's exit); the front answers.
      expect(same(['kill', '--all', id, 'KILL'])).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(same(['kill', id, 'KILL']).stderr).toBe(`launch: kill ${id}: cannot kill container \`${id}\`: container not running\n`);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('a program that cannot start: the front hands the failure to Node to word', () => {
    const ids = [created(['/no/such/program']), created(['/no/such/program'])];
    try {
      // The front reads the init's failure record; Node words it (so no limit here).
      const [a, b] = [launchSync(who(), ['start', ids[0]!]), viaNode(['start', ids[1]!])];
      const anon = (r: Result, id: string) => ({ ...r, stderr: r.stderr.replaceAll(id, 'ID') });
      expect(anon(a, ids[0]!)).toEqual(anon(b, ids[1]!));
      expect(b.stderr).toBe("launch: start ID: process.args: the container's process did not start: No such file or directory (ENOENT)\n".replace('ID', ids[1]!));
      expect(b.status).toBe(125);
    } finally {
      for (const id of ids) launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('a record that is corrupt, truncated, of another version or not the user\'s is never used', () => {
    const id = created(['/bin/sleep', '100']);
    const file = join(stateRoot(who()), id, 'front');
    const good = readFileSync(file);
    // Another process (pid 1, started at a time it did not): used, it would make `stopped`.
    const bogus = good.toString().replace(/pid \d+\n\d+\nstarted \d+\n\d+\n/, 'pid 1\n1\nstarted 9\n999999999\n');
    expect(bogus).not.toBe(good.toString());
    try {
      const cases: [string, string | Buffer][] = [
        ['another version', bogus.replace('launch-front 1', 'launch-front 2')],
        ['truncated', good.subarray(0, good.length - 5)],
        ['corrupt', good.toString().replace('head ', 'head 9')],
        ['an extra field', `${bogus}more 1\nx\n`],
      ];
      for (const [what, text] of cases) {
        writeFileSync(file, text);
        const r = viaNode(['state', id]);
        expect(launchSync(who(), ['state', id]), what).toEqual(r);
        expect(JSON.parse(r.stdout).pid, what).not.toBe(1);
      }
      // A valid record of the wrong pid, to show what a used record does, then not the user's.
      writeFileSync(file, bogus);
      expect(JSON.parse(launchSync(who(), ['state', id]).stdout).status).toBe('stopped');
      if (mode === 'root') {
        chownSync(file, 65534, 65534);
        expect(JSON.parse(launchSync(who(), ['state', id]).stdout).status).toBe('created');
      }
      rmSync(file);
      expect(JSON.parse(launchSync(who(), ['state', id]).stdout).status).toBe('created');
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });
});
