// One error type for everything launch can foresee, and one function that turns it into the
// single line the user sees. Constructors never print; formatError() is the only formatter.
//
// Line shape (docs/errors.md):
//   launch: <verb> <id>: <config path>: <what> `<file>`: <strerror> (<ERRNO>)
// Every part but <what> is optional.
import { constants as osConstants } from 'node:os';

/** Who has to act: the caller (usage), the config author (spec), the state store, the host's
 * setup (host), or the container's own setup going wrong at run time (setup). */
export type ErrorKind = 'usage' | 'spec' | 'state' | 'host' | 'setup';

export interface LaunchErrorInit {
  code?: string;
  configPath?: string;
  file?: string;
  errno?: number;
  syscall?: string;
  cause?: unknown;
  /** Exit status for the CLI. 125 by default (launch itself failed), as podman/docker do. */
  exitCode?: number;
}

export class LaunchError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly configPath: string | undefined;
  readonly file: string | undefined;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly exitCode: number;
  /** Filled in by the verb that catches the error, so lib code need not know it. */
  context: string | undefined;

  constructor(kind: ErrorKind, message: string, init: LaunchErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LaunchError';
    this.kind = kind;
    this.code = init.code ?? kind.toUpperCase();
    this.configPath = init.configPath;
    this.file = init.file;
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.exitCode = init.exitCode ?? 125;
    this.context = undefined;
  }
}

export const usageError = (msg: string, init?: LaunchErrorInit) => new LaunchError('usage', msg, init);
export const specError = (msg: string, init?: LaunchErrorInit) => new LaunchError('spec', msg, init);
export const stateError = (msg: string, init?: LaunchErrorInit) => new LaunchError('state', msg, init);
export const hostError = (msg: string, init?: LaunchErrorInit) => new LaunchError('host', msg, init);
export const setupError = (msg: string, init?: LaunchErrorInit) => new LaunchError('setup', msg, init);

// errno number -> symbolic name, built lazily (not at import time: start-up snapshot rule).
let errnoNames: Map<number, string> | undefined;
export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, num] of Object.entries(osConstants.errno)) {
      if (!errnoNames.has(num)) errnoNames.set(num, name);
    }
  }
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

// strerror() texts for the errnos a container setup realistically hits. glibc's wording,
// so messages read like runc's and crun's. Anything else falls back to the symbolic name.
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', ESRCH: 'No such process',
  EINTR: 'Interrupted system call', EIO: 'Input/output error', ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long', ENOEXEC: 'Exec format error', EBADF: 'Bad file descriptor',
  ECHILD: 'No child processes', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied', EFAULT: 'Bad address', ENOTBLK: 'Block device required',
  EBUSY: 'Device or resource busy', EEXIST: 'File exists', EXDEV: 'Invalid cross-device link',
  ENODEV: 'No such device', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument', ENFILE: 'Too many open files in system', EMFILE: 'Too many open files',
  ENOTTY: 'Inappropriate ioctl for device', ETXTBSY: 'Text file busy', EFBIG: 'File too large',
  ENOSPC: 'No space left on device', ESPIPE: 'Illegal seek', EROFS: 'Read-only file system',
  EMLINK: 'Too many links', EPIPE: 'Broken pipe', ERANGE: 'Numerical result out of range',
  ENAMETOOLONG: 'File name too long', ENOSYS: 'Function not implemented', ELOOP: 'Too many levels of symbolic links',
  ECONNREFUSED: 'Connection refused', EADDRINUSE: 'Address already in use', EADDRNOTAVAIL: 'Cannot assign requested address', ECONNRESET: 'Connection reset by peer', EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable', ECONNABORTED: 'Software caused connection abort', EPROTO: 'Protocol error',
  ENOTEMPTY: 'Directory not empty', EOPNOTSUPP: 'Operation not supported', EUSERS: 'Too many users',
  ENOTSUP: 'Operation not supported', ETIMEDOUT: 'Connection timed out', ENOTSOCK: 'Socket operation on non-socket',
};

export function strerror(errno: number): string {
  const name = errnoName(errno);
  return STRERROR[name] ?? name;
}

/** Errno from a Node system error (which carries a negative errno and a string code). */
export function nodeErrno(err: unknown): number | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e && typeof e.errno === 'number') return Math.abs(e.errno);
  if (e && typeof e.code === 'string') {
    const n = (osConstants.errno as Record<string, number>)[e.code];
    if (typeof n === 'number') return n;
  }
  return undefined;
}

/** Wrap a Node fs error as a LaunchError that names the file and errno. */
export function fromNodeError(kind: ErrorKind, what: string, err: unknown, init: LaunchErrorInit = {}): LaunchError {
  const e = err as NodeJS.ErrnoException;
  return new LaunchError(kind, what, {
    ...init,
    errno: init.errno ?? nodeErrno(err),
    syscall: init.syscall ?? e?.syscall,
    cause: err,
  });
}

const CONTROL: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `text` with its control characters (newlines, escape sequences) written out as `\n`,
 * `\u001b`: what formatError does to its line, for any other line made of quoted data. */
export function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (c) => CONTROL[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The one line. `debug` adds the cause chain on following lines. */
export function formatError(err: unknown, debug = false): string {
  if (!(err instanceof LaunchError)) {
    const stack = err instanceof Error ? (err.stack ?? String(err)) : String(err);
    return `launch: internal error (this is a bug, please report it with the output below):\n${stack}`;
  }
  const parts: string[] = ['launch'];
  if (err.context) parts.push(err.context);
  if (err.configPath) parts.push(err.configPath);
  let what = err.message;
  // A path is data from a config or the command line: a newline in it must not end the line.
  if (err.file !== undefined) what += ` \`${err.file}\``;
  parts.push(what);
  if (err.errno !== undefined) parts.push(`${strerror(err.errno)} (${errnoName(err.errno)})`);
  // One line whatever it quotes: an id, a path or a config value with a newline or an escape
  // sequence in it (`create 'x\nlaunch: ...'`) must not forge lines in a caller's log.
  let line = escapeControls(parts.join(': '));
  if (debug) {
    let cause: unknown = err.cause;
    while (cause !== undefined) {
      line += `\n  caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`;
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return line;
}
