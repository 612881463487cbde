// The per-user cache of compiled bundles: `<state root>/.compiled/<name>`, in the state root
// (0700 and the user's, checked by StateStore before any start), so only its user can write an
// entry. Written by rename (a reader sees a whole entry or none, and concurrent starts of one
// bundle each write the same bytes), at most COMPILED_MAX entries, the oldest removed first.
// Never an error for the start: a cache that cannot be written only costs the next start.
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBinary } from '../runtime/embedded.js';
import { addonDir } from '../runtime/native.js';
import { type CompileInput, compile } from './compile.js';
import { type Fact, statFact, treeFacts } from './facts.js';
import { COMPILED_DIR, COMPILED_MAX, COMPILED_MAX_BYTES, entryName, lookupString } from './format.js';

/** The files whose change makes every entry a miss: launch itself. The single executable is
 * one file; a checkout is its compiled JavaScript, the native parts and the Node that runs it. */
export function buildFiles(): Fact[] {
  if (isBinary()) return [statFact(process.execPath)];
  const dist = dirname(dirname(fileURLToPath(import.meta.url)));
  const native = ['launch-front', 'launch-monitor', 'launch_native.node', 'launch-exec'].map((n) => statFact(join(addonDir(), n)));
  return [statFact(process.execPath), ...native, ...treeFacts(dist)];
}

export function entryPath(root: string, input: Pick<CompileInput, 'words'>): string {
  return join(root, COMPILED_DIR, entryName(lookupString(input.words)));
}

/** Compile and store; `drop` (the runner failed with this entry) removes it instead. Returns
 * what --debug says. */
export function storeCompiled(root: string, input: CompileInput | undefined, drop: boolean): string {
  try {
    return store(root, input, drop);
  } catch (err) {
    // A bug here must not fail a container that runs: said under --debug, and no entry.
    return `not compiled: ${err instanceof Error ? err.stack : String(err)}`;
  }
}

function store(root: string, input: CompileInput | undefined, drop: boolean): string {
  if (!input) return 'not compiled: the start made no state';
  const file = entryPath(root, input);
  if (drop) {
    fs.rmSync(file, { force: true });
    return `removed the entry the native runner failed with \`${file}\``;
  }
  const made = compile(input);
  if ('reason' in made) return `not compiled: ${made.reason}`;
  if (made.entry.length > COMPILED_MAX_BYTES) return `not compiled: the entry would be ${made.entry.length} bytes`;
  const dir = dirname(file);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return `not stored: ${String(err)}`;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, made.entry, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    return `not stored: ${String(err)}`;
  }
  prune(dir);
  return `stored \`${file}\``;
}

function prune(dir: string): void {
  try {
    const names = fs.readdirSync(dir).filter((n) => !n.endsWith('.tmp'));
    if (names.length <= COMPILED_MAX) return;
    const byAge = names.map((n) => ({ n, t: fs.statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
    for (const { n } of byAge.slice(0, names.length - COMPILED_MAX)) fs.rmSync(join(dir, n), { force: true });
  } catch {
    /* another start pruned at the same time */
  }
}
