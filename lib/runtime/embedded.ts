// What the single executable carries inside it (scripts/build-binary.mjs puts them there as
// SEA assets): the addon, the monitor program a foreground `run` becomes while it waits, and
// the packages only some starts need (yargs for help and errors, dbus-native for the systemd
// driver), kept out of the start-up snapshot that every start deserializes.
// Nothing of them is written where another user could swap it: the addon goes into an
// unnamed O_TMPFILE file, opened for dlopen through /proc/self/fd, and the monitor into a
// sealed memfd (the addon's execMonitor).
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as sea from 'node:sea';
import { compileFunction } from 'node:vm';
import type { NativeAddon } from './native.js';

// Linux x86_64/arm64: __O_TMPFILE | O_DIRECTORY (not in Node's fs.constants).
const O_TMPFILE = 0o20200000;
const O_RDWR = 2;

export const isBinary = (): boolean => sea.isSea();

export function asset(name: string): Buffer {
  return Buffer.from(sea.getRawAsset(name) as ArrayBuffer);
}

/** dlopen the carried addon. An O_TMPFILE file needs a filesystem that allows them and is not
 * mounted noexec (dlopen maps it executable): the first place that works wins. */
export function loadEmbeddedAddon(): NativeAddon {
  const image = asset('addon');
  const places = [process.env.XDG_RUNTIME_DIR, '/dev/shm', tmpdir(), '/tmp', '/var/tmp'].filter((d): d is string => Boolean(d));
  let last: unknown;
  for (const dir of places) {
    let fd = -1;
    try {
      fd = openSync(dir, O_TMPFILE | O_RDWR, 0o500);
      for (let off = 0; off < image.length; ) off += writeSync(fd, image, off);
      const mod = { exports: {} as NativeAddon };
      process.dlopen(mod, `/proc/self/fd/${fd}`);
      return mod.exports;
    } catch (err) {
      last = err;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  throw last;
}

const modules = new Map<string, unknown>();

/** A package carried as a CommonJS bundle (`<name>.cjs`), evaluated on first use. Such bundles
 * require Node's built-in modules only. */
export function embeddedModule(name: string): unknown {
  if (modules.has(name)) return modules.get(name);
  const code = sea.getAsset(`${name}.cjs`, 'utf8') as string;
  const module = { exports: {} as unknown };
  const body = compileFunction(code, ['module', 'exports', 'require'], { filename: `launch:${name}.cjs` });
  body(module, module.exports, createRequire(process.execPath));
  modules.set(name, module.exports);
  return module.exports;
}
