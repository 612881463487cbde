// The full command line, with yargs: every verb and flag, help and usage errors. Loaded only
// when the start-up fast path (fastpath.ts) does not take the words; both hand their result to
// the same handlers (handlers.ts).
import yargs, { type Argv, type Options } from 'yargs';
import { GLOBAL_FLAGS } from './flags.js';
import { type Args, type Ctx, runHandler } from './handlers.js';
import { NO_COMMAND, commandLineError } from './usage.js';

/** The options `run` and `create` share. */
function bundleOptions<T>(y: Argv<T>, idRequired = true) {
  return y
    // `--no-pivot`, `--no-new-keyring` are runc's flags, not negations of `pivot`, `new-keyring`.
    .parserConfiguration({ 'boolean-negation': false })
    .positional('id', { type: 'string', describe: idRequired ? 'container id' : 'container id (optional with --image)', demandOption: idRequired })
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'bundle directory (holds config.json)' })
    .option('pid-file', { type: 'string', describe: 'write the container process id to this file' })
    .option('console-socket', { type: 'string', describe: 'AF_UNIX socket to send the pty master to (process.terminal), as runc' })
    .option('preserve-fds', { type: 'string', default: 0, describe: 'pass fds 3+L to 3+L+N-1 on to the container, after the L of LISTEN_FDS (as runc)' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'move the root over / and chroot instead of pivot_root (roots on ramfs)' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'keep the caller\'s session keyring instead of a new one of the container\'s own' })
    .option('ignore-cgroup-limits', { type: 'boolean', default: false, describe: 'run without the cgroup limits this host cannot apply (rootless without delegation) instead of failing' });
}

/** yargs' global options, from the one table (flags.ts). */
function globalOptions(): Record<string, Options> {
  return Object.fromEntries(
    Object.entries(GLOBAL_FLAGS).map(([name, f]): [string, Options] => {
      // --rootless has no type here: `spec --rootless` (a switch) shares the name, and a
      // global string type would turn it off. Its value takes the next word all the same
      // (yargs-parser: an untyped flag as a string one), and handlers.ts checks its choices.
      if (name === 'rootless') return [name, { describe: f.describe }];
      if (!f.value) return [name, { type: 'boolean', default: false, describe: f.describe }];
      return [name, { type: 'string', describe: f.describe, ...(f.choices ? { choices: [...f.choices] } : {}), ...(f.default !== undefined ? { default: f.default } : {}) }];
    }),
  );
}

const withId = <T>(y: Argv<T>) => y.positional('id', { type: 'string', demandOption: true });

/** The options of the verbs that read images. */
function imageOptions<T>(y: Argv<T>) {
  return y
    .option('store', { type: 'string', describe: 'image store directory (default $LAUNCH_STORE, else /var/lib/launch as root, $XDG_DATA_HOME/launch otherwise)' })
    .option('tls-verify', { type: 'boolean', default: true, describe: 'verify the registry\'s certificate; --tls-verify=false also allows plain HTTP' });
}

