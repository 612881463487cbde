#!/usr/bin/env node
// Between and after the two passes of the integration suite against dist/launch that share a
// LAUNCH_TEST_BASE (.ci/run 1b, 1c): tells what the warm pass did with the compiled bundles
// the cold one stored, from the entries themselves (<state root>/.compiled/<hash>), without a
// test-only feature in launch:
//
//   mark BASE LIST [FILES]
//                     after the cold pass: list every entry (device, inode, mtime) and set its
//                     atime back to its mtime, so that (relatime) the next read of it updates
//                     the atime again; FILES: the names of the test files (BASE/<name>) that
//                     stored entries, one a line: the others' warm pass would be their cold
//                     pass again, with nothing to find;
//   check BASE LIST [REPORT]
//                     after the warm pass: an entry of the list with the same inode and mtime
//                     whose atime moved was read and not replaced: a start hit it (a miss
//                     that reads an entry replaces it, by rename, when Node compiles the
//                     command line again, or removes it; only a miss that Node cannot compile
//                     again, the same words now with something never compiled such as
//                     LISTEN_FDS, leaves it as it was and counts here). Replaced entries and new
//                     ones are the warm pass's misses that compiled; entries not read are
//                     command lines the warm pass did not run again. Fails when no entry
//                     of a user (root's, the test user's: the state root's owner) hit;
//                     REPORT: the verdict as a vitest JSON report of one test, for the
//                     summary line of .ci/run.
//
// Counts are of entries, not of starts: an entry hit five times counts once.
import { readdirSync, statSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const [verb, base, list, out] = process.argv.slice(2);
if (!['mark', 'check'].includes(verb) || !base || !list) {
  console.error('usage: compiled-cache.mjs mark BASE LIST [FILES] | check BASE LIST [REPORT]');
  process.exit(2);
}

/** Every entry under `base`: files in a directory named `.compiled` (not the .tmp ones being written). */
function entries(dir, out = []) {
  let names;
  try {
    names = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of names) {
    const path = join(dir, e.name);
    if (!e.isDirectory()) continue;
    if (e.name === '.compiled') {
      for (const f of readdirSync(path, { withFileTypes: true })) {
        if (f.isFile() && !f.name.endsWith('.tmp')) out.push(join(path, f.name));
      }
    } else entries(path, out);
  }
  return out;
}

const stat = (path) => statSync(path, { bigint: true });
const fileOf = (path) => relative(base, path).split(sep)[0];

if (verb === 'mark') {
  const marked = entries(base).map((path) => {
    const st = stat(path);
    // A second before the mtime (utimes also sets the mtime, to within a microsecond of
    // itself: the list holds the values after it).
    const mtime = Number(st.mtimeNs) / 1e9;
    utimesSync(path, mtime - 1, mtime);
    const after = stat(path);
    return { path, uid: Number(after.uid), dev: String(after.dev), ino: String(after.ino), mtimeNs: String(after.mtimeNs), atimeNs: String(after.atimeNs) };
  });
  writeFileSync(list, JSON.stringify(marked));
  const files = [...new Set(marked.map((m) => fileOf(m.path)))].sort();
  if (out) writeFileSync(out, files.map((f) => `${f}\n`).join(''));
  console.log(`compiled bundles after the cold pass: ${marked.length} entries in ${files.length} test files`);
  process.exit(0);
}

const marked = JSON.parse(readFileSync(list, 'utf8'));
const known = new Set(marked.map((m) => m.path));
const hit = [], replaced = [], unread = [], gone = [];
/** Per owner of the cold pass's entries (root, the test user): how many hit. */
const hitsOf = new Map(marked.map((m) => [m.uid, 0]));
for (const m of marked) {
  let st;
  try {
    st = stat(m.path);
  } catch {
    gone.push(m.path);
    continue;
  }
  if (String(st.dev) !== m.dev || String(st.ino) !== m.ino || String(st.mtimeNs) !== m.mtimeNs) replaced.push(m.path);
  else if (String(st.atimeNs) !== m.atimeNs) {
    hit.push(m.path);
    hitsOf.set(m.uid, hitsOf.get(m.uid) + 1);
  }
  else unread.push(m.path);
}
const added = entries(base).filter((p) => !known.has(p));

const byFile = new Map();
for (const [what, paths] of Object.entries({ hit, replaced, added, unread, gone })) {
  for (const p of paths) {
    const f = fileOf(p);
    if (!byFile.has(f)) byFile.set(f, { hit: 0, replaced: 0, added: 0, unread: 0, gone: 0 });
    byFile.get(f)[what]++;
  }
}
for (const [f, c] of [...byFile].sort()) {
  console.log(`  ${f}: ${Object.entries(c).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(', ')}`);
}
/** The verb and bundle of an entry (its lookup field: uid, verb, root, cwd, bundle, flags). */
function lookupOf(path) {
  try {
    const m = /^launch-compiled 1\nlookup (\d+)\n/.exec(readFileSync(path, 'latin1'));
    const words = readFileSync(path, 'latin1').slice(m[0].length, m[0].length + Number(m[1])).split('\0');
    return `${words[1]} ${relative(base, words[4] ?? '')}`;
  } catch {
    return '?';
  }
}
if (process.env.VERBOSE) for (const p of [...replaced, ...added]) console.log(`  miss: ${lookupOf(p)}`);
console.log(
  `compiled bundles in the warm pass: ${hit.length} of ${marked.length} entries of the cold pass hit; ` +
    `${replaced.length} replaced and ${added.length} new (misses that compiled), ${unread.length} not read, ${gone.length} removed; ` +
    `hits by owner: ${[...hitsOf].map(([uid, n]) => `uid ${uid} ${n}`).join(', ') || 'none'}`,
);
const ok = hitsOf.size > 0 && [...hitsOf.values()].every((n) => n > 0);
const report = out;
if (report) {
  const r = { numPassedTests: +ok, numFailedTests: +!ok, numPendingTests: 0, numTodoTests: 0, numTotalTests: 1, numFailedTestSuites: 0 };
  writeFileSync(report, JSON.stringify(r));
}
if (!ok) {
  console.error(`the warm pass hit no compiled bundle${hitsOf.size > 1 ? ' of one of the users' : ''}: the cache was not used`);
  process.exit(1);
}
