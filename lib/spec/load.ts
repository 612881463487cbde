// Read and validate a bundle's config.json. Every failure becomes one spec LaunchError that
// names the file and, for schema failures, the config path of the first problem, e.g.
//   launch: run web: linux.uidMappings[0].size: must be from 1 to 4294967295, got 0 `/b/config.json`
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { fromNodeError, specError, type LaunchError } from '../errors.js';
import { SpecSchema, quote, showValue, type Spec } from './schema.js';

type Issue = z.core.$ZodIssue;

/** `['linux', 'uidMappings', 0, 'size']` -> `linux.uidMappings[0].size`; keys that are not
 * identifiers (sysctl names, annotation keys) are quoted: `linux.sysctl["net.ipv4.ip_forward"]`. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${quote(String(key))}]`;
  }
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number', int: 'an integer', string: 'a string', boolean: 'a boolean',
  object: 'an object', record: 'an object', array: 'an array', null: 'null',
};
const typeName = (expected: string) => TYPE_NAMES[expected] ?? expected;

/** One short lower-case line for one zod issue, without a final period. */
export function issueMessage(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      // zod leaves `input` out when the key was absent: that is a missing field, not a wrong type.
      if (issue.input === undefined) return `required field is missing (expected ${typeName(issue.expected)})`;
      // A literal past the double range (1e400) parses to Infinity, which z.number() refuses.
      if (issue.expected === 'number' && typeof issue.input === 'number') return `expected a finite number, got ${issue.input}`;
      return `expected ${typeName(issue.expected)}, got ${jsonType(issue.input)}`;
    case 'invalid_value': {
      const oneOf = `one of ${issue.values.map((v) => showValue(v)).join(', ')}`;
      if (issue.input === undefined) return `required field is missing (expected ${oneOf})`;
      return `expected ${oneOf}, got ${showValue(issue.input)}`;
    }
    case 'too_small':
      if (Number(issue.minimum) === 1 && (issue.origin === 'array' || issue.origin === 'string')) return 'must not be empty';
      if (issue.origin === 'array') return `must have at least ${issue.minimum} entries`;
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters`;
      return `must be at least ${issue.minimum}, got ${showValue(issue.input)}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} entries`;
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      return `must be at most ${issue.maximum}, got ${showValue(issue.input)}`;
    case 'invalid_union': {
      // Only type alternatives are used as unions here, so list what would have been accepted.
      const wanted = issue.errors.flatMap((alt) => alt.filter((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (wanted.length > 0 && wanted.length === issue.errors.length) {
        const names = wanted.map((i) => typeName((i as z.core.$ZodIssueInvalidType).expected));
        return `expected ${names.join(' or ')}, got ${jsonType(issue.input)}`;
      }
      return 'does not match any allowed form';
    }
    case 'custom':
      return oneLine(issue.message);
    default:
      return oneLine(issue.message.charAt(0).toLowerCase() + issue.message.slice(1));
  }
}

// Split rather than /\s*\n\s*/: that pattern backtracks quadratically on a long run of blanks.
const oneLine = (s: string) =>
  s.split(/[\r\n\u2028\u2029]/).map((l) => l.trim()).filter((l) => l !== '').join(' ').replace(/[\u0000-\u001f\u007f]/g, '?').replace(/\.$/, '');

/** The first zod issue as a spec LaunchError (the first is the one a human fixes first). */
export function issueError(issues: readonly Issue[], file: string | undefined): LaunchError {
  const issue = issues[0]!;
  const path = formatConfigPath(issue.path);
  return specError(issueMessage(issue), {
    code: 'SPEC_INVALID',
    configPath: path === '' ? undefined : path,
    file,
  });
}

/** Validate an already-parsed config. Unknown fields are kept in the result. */
export function parseSpec(doc: unknown, file: string): Spec {
  const result = SpecSchema.safeParse(doc, { reportInput: true });
  if (!result.success) throw issueError(result.error.issues, file);
  return result.data;
}

/** 1-based line and column of a string offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

class JsonStop {
  constructor(readonly offset: number, readonly reason: string) {}
}

/** Where and why `text` is not JSON. V8's messages differ between Node versions and often
 * carry no position at all, so the error path re-scans the text itself (it never runs on the
 * happy path, so its speed does not matter). The offsets are the ones V8 reports where it
 * reports one, but for a misspelt true/false/null, shown at its first letter. Iterative, with its own stack: a document nested 100 000 deep (which JSON.parse
 * reads) must not overflow the call stack here. */
export function jsonSyntaxError(text: string): { offset: number; reason: string } | undefined {
  let i = 0;
  const stop = (reason: string): never => {
    throw new JsonStop(i, i >= text.length ? 'unexpected end of input' : reason);
  };
  const digit = () => text[i] !== undefined && text[i]! >= '0' && text[i]! <= '9';
  const digits = () => {
    while (digit()) i++;
  };
  const ws = () => {
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r') i++;
  };
  const string = () => {
    i++;
    for (;;) {
      const c = text[i];
      if (c === undefined) stop('unterminated string');
      else if (c === '"') return void i++;
      else if (c === '\\') {
        i++;
        if (text[i] === 'u') {
          i++;
          for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(text[i] ?? '')) stop('invalid \\u escape in string');
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else stop('invalid escape in string');
      } else if (c < ' ') stop('control character in string');
      else i++;
    }
  };
  const number = (): boolean => {
    const start = i;
    if (text[i] === '-') i++;
    if (!digit()) {
      if (i === start) return false;
      stop('expected a digit after the minus sign');
    }
    if (text[i] === '0') {
      i++;
      if (digit()) stop(`unexpected ${showValue(text[i])} after a leading zero`);
    } else digits();
    if (text[i] === '.') {
      i++;
      if (!digit()) stop('expected a digit after the decimal point');
      digits();
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!digit()) stop('expected a digit in the exponent');
      digits();
    }
    return true;
  };
  const literal = (): boolean => {
    for (const word of ['true', 'false', 'null']) {
      if (!text.startsWith(word, i)) continue;
      i += word.length;
      return true;
    }
    return false;
  };
  const key = () => {
    ws();
    if (text[i] !== '"') stop('expected a double-quoted property name');
    string();
    ws();
    if (text[i] !== ':') stop("expected ':' after property name");
    i++;
  };
  // The closing brackets of the containers we are in, innermost last.
  const open: string[] = [];
  try {
    value: for (;;) {
      ws();
      const c = text[i];
      if (c === '{' || c === '[') {
        const close = c === '{' ? '}' : ']';
        i++;
        ws();
        if (text[i] === close) i++;
        else {
          open.push(close);
          if (close === '}') key();
          continue value;
        }
      } else if (c === '"') string();
      else if (!number() && !literal()) stop(`unexpected character ${showValue(c)}`);
      // After a value: close what ends here, then go on after a comma.
      while (open.length > 0) {
        const close = open[open.length - 1]!;
        ws();
        if (text[i] === close) {
          i++;
          open.pop();
          continue;
        }
        if (text[i] !== ',') stop(`expected ',' or '${close}' after ${close === '}' ? 'property value' : 'array element'}`);
        i++;
        if (close === '}') key();
        continue value;
      }
      break;
    }
    ws();
    if (i < text.length) stop(`unexpected ${showValue(text[i])} after the end of the document`);
    return undefined;
  } catch (e) {
    if (e instanceof JsonStop) return { offset: e.offset, reason: e.reason };
    throw e;
  }
}

/** JSON.parse, with a syntax error turned into
 * "invalid JSON (<why>) at line L, column C of `file`". */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    let found: { offset: number; reason: string } | undefined;
    try {
      found = jsonSyntaxError(text);
    } catch {
      // Only a bug in the scanner gets here (the fuzz test checks it agrees with JSON.parse):
      // then V8's own words, at the start of the file, are the best there is.
    }
    const { offset, reason } = found ?? { offset: 0, reason: oneLine(String((err as Error)?.message ?? err)) };
    const { line, column } = lineColumn(text, offset);
    throw specError(`invalid JSON (${reason}) at line ${line}, column ${column} of`, { code: 'SPEC_JSON', file, cause: err });
  }
}

/** Read `<bundle>/config.json` and validate it. */
export function loadSpec(bundleDir: string): Spec {
  const file = join(bundleDir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fromNodeError('spec', 'cannot read', err, { code: 'SPEC_READ', file });
  }
  return parseSpec(parseJson(text, file), file);
}
