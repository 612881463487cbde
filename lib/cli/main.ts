// The command line: yargs setup and dispatch. Handlers stay short; the work is in lib/.
// Nothing here runs at import time (start-up snapshot rule): main() reads argv and env.
import yargs, { type Argv } from 'yargs';
import { LaunchError, formatError, usageError } from '../errors.js';
import { inUserNamespace } from '../host.js';
import { defaultRoot } from '../state/store.js';
import { execArgv } from './exec.js';
import { logTarget, writeLog } from './log.js';

export interface GlobalOptions {
  root: string;
  debug: boolean;
  /** --systemd-cgroup: the container's cgroup is a transient systemd unit (lib/cgroups/systemd.ts). */
  systemdCgroup?: boolean;
}

const VERBS = ['run', 'create', 'start', 'exec', 'kill', 'list', 'features', 'spec', 'demo', 'state', 'delete', 'events', 'pause', 'resume', 'ps', 'update', 'help', 'completion'];

/** Global flags that take a separate value word. */
const VALUED = ['--root', '--log', '--log-format', '--rootless'];

/** `launch DIR` is `launch run --bundle DIR <generated id>`. */
export function expandShorthand(argv: string[], isDir: (p: string) => boolean, makeId: () => string): string[] {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return argv;
    if (word.startsWith('-')) {
      // Global flags that take a separate value: skip the value, it is not a bundle.
      if (VALUED.includes(word)) i++;
      continue;
    }
    if (VERBS.includes(word) || !isDir(word)) return argv;
    return [...argv.slice(0, i), 'run', '--bundle', word, ...argv.slice(i + 1), makeId()];
  }
  return argv;
}

