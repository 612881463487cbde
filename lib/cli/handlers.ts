// What each verb does with its parsed words: the one place both parsers (the yargs one in
// parser.ts and the start-up fast path in fastpath.ts) hand their result to. The words come
// in yargs' shape (flag names as typed, `_` for what follows `--`); each verb module is
// imported only when its verb runs.
import { usageError } from '../errors.js';
import { processDefaultRoot } from '../state/store.js';
import { GLOBAL_FLAGS } from './flags.js';
import type { GlobalOptions } from './main.js';

/** A verb's words as yargs hands them over. */
export type Args = Record<string, unknown> & { _: (string | number)[] };

export interface Ctx {
  /** `run ID` etc.: put in front of an error line. */
  setContext(context: string): void;
  setExit(code: number): void;
  setDebug(debug: boolean): void;
  /** The id main() made up for the shorthand `launch DIR`, if it did (a detached run prints it). */
  readonly generatedId?: string;
}

const str = (v: unknown) => (v === undefined ? undefined : String(v));
const id = (args: Args) => String(args.id);
/** Words after `--` (yargs leaves them in `_`, after the verb). */
const rest = (args: Args) => args._.slice(1).map(String);

function globals(args: Args, ctx: Ctx): GlobalOptions {
  // yargs checks none for --rootless (parser.ts) and the fast path none at all: here for every verb.
  for (const [name, f] of Object.entries(GLOBAL_FLAGS)) {
    if (f.choices && args[name] !== undefined && !f.choices.includes(String(args[name]))) {
      throw usageError(`--${name} must be one of ${f.choices.join(', ')}, got \`${String(args[name])}\``);
    }
  }
  const debug = Boolean(args.debug);
  ctx.setDebug(debug);
  return { root: str(args.root) ?? processDefaultRoot(), debug, systemdCgroup: Boolean(args['systemd-cgroup']) };
}

function imageArgs(args: Args) {
  return { store: str(args.store), tlsVerify: args['tls-verify'] !== false };
}

