// Plan -> the wire buffer the addon validates (layout: addon/common/plan.h, docs/plan-format.md).
import { OPS, type Op } from './ops.js';

const MAGIC = 0x484e434c;
const VERSION = 1;
const HEADER = 32;
const OP_SIZE = 8 + 6 * 8;
const NONE = 0xffffffff;

export function encodePlan(ops: readonly Op[]): Buffer {
  const strings: Buffer[] = [];
  let strLen = 0;
  // Strings wait here (each NUL-terminated) and become one Buffer at the next blob or at the
  // end: a Buffer.from per string was most of an encoding in a cold start (~1.5 ms each time).
  let pending = '';
  const flush = () => {
    if (pending) strings.push(Buffer.from(pending, 'utf8'));
    pending = '';
  };
  const intern = (s: string): number => {
    if (s.includes('\0')) throw new TypeError(`plan string contains a NUL byte: ${JSON.stringify(s)}`);
    const off = strLen;
    pending += s + '\0';
    strLen += Buffer.byteLength(s, 'utf8') + 1;
    return off;
  };
  const body = Buffer.alloc(ops.length * OP_SIZE);
  // DataView, not Buffer's writeBigUInt64LE: a cold start runs this in the interpreter, where
  // Buffer's checked writers and a BigInt per word made encoding ~40 ms of a create that
  // compiles its bundle (the plan is encoded three times then). DataView's are built in.
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const put64 = (off: number, v: number | bigint): void => {
    if (typeof v === 'bigint') {
      const u = BigInt.asUintN(64, v);
      view.setUint32(off, Number(u & 0xffffffffn), true);
      view.setUint32(off + 4, Number(u >> 32n), true);
      return;
    }
    // Beyond 2^53 (or not an integer) as BigInt takes it: exact, or its RangeError.
    if (!Number.isSafeInteger(v)) return put64(off, BigInt(v));
    // Two's complement as BigInt.asUintN(64, ...) gives it: >>> 0 takes a value modulo 2^32.
    view.setUint32(off, v >>> 0, true);
    view.setUint32(off + 4, Math.floor(v / 0x100000000) >>> 0, true);
  };
  ops.forEach((op, i) => {
    const def = OPS[op.op];
    const base = i * OP_SIZE;
    view.setUint32(base, def.code, true);
    view.setUint32(base + 4, op.flags ?? 0, true);
    for (let a = 0; a < 6; a++) {
      const kind = def.sig[a];
      const v = op.args[a];
      let word: number | bigint;
      switch (kind) {
        case 'n':
          word = v as number | bigint;
          break;
        case 's':
        case 'o':
          word = v === null || v === undefined ? NONE : intern(v as string);
          break;
        case 'b': {
          // 8-aligned for the child's struct sock_filter[] (the table itself starts 8-aligned),
          // and followed by a NUL so the table still ends with one.
          const blob = v as Uint8Array;
          flush();
          const pad = (8 - (strLen % 8)) % 8;
          if (pad) strings.push(Buffer.alloc(pad));
          strLen += pad;
          word = strLen;
          strings.push(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), Buffer.alloc(1));
          strLen += blob.byteLength + 1;
          put64(base + 8 + (a + 1) * 8, blob.byteLength);
          break;
        }
        case 'L': {
          const list = v as readonly string[];
          const first = strLen;
          list.forEach((s) => intern(s));
          word = list.length === 0 ? 0 : first;
          put64(base + 8 + (a + 1) * 8, list.length);
          break;
        }
        default:
          continue; // '#' was written with its list; '-' stays zero
      }
      put64(base + 8 + a * 8, word);
    }
  });
  flush();
  const table = Buffer.concat(strings, strLen);
  const header = Buffer.alloc(HEADER);
  const total = HEADER + body.length + table.length;
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(total, 8);
  header.writeUInt32LE(ops.length, 12);
  header.writeUInt32LE(HEADER + body.length, 16);
  header.writeUInt32LE(table.length, 20);
  return Buffer.concat([header, body, table], total);
}