function randomId(): string {
  return `launch-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** yargs reads a lone `-` as a positional, not as a flag's value: `update --resources -`
 * (stdin, as runc) becomes `--resources=-`. */
export function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if ((word === '--resources' || word === '-r') && argv[i + 1] === '-') {
      out.push('--resources=-');
      i++;
    } else out.push(word);
  }
  return out;
}

/** The options `run` and `create` share. */
function bundleOptions<T>(y: Argv<T>) {
  return y
    // `--no-pivot`, `--no-new-keyring` are runc's flags, not negations of `pivot`, `new-keyring`.
    .parserConfiguration({ 'boolean-negation': false })
    .positional('id', { type: 'string', describe: 'container id', demandOption: true })
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory (holds config.json)' })
    .option('pid-file', { type: 'string', describe: 'write the container process id to this file' })
    .option('console-socket', { type: 'string', describe: 'AF_UNIX socket to send the pty master to (process.terminal), as runc' })
    .option('preserve-fds', { type: 'number', default: 0, describe: 'pass fds 3 to 3+N-1 on to the container (and LISTEN_FDS ones, as runc)' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'move the root over / and chroot instead of pivot_root (roots on ramfs)' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'keep the caller\'s session keyring instead of a new one of the container\'s own' })
    .option('ignore-cgroup-limits', { type: 'boolean', default: false, describe: 'run without the cgroup limits this host cannot apply (rootless without delegation) instead of failing' });
}

function bundleArgs(args: { id?: string; bundle: string; 'pid-file'?: string; 'console-socket'?: string; 'preserve-fds': number; 'no-pivot': boolean; 'no-new-keyring': boolean; 'ignore-cgroup-limits': boolean }) {
  return {
    id: args.id!, bundle: args.bundle, pidFile: args['pid-file'], consoleSocket: args['console-socket'], preserveFds: args['preserve-fds'], noPivot: args['no-pivot'],
    noNewKeyring: args['no-new-keyring'],
    ignoreCgroupLimits: args['ignore-cgroup-limits'],
  };
}

/** `--version` or `-v` before any verb. */
function wantsVersion(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--version' || w === '-v') return true;
    if (!w.startsWith('-') || w === '--') return false;
    if (VALUED.includes(w)) i++;
  }
  return false;
}

export async function main(rawArgv: string[]): Promise<number> {
  if (wantsVersion(rawArgv)) {
    const { versionText } = await import('./version.js');
    process.stdout.write(`${versionText()}\n`);
    return 0;
  }
  const log = logTarget(rawArgv);
  const { statSync } = await import('node:fs');
  const argv = expandShorthand(
    execArgv(joinDashValues(rawArgv)),
    (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    randomId,
  );
  let exitCode = 0;
  let context: string | undefined;
  let debug = argv.includes('--debug');
  const setExit = (code: number) => {
    exitCode = code;
  };
  const parser: Argv = yargs(argv)
    .scriptName('launch')
    .usage('$0 [global options] <command> [options]\n$0 BUNDLE_DIR  (run the bundle with a generated id)')
    .option('root', { type: 'string', describe: 'directory for container state', default: undefined })
    .option('debug', { type: 'boolean', default: false, describe: 'explain decisions; show the cause of errors' })
    .option('log', { type: 'string', describe: 'also write errors to this file (as runc: for containerd and podman)' })
    .option('log-format', { choices: ['text', 'json'], default: 'text', describe: 'format of the --log file' })
    // No choices here: `spec --rootless` (a boolean) shares the name, and yargs would check its
    // value against them. runc's values (auto, true, false) are accepted; launch decides from
    // the caller's uid and user namespace either way.
    .option('rootless', { describe: 'auto|true|false, accepted for runc compatibility: launch decides from the caller\'s uid' })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'create the container\'s cgroup as a transient systemd unit (linux.cgroupsPath is slice:prefix:name)' })
    .command(
      'run <id>',
      'create and run a container in the foreground',
      (y) =>
        bundleOptions(y)
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs; it stays until `launch delete`' })
          .option('keep', { type: 'boolean', default: false, describe: 'keep the state and cgroup after a foreground run ends (for `launch state`, `events`; then `launch delete`)' }),
      async (args) => {
        context = `run ${args.id}`;
        const { runVerb } = await import('./run.js');
        setExit(await runVerb({ ...bundleArgs(args), detach: args.detach, keep: args.keep, ...globals(args) }));
      },
    )
    .command(
      'create <id>',
      'set a container up, its process waiting for `launch start`',
      (y) => bundleOptions(y),
      async (args) => {
        context = `create ${args.id}`;
        const { createVerb } = await import('./run.js');
        await createVerb({ ...bundleArgs(args), ...globals(args) });
      },
    )
    .command('start <id>', 'run the process of a created container', (y) => y.positional('id', { type: 'string', demandOption: true }), async (args) => {
      context = `start ${args.id}`;
      const { startVerb } = await import('./start.js');
      startVerb({ id: args.id!, ...globals(args) });
    })
    .command(
      'kill <id> [signal]',
      "send a signal (default SIGTERM) to the container's process",
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .positional('signal', { type: 'string', default: 'SIGTERM', describe: 'name (TERM, SIGKILL) or number' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: "every process in the container's cgroup" }),
      async (args) => {
        context = `kill ${args.id}`;
        const { killVerb } = await import('./kill.js');
        killVerb({ id: args.id!, signal: String(args.signal), all: args.all, ...globals(args) });
      },
    )
    .command(
      'exec <id> [command..]',
      'run a new process in a running container',
      (y) =>
        y
          // `--no-new-privs` is runc's flag, not the negation of a `new-privs` one.
          .parserConfiguration({ 'boolean-negation': false })
          .positional('id', { type: 'string', demandOption: true })
          .positional('command', { type: 'string', array: true, describe: 'the program and its arguments (none with --process)' })
          .option('process', { alias: 'p', type: 'string', describe: 'a runtime-spec `process` JSON file: the whole process' })
          .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-terminal' })
          .option('cwd', { type: 'string', describe: 'working directory in the container' })
          .option('env', { alias: 'e', type: 'string', describe: "KEY=VALUE added to the config's environment (repeatable)" })
          .option('user', { alias: 'u', type: 'string', describe: 'UID[:GID] to run as' })
          .option('additional-gids', { alias: 'g', type: 'string', describe: 'a supplementary group id (repeatable)' })
          .option('cap', { alias: 'c', type: 'string', describe: 'a capability to add (repeatable)' })
          .option('no-new-privs', { type: 'boolean', default: false, describe: 'set no_new_privs for the process' })
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the process runs' })
          .option('pid-file', { type: 'string', describe: 'write the process id to this file' })
          .option('console-socket', { type: 'string', describe: 'AF_UNIX socket to send the pty master to (with --tty), as runc' })
          .option('preserve-fds', { type: 'number', default: 0, describe: 'pass fds 3 to 3+N-1 on to the process' })
          .option('ignore-paused', { type: 'boolean', default: false, describe: 'exec into a paused container (the process waits until it is resumed)' }),
      async (args) => {
        context = `exec ${args.id}`;
        const { execVerb } = await import('./exec.js');
        // After `--` (which execArgv puts after the id), yargs leaves the words in `_`.
        const command = [...((args.command as string[] | undefined) ?? []), ...args._.slice(1).map(String)];
        setExit(
          await execVerb({
            id: args.id!, command, process: args.process, tty: args.tty, cwd: args.cwd, env: args.env, user: args.user,
            additionalGids: args['additional-gids'], cap: args.cap, noNewPrivs: args['no-new-privs'], detach: args.detach,
            pidFile: args['pid-file'], consoleSocket: args['console-socket'], preserveFds: args['preserve-fds'], ignorePaused: args['ignore-paused'],
            ...globals(args),
          }),
        );
      },
    )
    .command(
      'list',
      'list the containers under --root',
      (y) =>
        y
          .option('format', { alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'ids only' }),
      async (args) => {
        context = 'list';
        const { listVerb } = await import('./list.js');
        listVerb({ format: args.format, quiet: args.quiet, ...globals(args) });
      },
    )
    .command('features', 'what this build of launch implements, as the OCI features JSON', () => {}, async () => {
      context = 'features';
      const { featuresVerb } = await import('./features.js');
      featuresVerb();
    })
    .command(
      'spec',
      'write a starting config.json into the bundle',
      (y) =>
        y
          .option('rootless', { type: 'boolean', default: false, describe: 'a config for an ordinary user' })
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'where to write config.json' }),
      async (args) => {
        context = 'spec';
        const { specVerb } = await import('./spec.js');
        specVerb({ bundle: args.bundle, rootless: args.rootless });
      },
    )
    .command(
      'demo [args..]',
      "run a container made from the host's own /usr (read-only), no image needed",
      (y) => y.positional('args', { type: 'string', array: true, describe: 'command to run instead of the demo script' }),
      async (args) => {
        context = 'demo';
        const { demoVerb } = await import('./demo.js');
        // After `--`, yargs leaves the words in `_` (after the verb) rather than in `args`.
        const words = [...((args.args as string[] | undefined) ?? []), ...args._.slice(1).map(String)];
        setExit(await demoVerb({ args: words, ...globals(args) }));
      },
    )
    .command('state <id>', 'print the OCI state of a container as JSON', (y) => y.positional('id', { type: 'string', demandOption: true }), async (args) => {
      context = `state ${args.id}`;
      const { stateVerb } = await import('./state.js');
      stateVerb({ id: args.id!, ...globals(args) });
    })
    .command(
      'delete <id>',
      'remove a stopped container (its cgroup and state); --force kills it first',
      (y) => y.positional('id', { type: 'string', demandOption: true }).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill a running container first' }),
      async (args) => {
        context = `delete ${args.id}`;
        const { deleteVerb } = await import('./delete.js');
        await deleteVerb({ id: args.id!, force: args.force, ...globals(args) });
      },
    )
    .command(
      'events <id>',
      "the container's cgroup figures and OOM kills as JSON events, one per line",
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('stats', { type: 'boolean', default: false, describe: 'print the figures once and exit' })
          .option('interval', { type: 'string', default: '5s', describe: 'time between stats events' }),
      async (args) => {
        context = `events ${args.id}`;
        const { eventsVerb } = await import('./events.js');
        await eventsVerb({ id: args.id!, stats: args.stats, interval: args.interval, ...globals(args) });
      },
    )
    .command('pause <id>', 'freeze every process of a container', (y) => y.positional('id', { type: 'string', demandOption: true }), async (args) => {
      context = `pause ${args.id}`;
      const { pauseVerb } = await import('./pause.js');
      pauseVerb({ id: args.id!, freeze: true, ...globals(args) });
    })
    .command('resume <id>', 'thaw a paused container', (y) => y.positional('id', { type: 'string', demandOption: true }), async (args) => {
      context = `resume ${args.id}`;
      const { pauseVerb } = await import('./pause.js');
      pauseVerb({ id: args.id!, freeze: false, ...globals(args) });
    })
    .command(
      'ps <id> [ps-args..]',
      "list a container's processes (ps -ef, or the ps options after `--`)",
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('format', { alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' }),
      async (args) => {
        context = `ps ${args.id}`;
        const { psVerb } = await import('./ps.js');
        const psArgs = [...((args['ps-args'] as string[] | undefined) ?? []), ...args._.slice(1).map(String)];
        psVerb({ id: args.id!, format: args.format, psArgs, ...globals(args) });
      },
    )
    .command(
      'update <id>',
      "change a running container's resource limits",
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .option('resources', { alias: 'r', type: 'string', describe: 'a linux.resources JSON document (`-` for stdin); other flags are ignored' })
          .option('memory', { type: 'string', describe: 'memory limit (bytes, or 64m, 1g...)' })
          .option('memory-reservation', { type: 'string', describe: 'memory soft limit' })
          .option('memory-swap', { type: 'string', describe: 'memory plus swap limit (-1: unlimited)' })
          .option('pids-limit', { type: 'number', describe: 'maximum number of processes (-1: unlimited)' })
          .option('cpu-period', { type: 'number', describe: 'CFS period (microseconds)' })
          .option('cpu-quota', { type: 'number', describe: 'CFS quota per period (microseconds, -1: none)' })
          .option('cpu-share', { type: 'number', describe: 'CPU shares (relative weight)' })
          .option('cpu-rt-period', { type: 'number', describe: 'realtime period (microseconds)' })
          .option('cpu-rt-runtime', { type: 'number', describe: 'realtime runtime (microseconds)' })
          .option('cpuset-cpus', { type: 'string', describe: 'CPUs allowed (0-3,5)' })
          .option('cpuset-mems', { type: 'string', describe: 'memory nodes allowed' })
          .option('blkio-weight', { type: 'number', describe: 'block IO weight (10-1000)' }),
      async (args) => {
        context = `update ${args.id}`;
        const { updateVerb } = await import('./update.js');
        updateVerb({ id: args.id!, flags: args, ...globals(args) });
      },
    )
    .demandCommand(1, 'launch: no command given (see launch --help)')
    .strict()
    .version(false)
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      throw usageError(msg.replace(/^launch: /, ''), { exitCode: 125 });
    });
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    if (err instanceof LaunchError && !err.context) err.context = context;
    const line = formatError(err, debug);
    process.stderr.write(`${line}\n`);
    writeLog(log, 'error', line.split('\n')[0]!.replace(/^launch: /, ''));
    return err instanceof LaunchError ? err.exitCode : 125;
  }

  function globals(args: { root?: string; debug?: boolean; 'systemd-cgroup'?: boolean }): GlobalOptions {
    debug = Boolean(args.debug);
    const uid = process.getuid!();
    return { root: args.root ?? defaultRoot(process.env, uid, uid === 0 && inUserNamespace()), debug, systemdCgroup: Boolean(args['systemd-cgroup']) };
  }
}