/** `handle(verb)` is what a command runs: the shared handler, or (tests) a recorder. */
export function buildParser(argv: string[], handle: (verb: string) => (args: Args) => Promise<void>): Argv {
  const h = (verb: string) => (args: unknown) => handle(verb)(args as Args);
  return yargs(argv)
    .scriptName('launch')
    .usage('$0 [global options] <command> [options]\n$0 [run options] BUNDLE_DIR [run options]  (run the bundle with a generated id; with -d, print it)')
    .options(globalOptions())
    .command(
      'run [id]',
      'create and run a container in the foreground (from --bundle, or from --image)',
      (y) =>
        imageOptions(bundleOptions(y, false))
          .option('image', { type: 'string', describe: 'run this image (pulled and unpacked as needed) instead of a bundle; words after `--` replace its Cmd' })
          .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'with --image: give the container a terminal (process.terminal)' })
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the container runs; it stays until `launch delete`' })
          .option('keep', { type: 'boolean', default: false, describe: 'keep the state and cgroup after a foreground run ends (for `launch state`, `events`; then `launch delete`)' })
          .option('network', { type: 'string', describe: 'pasta|slirp4netns|auto[:host-loopback]|none|host: the container\'s network (default: the config\'s, as runc: a new namespace has loopback only; -p alone means auto: pasta, else slirp4netns); :host-loopback lets it reach the host\'s 127.0.0.1' })
          // One value per -p, as docker's: an array option without nargs takes every word up to
          // the next flag, the id too (`run -b DIR -p 8080:80 ID`: no id).
          .option('publish', { alias: 'p', type: 'string', array: true, nargs: 1, describe: '[IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]: forward a host port into the container (pasta, slirp4netns)' }),
      h('run'),
    )
    .command('create <id>', 'set a container up, its process waiting for `launch start`', (y) => bundleOptions(y), h('create'))
    .command('start <id>', 'run the process of a created container', withId, h('start'))
    .command(
      'kill <id> [signal]',
      "send a signal (default SIGTERM) to the container's process",
      (y) =>
        withId(y)
          .positional('signal', { type: 'string', default: 'SIGTERM', describe: 'name (TERM, SIGKILL) or number' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: "every process in the container's cgroup" }),
      h('kill'),
    )
    .command(
      'exec <id> [command..]',
      'run a new process in a running container',
      (y) =>
        withId(y)
          // `--no-new-privs` is runc's flag, not the negation of a `new-privs` one.
          .parserConfiguration({ 'boolean-negation': false })
          .positional('command', { type: 'string', array: true, describe: 'the program and its arguments (none with --process)' })
          .option('process', { alias: 'p', type: 'string', describe: 'a runtime-spec `process` JSON file: the whole process' })
          .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a pseudo-terminal' })
          .option('cwd', { type: 'string', describe: 'working directory in the container' })
          .option('env', { alias: 'e', type: 'string', describe: "KEY=VALUE added to the config's environment (repeatable)" })
          .option('user', { alias: 'u', type: 'string', describe: 'UID[:GID] to run as' })
          .option('additional-gids', { alias: 'g', type: 'string', describe: 'a supplementary group id (repeatable)' })
          .option('cap', { alias: 'c', type: 'string', describe: 'a capability to add (repeatable)' })
          .option('no-new-privs', { type: 'boolean', default: false, describe: 'set no_new_privs for the process' })
          .option('apparmor', { type: 'string', describe: 'the AppArmor profile for the process' })
          .option('process-label', { type: 'string', describe: 'the SELinux label for the process' })
          .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'return once the process runs' })
          .option('pid-file', { type: 'string', describe: 'write the process id to this file' })
          .option('console-socket', { type: 'string', describe: 'AF_UNIX socket to send the pty master to (with --tty), as runc' })
          .option('preserve-fds', { type: 'string', default: 0, describe: 'pass fds 3 to 3+N-1 on to the process' })
          .option('ignore-paused', { type: 'boolean', default: false, describe: 'exec into a paused container (the process waits until it is resumed)' }),
      h('exec'),
    )
    .command(
      'list',
      'list the containers under --root',
      (y) =>
        y
          .option('format', { alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'ids only' }),
      h('list'),
    )
    .command('features', 'what this build of launch implements, as the OCI features JSON', () => {}, h('features'))
    .command(
      'spec',
      'write a starting config.json into the bundle',
      (y) =>
        y
          .option('rootless', { type: 'boolean', default: false, describe: 'a config for an ordinary user' })
          .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'where to write config.json' }),
      h('spec'),
    )
    .command(
      'demo [args..]',
      "run a container made from the host's own /usr (read-only), no image needed",
      (y) => y.positional('args', { type: 'string', array: true, describe: 'command to run instead of the demo script' }),
      h('demo'),
    )
    .command('state <id>', 'print the OCI state of a container as JSON', withId, h('state'))
    .command(
      'delete <id>',
      'remove a stopped container (its cgroup and state); --force kills it first',
      (y) => withId(y).option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill a running container first' }),
      h('delete'),
    )
    .command(
      'events <id>',
      "the container's cgroup figures and OOM kills as JSON events, one per line",
      (y) =>
        withId(y)
          .option('stats', { type: 'boolean', default: false, describe: 'print the figures once and exit' })
          .option('interval', { type: 'string', default: '5s', describe: 'time between stats events' }),
      h('events'),
    )
    .command('pause <id>', 'freeze every process of a container', withId, h('pause'))
    .command('resume <id>', 'thaw a paused container', withId, h('resume'))
    .command(
      'ps <id> [ps-args..]',
      "list a container's processes (ps -ef, or the ps options after the id, as runc)",
      (y) => withId(y).option('format', { alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' }),
      h('ps'),
    )
    .command(
      'update <id>',
      "change a running container's resource limits",
      (y) =>
        withId(y)
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
      h('update'),
    )
    .command(
      'pull <ref>',
      'download an image from a registry into the image store',
      (y) =>
        imageOptions(y)
          .positional('ref', { type: 'string', demandOption: true, describe: 'busybox, quay.io/org/app:1.2, host:5000/app@sha256:...' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress bars' }),
      h('pull'),
    )
    .command(
      'unpack <image> <bundle>',
      'make a bundle (rootfs and config.json) from an image',
      (y) =>
        imageOptions(y)
          .positional('image', { type: 'string', demandOption: true, describe: 'REF, docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]' })
          .positional('bundle', { type: 'string', demandOption: true, describe: 'a new or empty directory' }),
      h('unpack'),
    )
    .command(
      'images',
      'list the images in the image store',
      (y) =>
        imageOptions(y)
          .option('format', { alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'image ids only' }),
      h('images'),
    )
    .command(
      'rmi [refs..]',
      'remove images from the image store, and every blob no image needs any more',
      (y) =>
        imageOptions(y)
          .positional('refs', { type: 'string', array: true, describe: 'the images to remove' })
          .option('prune', { type: 'boolean', default: false, describe: 'only collect garbage (interrupted pulls, unused unpacked trees)' }),
      h('rmi'),
    )
    .command(
      'unshare [command..]',
      'run a command (default $SHELL) as root of a user namespace with your subordinate ids mapped, as image files are unpacked',
      (y) => y.positional('command', { type: 'string', array: true, describe: 'the program and its arguments' }),
      h('unshare'),
    )
    .demandCommand(1, NO_COMMAND)
    .strict()
    .version(false)
    .help()
    // English whatever LANG says: usage.ts rewords yargs' messages, which it knows in English
    // only, and the rest of launch speaks English too.
    .locale('en')
    .fail((msg, err) => {
      if (err) throw err;
      throw commandLineError(argv, msg);
    });
}

/** Parse and run with the shared handlers. */
export async function parseAndRun(argv: string[], ctx: Ctx): Promise<void> {
  await buildParser(argv, (verb) => (args) => runHandler(verb, args, ctx)).parseAsync();
}
