// The recorder (lib/compiled/facts.ts record) turns every file planning reads into a fact of
// the compiled entry: each file once, and every file, whatever came before it. Its key once
// ignored a file fact's path (bytes, not text), so only the first file read was a fact.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { record } from '../../lib/compiled/facts.js';

const dir = mkdtempSync(join(tmpdir(), 'facts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pathOf = (v: string | Uint8Array) => Buffer.from(v).toString('latin1').split('\0')[0];

describe('record', () => {
  it('notes every file read, each once, with its bytes', () => {
    const [a, b] = ['a', 'b'].map((n) => join(dir, n));
    writeFileSync(a!, 'one');
    writeFileSync(b!, 'two');
    const { result, facts } = record(() => [readFileSync(a!, 'utf8'), readFileSync(b!, 'utf8'), readFileSync(a!, 'utf8'), statSync(dir).isDirectory()]);
    expect(result).toEqual(['one', 'two', 'one', true]);
    expect(facts.map(([k, v]) => [k, pathOf(v)])).toEqual([['file', a], ['file', b], ['kind', dir]]);
    expect(Buffer.from(facts[1]![1]).toString()).toBe(`${b}\u00001two`);
  });
  it('notes a file that could not be read', () => {
    const gone = join(dir, 'gone');
    const { facts } = record(() => {
      try {
        readFileSync(join(dir, 'a'));
        readFileSync(gone);
      } catch {
        /* planning may read a file that is not there */
      }
    });
    expect(facts.map(([, v]) => Buffer.from(v).toString())).toEqual([`${join(dir, 'a')}\u00001one`, `${gone}\u00000`]);
  });
});
