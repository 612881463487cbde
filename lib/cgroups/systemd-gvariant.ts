// systemd unit properties from `org.systemd.property.NAME` annotations, as runc's
// initSystemdProps: the value is GVariant text (`uint64 1024`, `true`, `'str'`, `[1, 2]`),
// typed by the property's name where the text leaves it open. Part of the systemd driver
// (systemd.ts).
import { specError } from '../errors.js';
import { formatConfigPath } from '../spec/load.js';

/** One unit property: name, D-Bus signature of its value, and the value (64-bit integers as
 * bigint, byte arrays as Buffer). */
export type Property = [name: string, signature: string, value: unknown];

/** USEC_INFINITY / CGROUP_LIMIT_MAX / TasksMax=infinity: uint64 max, runc's math.MaxUint64. */
export const INFINITY = 2n ** 64n - 1n;

// ---------------------------------------------------------------------------------------------
// org.systemd.property.* annotations (runc's initSystemdProps)
// ---------------------------------------------------------------------------------------------

const PREFIX = 'org.systemd.property.';
const TYPE_WORDS: Record<string, string> = {
  boolean: 'b', byte: 'y', int16: 'n', uint16: 'q', int32: 'i', uint32: 'u', int64: 'x', uint64: 't', double: 'd', string: 's', objectpath: 'o', signature: 'g',
};
const INT_RANGE: Record<string, [bigint, bigint]> = {
  y: [0n, 255n], n: [-(2n ** 15n), 2n ** 15n - 1n], q: [0n, 2n ** 16n - 1n], i: [-(2n ** 31n), 2n ** 31n - 1n],
  u: [0n, 2n ** 32n - 1n], x: [-(2n ** 63n), 2n ** 63n - 1n], t: [0n, INFINITY],
};

/** A value in GVariant text format (what runc's annotations take: `uint64 123`, `'text'`,
 * `true`, `['a', 'b']`, `@as []`), the subset that unit properties use: basic types and arrays
 * of them. Returns the D-Bus signature and the value; throws a plain Error on bad input. */
export function parseGVariant(text: string): [string, unknown] {
  let pos = 0;
  const s = text;
  const ws = () => {
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
  };
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${pos} of ${JSON.stringify(text)}`);
  };
  const number = (sig: string | undefined): [string, unknown] => {
    const m = /^[-+]?(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)/.exec(s.slice(pos));
    if (!m) return fail('expected a number');
    pos += m[0].length;
    const isFloat = /[.eE]/.test(m[0]) && !/^[-+]?0x/.test(m[0]);
    const type = sig ?? (isFloat ? 'd' : 'i');
    if (type === 'd') return ['d', Number(m[0])];
    if (isFloat) return fail(`expected an integer for type ${type}`);
    const neg = m[0].startsWith('-');
    const v = BigInt(m[0].replace(/^[-+]/, '')) * (neg ? -1n : 1n);
    const range = INT_RANGE[type];
    if (!range) return fail(`a number cannot have type ${type}`);
    if (v < range[0] || v > range[1]) return fail(`${m[0]} does not fit type ${type}${sig ? '' : ' (an untyped integer is int32: write e.g. `uint64 N`)'}`);
    return [type, type === 'x' || type === 't' ? v : Number(v)];
  };
  const string = (): string => {
    const q = s[pos]!;
    pos++;
    let out = '';
    while (pos < s.length && s[pos] !== q) {
      if (s[pos] === '\\') {
        pos++;
        const e = s[pos] ?? '';
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
        if (e in simple) {
          out += simple[e];
          pos++;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}/.test(s.slice(pos + 1))) {
          out += String.fromCharCode(parseInt(s.slice(pos + 1, pos + 5), 16));
          pos += 5;
        } else fail('unknown escape');
      } else out += s[pos++];
    }
    if (s[pos] !== q) fail('unterminated string');
    pos++;
    return out;
  };
  const value = (sig?: string): [string, unknown] => {
    ws();
    if (sig === undefined) {
      for (const [word, t] of Object.entries(TYPE_WORDS)) {
        if (s.startsWith(word, pos) && /\s/.test(s[pos + word.length] ?? '')) {
          pos += word.length;
          return value(t);
        }
      }
      if (s[pos] === '@') {
        const m = /^@(a?[ybnqiuxtdsog])\s/.exec(s.slice(pos));
        if (!m) fail('expected a basic type or an array of one after `@`');
        pos += m![0].length;
        return value(m![1]);
      }
    }
    const c = s[pos];
    if (c === '[') {
      pos++;
      const items: unknown[] = [];
      let elem = sig?.startsWith('a') ? sig.slice(1) : undefined;
      if (sig !== undefined && !sig.startsWith('a')) fail(`an array cannot have type ${sig}`);
      ws();
      while (s[pos] !== ']') {
        const [t, v] = value(elem);
        if (elem !== undefined && t !== elem) fail(`array elements of different types (${elem}, ${t})`);
        elem = t;
        items.push(v);
        ws();
        if (s[pos] === ',') pos++;
        else if (s[pos] !== ']') fail('expected `,` or `]`');
        ws();
      }
      pos++;
      if (elem === undefined) fail('an empty array needs a type, e.g. `@as []`');
      return [`a${elem}`, elem === 'y' ? Buffer.from(items as number[]) : items];
    }
    if (c === "'" || c === '"') {
      const str = string();
      const t = sig ?? 's';
      if (!'sog'.includes(t)) fail(`a string cannot have type ${t}`);
      return [t, str];
    }
    if (s.startsWith('true', pos) || s.startsWith('false', pos)) {
      if (sig !== undefined && sig !== 'b') fail(`a boolean cannot have type ${sig}`);
      const v = s.startsWith('true', pos);
      pos += v ? 4 : 5;
      return ['b', v];
    }
    return number(sig);
  };
  const out = value();
  ws();
  if (pos !== s.length) fail('unexpected text');
  return out;
}

/** `org.systemd.property.NAME` annotations as unit properties, as runc: NAME is three or more
 * latin letters; a NAME ending in a lower-case letter then `Sec` (TimeoutStopSec) is given in
 * seconds and sent as NAMEUSec in microseconds. Sorted by name, so the result is stable. */
export function annotationProperties(annotations: Record<string, string>): Property[] {
  const props: Property[] = [];
  for (const key of Object.keys(annotations).sort()) {
    if (!key.startsWith(PREFIX)) continue;
    let name = key.slice(PREFIX.length);
    const configPath = formatConfigPath(['annotations', key]);
    if (!/^[A-Za-z]{3,}$/.test(name)) throw specError(`\`${name}\` is not a systemd property name (three or more latin letters)`, { configPath });
    let sig: string;
    let value: unknown;
    try {
      [sig, value] = parseGVariant(annotations[key]!);
    } catch (err) {
      throw specError(`cannot parse the value as GVariant text: ${(err as Error).message}`, { configPath });
    }
    if (/[a-z]Sec$/.test(name)) {
      name = `${name.slice(0, -3)}USec`;
      if (sig === 'd') value = BigInt(Math.floor((value as number) * 1e6));
      else if (INT_RANGE[sig]) value = BigInt(value as number | bigint) * 1000000n;
      else throw specError(`\`${name.slice(0, -4)}Sec\` takes a number of seconds`, { configPath });
      if ((value as bigint) < 0n || (value as bigint) > INFINITY) throw specError('is out of range', { configPath });
      sig = 't';
    }
    props.push([name, sig, value]);
  }
  return props;
}
