// --preserve-fds N and LISTEN_FDS hand fds 3.. of launch's own table to the container. Only
// the fds launch's caller gave it may go: Node opens its own at start-up in the lowest free
// numbers (epoll, io_uring, eventfds, self-pipes), and launch's code opens more before the
// clone. Given to the container, those let it write into launch's event loop (16 bytes into
// one of them made a root `launch exec` segfault). Node's start-up also marks every inherited
// fd close-on-exec (libuv's uv_disable_stdio_inheritance), so that flag cannot tell them
// apart: what was open when main() began and is not of a kind Node opens is the caller's.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { usageError } from '../errors.js';

/** What Node's start-up opens: event loop fds (epoll, io_uring, the eventfds of its async
 * handles), and self-pipes, whose read and write ends Node holds both. A caller who gives
 * launch fds of these kinds (both ends of one pipe, say) has them refused rather than risk
 * Node's; two copies of one end of a pipe are still the caller's. */
const NODE_KIND = /^anon_inode:\[?(eventpoll|eventfd|io_uring|signalfd|timerfd)\]?$/;

/** An open fd: its /proc/self/fd link, and for a pipe which end it is. */
export interface FdLink {
  link: string;
  end?: 'r' | 'w';
}

/** The caller's fds (3 and up) among `fds`. */
export function callerFdsFrom(fds: ReadonlyMap<number, FdLink>): Set<number> {
  const ends = new Map<string, Set<string | undefined>>();
  for (const { link, end } of fds.values()) if (link.startsWith('pipe:')) ends.set(link, (ends.get(link) ?? new Set()).add(end));
  const out = new Set<number>();
  for (const [fd, { link }] of fds) {
    if (fd < 3 || NODE_KIND.test(link)) continue;
    const pipe = ends.get(link);
    if (pipe && pipe.has('r') && pipe.has('w')) continue;
    out.add(fd);
  }
  return out;
}

let given: ReadonlySet<number> | undefined;

/** Note the caller's fds. main() calls it before launch opens any fd of its own; the listing's
 * own directory fd is gone by the readlink, and so not counted. */
export function noteCallerFds(): void {
  const fds = new Map<number, FdLink>();
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (!(fd >= 3)) continue;
    try {
      const link = readlinkSync(`/proc/self/fd/${name}`);
      if (!link.startsWith('pipe:')) fds.set(fd, { link });
      else {
        // fdinfo `flags:` is octal; its low two bits are the access mode.
        const flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${name}`, 'utf8'))?.[1];
        fds.set(fd, { link, end: flags !== undefined && (parseInt(flags, 8) & 3) === 1 ? 'w' : 'r' });
      }
    } catch {
      /* closed since the listing: not the caller's */
    }
  }
  given = callerFdsFrom(fds);
}

/** --preserve-fds as typed (yargs and the fast path keep it a string): a whole decimal number. */
export function preserveFdsCount(v: unknown): number {
  if (v === undefined) return 0;
  const text = String(v);
  if (typeof v === 'number' ? !Number.isInteger(v) || v < 0 || v > 65536 : !/^\d{1,5}$/.test(text) || Number(text) > 65536) {
    throw usageError(`--preserve-fds must be a number from 0 to 65536, got \`${text}\``);
  }
  return Number(text);
}

/** Refuse, before anything is created, a fd of `first..first+count-1` the caller did not give.
 * `what` names the setting: `--preserve-fds 2`, `LISTEN_FDS=1`. */
export function checkCallerFds(first: number, count: number, what: string): void {
  if (!count) return;
  if (!given) noteCallerFds();
  for (let fd = first; fd < first + count; fd++) {
    if (!given!.has(fd)) throw usageError(`${what}: fd ${fd} was not given to launch (only fds its caller opened go on to the container)`);
  }
}

/** systemd socket activation, as runc (go-systemd's activation.Files, libsystemd's
 * sd_listen_fds): the LISTEN_FDS fds from 3 are for launch only when LISTEN_PID names
 * launch's own process; otherwise they were meant for a process before it in the chain. */
export function listenFds(env: NodeJS.ProcessEnv, pid: number): number {
  if (env.LISTEN_PID === undefined || !/^\d+$/.test(env.LISTEN_PID) || Number(env.LISTEN_PID) !== pid) return 0;
  const text = env.LISTEN_FDS ?? '';
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65536) return 0;
  return Number(text);
}
