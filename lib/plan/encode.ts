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
  const intern = (s: string): number => {
    if (s.includes('\0')) throw new TypeError(`plan string contains a NUL byte: ${JSON.stringify(s)}`);
    const off = strLen;
    const b = Buffer.from(s + '\0', 'utf8');
    strings.push(b);
    strLen += b.length;
    return off;
  };
  const body = Buffer.alloc(ops.length * OP_SIZE);
  ops.forEach((op, i) => {
    const def = OPS[op.op];
    const base = i * OP_SIZE;
    body.writeUInt32LE(def.code, base);
    body.writeUInt32LE(op.flags ?? 0, base + 4);
    for (let a = 0; a < 6; a++) {
      const kind = def.sig[a];
      const v = op.args[a];
      let word: bigint;
      switch (kind) {
        case 'n':
          word = typeof v === 'bigint' ? v : BigInt(v as number);
          break;
        case 's':
        case 'o':
          word = BigInt(v === null || v === undefined ? NONE : intern(v as string));
          break;
        case 'b': {
          // 8-aligned for the child's struct sock_filter[] (the table itself starts 8-aligned),
          // and followed by a NUL so the table still ends with one.
          const blob = v as Uint8Array;
          const pad = (8 - (strLen % 8)) % 8;
          if (pad) strings.push(Buffer.alloc(pad));
          strLen += pad;
          word = BigInt(strLen);
          strings.push(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), Buffer.alloc(1));
          strLen += blob.byteLength + 1;
          body.writeBigUInt64LE(BigInt(blob.byteLength), base + 8 + (a + 1) * 8);
          break;
        }
        case 'L': {
          const list = v as readonly string[];
          const first = strLen;
          list.forEach((s) => intern(s));
          word = BigInt(list.length === 0 ? 0 : first);
          body.writeBigUInt64LE(BigInt(list.length), base + 8 + (a + 1) * 8);
          break;
        }
        default:
          continue; // '#' was written with its list; '-' stays zero
      }
      body.writeBigUInt64LE(BigInt.asUintN(64, word), base + 8 + a * 8);
    }
  });
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
