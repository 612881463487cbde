// The command line: yargs setup and dispatch. Handlers stay short; the work is in lib/.
// Nothing here runs at import time (start-up snapshot rule): main() reads argv and env.
import yargs, { type Argv } from 'yargs';
import { LaunchError, formatError, usageError } from '../errors.js';
import { defaultRoot } from '../state/store.js';

export interface GlobalOptions {
  root: string;
  debug: boolean;
}

const VERBS = ['run', 'spec', 'demo', 'state', 'delete', 'events', 'pause', 'resume', 'ps', 'update', 'help', 'completion'];

/** `launch DIR` is `launch run --bundle DIR <generated id>`. */
export function expandShorthand(argv: string[], isDir: (p: string) => boolean, makeId: () => string): string[] {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return argv;
    if (word.startsWith('-')) {
      // Global flags that take a separate value: skip the value, it is not a bundle.
      if (word === '--root' || word === '--log' || word === '--log-format') i++;
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

export async function main(rawArgv: string[]): Promise<number> {
  const { statSync } = await import('node:fs');
  const argv = expandShorthand(
    rawArgv,
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
    .command(
      'run <id>',
      'create and run a container in the foreground',
      (y) =>
        y
          .positional('id', { type: 'string', describe: 'container id', demandOption: true })
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory (holds config.json)' })
          .option('pid-file', { type: 'string', describe: 'write the container process id to this file' }),
      async (args) => {
        context = `run ${args.id}`;
        const { runVerb } = await import('./run.js');
        setExit(await runVerb({ id: args.id!, bundle: args.bundle, pidFile: args['pid-file'], ...globals(args) }));
      },
    )
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
        deleteVerb({ id: args.id!, force: args.force, ...globals(args) });
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
    process.stderr.write(`${formatError(err, debug)}\n`);
    return err instanceof LaunchError ? err.exitCode : 125;
  }

  function globals(args: { root?: string; debug?: boolean }): GlobalOptions {
    debug = Boolean(args.debug);
    return { root: args.root ?? defaultRoot(process.env, process.getuid!()), debug };
  }
}
