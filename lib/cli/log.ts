// --log FILE and --log-format text|json: where callers (containerd's shim, podman's conmon)
// read launch's errors. The shim takes the last `"level":"error"` line of the JSON log, so
// every error that goes to stderr goes here too, in runc's logrus layout.
import { appendFileSync } from 'node:fs';

export interface LogTarget {
  file: string;
  format: 'text' | 'json';
}

/** --log/--log-format from the global flags as scanned before parsing (flags.ts scanGlobals):
 * yargs may fail before it can tell. */
export function logTarget(globals: Readonly<Record<string, string>>): LogTarget | undefined {
  const file = globals.log;
  const format = globals['log-format'] === 'json' ? 'json' : 'text';
  return file ? { file, format } : undefined;
}

export function logLine(target: LogTarget, level: 'error' | 'warning' | 'debug', msg: string, now = new Date()): string {
  const time = now.toISOString();
  if (target.format === 'json') return JSON.stringify({ level, msg, time });
  return `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
}

/** Best effort: a log that cannot be written must not hide the error itself (on stderr). */
export function writeLog(target: LogTarget | undefined, level: 'error' | 'warning' | 'debug', msg: string): void {
  if (!target) return;
  try {
    appendFileSync(target.file, `${logLine(target, level, msg)}\n`);
  } catch {
    /* stderr has it */
  }
}
