// The native front (addon/front) inside dist/launch: its code becomes a new loadable segment
// of the Node executable, and the ELF entry point moves to it. The kernel and the dynamic
// loader start the process as before; the front's _start runs first, does the hot verbs
// itself, and jumps to Node's own entry for everything else (addon/front/entry.c).
//
// The new program header goes in the room postject (LIEF) leaves after the program header
// table it moved; that room is checked to be there and empty, never assumed.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** Must equal the address in front.ld. */
const FRONT_VADDR = 0x20000000n;
const PT_LOAD = 1;
const PT_PHDR = 6;
const PHENT = 56;
const SOURCES = ['entry.c', 'args.c', 'record.c', 'verbs.c', 'delete.c', 'pause.c', 'util.c', 'run.c'].map((f) => join(root, 'addon/front', f));
/** The native runner of compiled bundles, carried in the segment (addon/front/run.c). */
const RUNNER = join(root, 'build/Release/launch-monitor');

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

function phdrs(elf) {
  const phoff = Number(elf.readBigUInt64LE(32));
  const phnum = elf.readUInt16LE(56);
  const list = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * PHENT;
    list.push({ o, type: elf.readUInt32LE(o), offset: elf.readBigUInt64LE(o + 8), vaddr: elf.readBigUInt64LE(o + 16), filesz: elf.readBigUInt64LE(o + 32), memsz: elf.readBigUInt64LE(o + 40) });
  }
  return { phoff, phnum, list };
}

/** The front's code, linked at FRONT_VADDR, falling through to `nodeEntry`. */
function compile(work, nodeEntry) {
  const elf = join(work, 'front.elf');
  const bin = join(work, 'front.bin');
  run('gcc', [
    '-std=gnu11', '-Os', '-Wall', '-Wextra', '-Werror', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
    '-fno-pie', '-no-pie', '-nostdlib', '-static', '-DFRONT_SEGMENT', `-DNODE_ENTRY=0x${nodeEntry.toString(16)}`, `-DRUNNER_PATH="${RUNNER}"`,
    `-I${join(root, 'addon')}`, '-Wl,--build-id=none', `-Wl,-T,${join(root, 'scripts/binary/front.ld')}`, '-o', elf, ...SOURCES,
  ]);
  run('objcopy', ['-O', 'binary', '-j', '.text', elf, bin]);
  return readFileSync(bin);
}

/** Put the front into the executable `file` (in place). */
export function addFront(file, work) {
  let elf = readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf.readUInt16LE(16) !== 2 || elf.readUInt16LE(18) !== 62) {
    throw new Error(`${file}: not an x86-64 ELF executable of fixed address (ET_EXEC): the front is built for that only`);
  }
  const nodeEntry = elf.readBigUInt64LE(24);
  const { phoff, phnum, list } = phdrs(elf);
  const loads = list.filter((p) => p.type === PT_LOAD);
  const top = loads.reduce((m, p) => (p.vaddr + p.memsz > m ? p.vaddr + p.memsz : m), 0n);
  if (top >= FRONT_VADDR) throw new Error(`${file}: Node's segments reach 0x${top.toString(16)}, past the front's address`);
  // The room for one more header: zeros after the table, inside the PT_PHDR segment and inside
  // a loaded segment (the loader reads the table from memory).
  const room = phoff + phnum * PHENT;
  const phdr = list.find((p) => p.type === PT_PHDR);
  const inLoad = loads.some((p) => BigInt(room + PHENT) <= p.offset + p.filesz && BigInt(phoff) >= p.offset);
  if (!phdr || BigInt(room + PHENT) > phdr.offset + phdr.filesz || !inLoad || elf.subarray(room, room + PHENT).some((b) => b !== 0)) {
    throw new Error(`${file}: no free room after the program header table for the front's segment`);
  }
  const code = compile(work, nodeEntry);
  const offset = Math.ceil(elf.length / 4096) * 4096;
  elf = Buffer.concat([elf, Buffer.alloc(offset - elf.length), code]);
  const h = Buffer.alloc(PHENT);
  h.writeUInt32LE(PT_LOAD, 0);
  h.writeUInt32LE(5, 4); // PF_R | PF_X
  h.writeBigUInt64LE(BigInt(offset), 8);
  h.writeBigUInt64LE(FRONT_VADDR, 16);
  h.writeBigUInt64LE(FRONT_VADDR, 24);
  h.writeBigUInt64LE(BigInt(code.length), 32);
  h.writeBigUInt64LE(BigInt(code.length), 40);
  h.writeBigUInt64LE(0x1000n, 48);
  h.copy(elf, room);
  elf.writeUInt16LE(phnum + 1, 56);
  elf.writeBigUInt64LE(FRONT_VADDR, 24); // _start is first (.text.entry)
  writeFileSync(file, elf);
  return { nodeEntry, size: code.length };
}