/** An id of launch's own making: `launch DIR`, and `launch run --image IMAGE` without one. */
export function generatedId(): string {
  return `launch-${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

function bundleArgs(args: Args) {
  // yargs makes a repeated flag an array; `launch -b X DIR` gives the shorthand's DIR a second.
  if (Array.isArray(args.bundle)) throw usageError(`--bundle is given ${args.bundle.length} times (${args.bundle.map((b) => `\`${String(b)}\``).join(', ')}); give one`);
  return {
    id: id(args), bundle: String(args.bundle), pidFile: str(args['pid-file']), consoleSocket: str(args['console-socket']),
    preserveFds: args['preserve-fds'] as number | string | undefined, noPivot: Boolean(args['no-pivot']), noNewKeyring: Boolean(args['no-new-keyring']),
    ignoreCgroupLimits: Boolean(args['ignore-cgroup-limits']),
  };
}

const HANDLERS: Record<string, (args: Args, ctx: Ctx) => Promise<void>> = {
  async run(args, ctx) {
    const { runVerb } = await import('./run.js');
    const image = str(args.image);
    // runHandler has put `run` (and the id) in front of these already.
    if (args.id === undefined && image === undefined) throw usageError('give a container id (or --image IMAGE)');
    if (image !== undefined && args.bundle !== '.') throw usageError('--image and --bundle name the same thing; give one');
    const words = rest(args);
    if (image === undefined && words.length) throw usageError(`words after the id (\`${words[0]}\`) are only taken with --image`);
    if (image === undefined && args.tty) throw usageError('--tty is for --image; a bundle says so in process.terminal');
    const network = { network: str(args.network), publish: ((args.publish as unknown[] | undefined) ?? []).map(String) };
    const idGenerated = args.id === undefined || id(args) === ctx.generatedId;
    const base = {
      ...bundleArgs(args), id: args.id === undefined ? generatedId() : id(args), idGenerated, detach: Boolean(args.detach), keep: Boolean(args.keep), network,
      ...globals(args, ctx),
    };
    ctx.setContext(`run ${base.id}`);
    ctx.setExit(await runVerb(image === undefined ? base : { ...base, image: { image, args: words, tty: Boolean(args.tty), ...imageArgs(args) } }));
  },
  async unshare(args, ctx) {
    const { unshareVerb } = await import('./image.js');
    const command = [...((args.command as string[] | undefined) ?? []), ...rest(args)].map(String);
    ctx.setExit(await unshareVerb({ command, ...globals(args, ctx) }));
  },
  async pull(args, ctx) {
    const { pullVerb } = await import('./image.js');
    await pullVerb({ ref: String(args.ref), quiet: Boolean(args.quiet), ...imageArgs(args), ...globals(args, ctx) });
  },
  async unpack(args, ctx) {
    const { unpackVerb } = await import('./image.js');
    await unpackVerb({ image: String(args.image), bundle: String(args.bundle), ...imageArgs(args), ...globals(args, ctx) });
  },
  async images(args, ctx) {
    const { imagesVerb } = await import('./image.js');
    await imagesVerb({ format: String(args.format), quiet: Boolean(args.quiet), ...imageArgs(args), ...globals(args, ctx) });
  },
  async rmi(args, ctx) {
    const { rmiVerb } = await import('./image.js');
    await rmiVerb({ refs: ((args.refs as string[] | undefined) ?? []).map(String), prune: Boolean(args.prune), ...imageArgs(args), ...globals(args, ctx) });
  },
  async create(args, ctx) {
    const { createVerb } = await import('./run.js');
    await createVerb({ ...bundleArgs(args), ...globals(args, ctx) });
  },
  async start(args, ctx) {
    const { startVerb } = await import('./start.js');
    startVerb({ id: id(args), ...globals(args, ctx) });
  },
  async kill(args, ctx) {
    const { killVerb } = await import('./kill.js');
    killVerb({ id: id(args), signal: String(args.signal), all: Boolean(args.all), ...globals(args, ctx) });
  },
  async exec(args, ctx) {
    const { execVerb } = await import('./exec.js');
    // After `--` (which execArgv puts after the id), yargs leaves the words in `_`.
    const command = [...((args.command as string[] | undefined) ?? []), ...rest(args)];
    ctx.setExit(
      await execVerb({
        id: id(args), command, process: str(args.process), tty: Boolean(args.tty), cwd: str(args.cwd), env: args.env as string | string[] | undefined,
        user: str(args.user), additionalGids: args['additional-gids'] as string | string[] | undefined, cap: args.cap as string | string[] | undefined,
        noNewPrivs: Boolean(args['no-new-privs']), apparmor: str(args.apparmor), processLabel: str(args['process-label']),
        detach: Boolean(args.detach), pidFile: str(args['pid-file']),
        consoleSocket: str(args['console-socket']), preserveFds: args['preserve-fds'] as number | string | undefined, ignorePaused: Boolean(args['ignore-paused']),
        ...globals(args, ctx),
      }),
    );
  },
  async list(args, ctx) {
    const { listVerb } = await import('./list.js');
    listVerb({ format: String(args.format), quiet: Boolean(args.quiet), ...globals(args, ctx) });
  },
  async features() {
    const { featuresVerb } = await import('./features.js');
    featuresVerb();
  },
  async spec(args) {
    const { specVerb } = await import('./spec.js');
    specVerb({ bundle: String(args.bundle), rootless: Boolean(args.rootless) });
  },
  async demo(args, ctx) {
    const { demoVerb } = await import('./demo.js');
    const words = [...((args.args as string[] | undefined) ?? []), ...rest(args)];
    ctx.setExit(await demoVerb({ args: words, ...globals(args, ctx) }));
  },
  async state(args, ctx) {
    const { stateVerb } = await import('./state.js');
    stateVerb({ id: id(args), ...globals(args, ctx) });
  },
  async delete(args, ctx) {
    const { deleteVerb } = await import('./delete.js');
    await deleteVerb({ id: id(args), force: Boolean(args.force), ...globals(args, ctx) });
  },
  async events(args, ctx) {
    const { eventsVerb } = await import('./events.js');
    await eventsVerb({ id: id(args), stats: Boolean(args.stats), interval: String(args.interval), ...globals(args, ctx) });
  },
  async pause(args, ctx) {
    const { pauseVerb } = await import('./pause.js');
    pauseVerb({ id: id(args), freeze: true, ...globals(args, ctx) });
  },
  async resume(args, ctx) {
    const { pauseVerb } = await import('./pause.js');
    pauseVerb({ id: id(args), freeze: false, ...globals(args, ctx) });
  },
  async ps(args, ctx) {
    const { psVerb } = await import('./ps.js');
    const psArgs = [...((args['ps-args'] as string[] | undefined) ?? []), ...rest(args)];
    psVerb({ id: id(args), format: String(args.format), psArgs, ...globals(args, ctx) });
  },
  async update(args, ctx) {
    const { updateVerb } = await import('./update.js');
    updateVerb({ id: id(args), flags: args as never, ...globals(args, ctx) });
  },
};

/** Run `verb`'s handler. Its errors say `<verb> <id>:` (or `<verb>:` for those without an id)
 * from here on, whichever parser read the words. */
export function runHandler(verb: string, args: Args, ctx: Ctx): Promise<void> {
  ctx.setContext(args.id === undefined ? verb : `${verb} ${id(args)}`);
  return HANDLERS[verb]!(args, ctx);
}
