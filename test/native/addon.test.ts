// The built addon without privileges: the op table agrees with lib/plan/ops.ts, malformed
// plans are rejected before any clone, and zero-namespace plans run and report over the sync
// socket (16-byte lp_msg records; EOF = execve succeeded).
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePlan } from '../../lib/plan/encode.js';
import { CONSOLE_FLAGS, HOOK_FAIL, MSG, OPF, OPS, STAGE, type Op } from '../../lib/plan/ops.js';
import { native } from '../../lib/runtime/native.js';

const addon = native();
const tmp = mkdtempSync(join(tmpdir(), 'launch-native-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const o = (op: Op['op'], ...args: Op['args']): Op => ({ op, args, origin: { what: op } });
const exec = (candidates: string[], argv: string[], env: string[] = []) => o('EXEC', candidates, 0, argv, 0, env);
const TRUE = existsSync('/bin/true') ? '/bin/true' : '/usr/bin/true';
const SLEEP = existsSync('/bin/sleep') ? '/bin/sleep' : '/usr/bin/sleep';

interface Msg { type: number; op: number; err: number; aux: number }
function recv(fd: number): Msg | null {
  const buf = Buffer.alloc(64);
  const n = readSync(fd, buf, 0, 64, null);
  if (n === 0) return null;
  expect(n).toBe(16);
  return { type: buf.readUInt32LE(0), op: buf.readUInt32LE(4), err: buf.readInt32LE(8), aux: buf.readUInt32LE(12) };
}
function send(fd: number, type: number): void {
  const buf = Buffer.alloc(16);
  buf.writeUInt32LE(type, 0);
  expect(writeSync(fd, buf)).toBe(16);
}
const waitExit = (pidfd: number) =>
  new Promise<{ code: number; signal: number; errno: number }>((resolve) =>
    addon.waitExit(pidfd, (code, signal, errno) => resolve({ code, signal, errno })),
  );
function spawn(ops: Op[]) {
  const child = addon.spawn(encodePlan(ops), 0, -1);
  expect(child.pid).toBeGreaterThan(0);
  return child;
}

describe('op table', () => {
  it('equals lib/plan/ops.ts exactly', () => {
    const js = Object.entries(OPS).map(([name, d]) => ({ name, code: d.code, sig: d.sig }));
    expect(addon.opTable()).toEqual(js);
    expect(js.length).toBe(41);
  });

  it('flags and message types agree with plan.h', () => {
    const h = readFileSync(new URL('../../addon/common/plan.h', import.meta.url), 'utf8');
    const def = (name: string) => Number(new RegExp(`#define ${name} (\\d+)u\\b`).exec(h)?.[1]);
    expect({ OPTIONAL: def('LPF_OPTIONAL'), MKDIR: def('LPF_MKDIR'), MKFILE: def('LPF_MKFILE'), IN_ROOT: def('LPF_IN_ROOT'), DUMPABLE: def('LPF_DUMPABLE'), TREE: def('LPF_TREE') }).toEqual(OPF);
    expect({ SYNC: def('LP_MSG_SYNC'), ERROR: def('LP_MSG_ERROR'), ACK: def('LP_MSG_ACK'), ABORT: def('LP_MSG_ABORT'), PID: def('LP_MSG_PID'), CONSOLE: def('LP_MSG_CONSOLE'), SECCOMP: def('LP_MSG_SECCOMP') }).toEqual(MSG);
    expect({ MOUNT: def('LP_CONSOLE_MOUNT') }).toEqual(CONSOLE_FLAGS);
    const hex = (name: string) => Number(new RegExp(`#define ${name} (0x[0-9a-f]+)u\\b`).exec(h)?.[1]);
    expect({ EXITED: hex('LP_HOOK_EXITED'), SIGNALED: hex('LP_HOOK_SIGNALED'), TIMEDOUT: hex('LP_HOOK_TIMEDOUT') }).toEqual(HOOK_FAIL);
    expect(h).toContain('#define LP_MAGIC 0x484e434cu');
  });
});

describe('malformed plans', () => {
  const good = () => encodePlan([o('ROOTFS', '/r'), exec(['/bin/true'], ['true'])]);
  const bad = (buf: Buffer, msg: string) => {
    expect(() => addon.validatePlan(buf)).toThrow(new Error(msg));
    expect(() => addon.spawn(buf, 0, -1)).toThrow(new Error(msg));
  };
  it('header checks', () => {
    expect(addon.validatePlan(good())).toBe(2);
    bad(Buffer.alloc(31), 'plan is shorter than its header');
    const magic = good();
    magic.writeUInt32LE(0x4c434e48, 0);
    bad(magic, 'plan has a bad magic number');
    const version = good();
    version.writeUInt32LE(2, 4);
    bad(version, 'plan version 2 is not supported');
    bad(Buffer.concat([good(), Buffer.alloc(1)]), 'plan length field does not match the buffer');
    const many = good();
    many.writeUInt32LE(4097, 12);
    bad(many, 'plan has too many ops');
    const nops = good();
    nops.writeUInt32LE(3, 12);
    bad(nops, 'plan sections are out of bounds');
    const off = good();
    off.writeUInt32LE(off.readUInt32LE(16) - 1, 16);
    bad(off, 'plan sections are out of bounds');
    const nul = good();
    nul[nul.length - 1] = 0x41;
    bad(nul, 'plan string table is not NUL-terminated');
    expect(() => addon.validatePlan('x' as unknown as Buffer)).toThrow(new TypeError('validatePlan(buffer)'));
    expect(() => addon.spawn(good(), 'x' as unknown as number, -1)).toThrow(new TypeError('spawn(plan, cloneFlags, pidnsFd)'));
  });

  it('op checks name the op and slot', () => {
    const code = good();
    code.writeUInt32LE(99, 32 + 56);
    bad(code, 'plan op 1: unknown op code 99');
    const zero = good();
    zero.writeUInt32LE(0, 32);
    bad(zero, 'plan op 0: unknown op code 0');
    const str = good();
    str.writeBigUInt64LE(BigInt(str.readUInt32LE(20)), 32 + 8);
    bad(str, 'plan op 0 arg 0: string offset out of bounds');
    bad(encodePlan([o('ROOTFS', null)]), 'plan op 0 arg 0: string is required');
    expect(addon.validatePlan(encodePlan([o('MOUNT', null, '/t', null, 0, null, 0)]))).toBe(1);
    const list = good();
    list.writeBigUInt64LE(BigInt(list.readUInt32LE(20) + 1), 32 + 56 + 8);
    bad(list, 'plan op 1 arg 0: list out of bounds');
    const count = good();
    count.writeBigUInt64LE(65537n, 32 + 56 + 16);
    bad(count, 'plan op 1 arg 0: list out of bounds');
    const items = good();
    items.writeBigUInt64LE(9n, 32 + 56 + 16);
    bad(items, 'plan op 1 arg 0: list item 2 out of bounds');
    bad(encodePlan([o('USER', 0, 0, 1, ['10', 'wheel'])]), 'plan op 0: group is not a 32-bit decimal number');
    bad(encodePlan([o('USER', 0, 0, 1, [''])]), 'plan op 0: group is not a 32-bit decimal number');
    bad(encodePlan([o('USER', 0, 0, 1, ['12345678901'])]), 'plan op 0: group is not a 32-bit decimal number');
    expect(addon.validatePlan(encodePlan([o('USER', 0, 0, 1, ['0', '4294967295'])]))).toBe(1);
    bad(encodePlan([exec([], ['true'])]), 'plan op 0: exec needs a candidate and argv[0]');
    bad(encodePlan([exec(['/bin/true'], [])]), 'plan op 0: exec needs a candidate and argv[0]');
  });

  // 10 digits are not enough of a check: the child's (gid_t) conversion would wrap
  // '4294967296' to gid 0.
  it('USER groups above 2^32-1 are rejected', () => {
    expect(() => addon.validatePlan(encodePlan([o('USER', 0, 0, 1, ['4294967296'])]))).toThrow(
      new Error('plan op 0: group is not a 32-bit decimal number'),
    );
  });
});

describe('zero-namespace plans', () => {
  // RUN_HOOK: the state file's fd (low 32 bits) becomes the hook's stdin, read from the start
  // by each hook; the timeout (high 32 bits) kills it.
  const hook = (path: string, argv: string[], fd: number, timeout = 0) => o('RUN_HOOK', path, argv, 0, ['A=b'], 0, (BigInt(timeout) << 32n) | BigInt(fd));
  async function runHooks(...hooks: Op[]) {
    const { pidfd, syncFd } = spawn([...hooks, exec([TRUE], ['true'])]);
    const first = recv(syncFd);
    closeSync(syncFd);
    const exit = await waitExit(pidfd);
    closeSync(pidfd);
    return { first, exit };
  }

  it('RUN_HOOK: stdin is the state file, env and argv are the op\'s; then the exec', async () => {
    const state = join(tmp, 'state.json');
    const out = join(tmp, 'hook.out');
    writeFileSync(state, '{"id":"x"}');
    const fd = openSync(state, 'r');
    const sh = (n: number) => hook('/bin/sh', ['sh', '-c', `echo "$0 $A $(cat)" >> ${out}`, `h${n}`], fd);
    expect(await runHooks(sh(1), sh(2))).toEqual({ first: null, exit: { code: 0, signal: 0, errno: 0 } });
    closeSync(fd);
    expect(readFileSync(out, 'utf8')).toBe('h1 b {"id":"x"}\nh2 b {"id":"x"}\n');
  });

  it('RUN_HOOK failures: exit status, signal, timeout, exec errno', async () => {
    const fd = openSync('/dev/null', 'r');
    const fails = async (h: Op) => (await runHooks(h)).first;
    expect(await fails(hook('/bin/sh', ['sh', '-c', 'exit 7'], fd))).toEqual({ type: MSG.ERROR, op: 0, err: 0, aux: HOOK_FAIL.EXITED | 7 });
    expect(await fails(hook('/bin/sh', ['sh', '-c', 'kill -TERM $$'], fd))).toEqual({ type: MSG.ERROR, op: 0, err: 0, aux: HOOK_FAIL.SIGNALED | 15 });
    const t0 = Date.now();
    expect(await fails(hook(SLEEP, ['sleep', '100'], fd, 1))).toEqual({ type: MSG.ERROR, op: 0, err: 0, aux: HOOK_FAIL.TIMEDOUT });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await fails(hook('/nonexistent/hook', ['hook'], fd))).toEqual({ type: MSG.ERROR, op: 0, err: 2, aux: 0 });
    closeSync(fd);
  });

  it('/bin/true: EOF on the sync socket, exit 0', async () => {
    const { pid, pidfd, syncFd } = spawn([exec(['/nonexistent/true', TRUE], ['true'])]);
    expect(pid).not.toBe(process.pid);
    expect(recv(syncFd)).toBeNull();
    closeSync(syncFd);
    expect(await waitExit(pidfd)).toEqual({ code: 0, signal: 0, errno: 0 });
    closeSync(pidfd);
  });

  it('a missing binary: one ENOENT record for op 0, then exit 125', async () => {
    const { pidfd, syncFd } = spawn([exec(['/nonexistent/a', '/nonexistent/b'], ['a'])]);
    expect(recv(syncFd)).toEqual({ type: MSG.ERROR, op: 0, err: 2, aux: 0 });
    expect(recv(syncFd)).toBeNull();
    closeSync(syncFd);
    expect(await waitExit(pidfd)).toEqual({ code: 125, signal: 0, errno: 0 });
    closeSync(pidfd);
  });

  it('a file without execute permission: EACCES names the candidate index', async () => {
    const file = join(tmp, 'noexec');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o644);
    const { pidfd, syncFd } = spawn([o('UMASK', 0o22), exec(['/nonexistent/x', file], ['x'])]);
    expect(recv(syncFd)).toEqual({ type: MSG.ERROR, op: 1, err: 13, aux: 1 });
    closeSync(syncFd);
    expect((await waitExit(pidfd)).code).toBe(125);
    closeSync(pidfd);
  });

  it('SYNC waits for the ACK, then execs', async () => {
    const { pidfd, syncFd } = spawn([o('SYNC', STAGE.USERMAP), exec([TRUE], ['true'])]);
    expect(recv(syncFd)).toEqual({ type: MSG.SYNC, op: 0, err: 0, aux: 1 });
    send(syncFd, MSG.ACK);
    expect(recv(syncFd)).toBeNull();
    closeSync(syncFd);
    expect(await waitExit(pidfd)).toEqual({ code: 0, signal: 0, errno: 0 });
    closeSync(pidfd);
  });

  it('ABORT at a SYNC ends the child with 125', async () => {
    const { pidfd, syncFd } = spawn([o('SYNC', STAGE.READY), exec([TRUE], ['true'])]);
    expect(recv(syncFd)).toEqual({ type: MSG.SYNC, op: 0, err: 0, aux: 2 });
    send(syncFd, MSG.ABORT);
    expect(recv(syncFd)).toBeNull();
    closeSync(syncFd);
    expect(await waitExit(pidfd)).toEqual({ code: 125, signal: 0, errno: 0 });
    closeSync(pidfd);
  });

  // The child must drop its inherited copy of the parent's end of the socketpair, or its
  // recv() at a SYNC would never see EOF when launch goes away.
  it('the parent closing the socket at a SYNC ends the child with 125', async () => {
    const { pidfd, syncFd } = spawn([o('SYNC', STAGE.USERMAP), exec([TRUE], ['true'])]);
    expect(recv(syncFd)?.type).toBe(MSG.SYNC);
    closeSync(syncFd);
    const exited = waitExit(pidfd);
    const timeout = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 2000));
    const result = await Promise.race([exited, timeout]);
    if (result === 'hung') {
      addon.pidfdSignal(pidfd, 9);
      await exited;
    }
    closeSync(pidfd);
    expect(result).toEqual({ code: 125, signal: 0, errno: 0 });
  });

  it('a failing op before EXEC reports its index and errno', async () => {
    const { pidfd, syncFd } = spawn([o('CHDIR', '/nonexistent/dir'), exec([TRUE], ['true'])]);
    expect(recv(syncFd)).toEqual({ type: MSG.ERROR, op: 0, err: 2, aux: 0 });
    closeSync(syncFd);
    expect((await waitExit(pidfd)).code).toBe(125);
    closeSync(pidfd);
  });

  it('pidfdSignal kills a sleeping child: signal 9', async () => {
    const { pidfd, syncFd } = spawn([exec([SLEEP], ['sleep', '10'])]);
    expect(recv(syncFd)).toBeNull();
    closeSync(syncFd);
    const exited = waitExit(pidfd);
    expect(addon.pidfdSignal(pidfd, 9)).toBe(0);
    expect(await exited).toEqual({ code: -1, signal: 9, errno: 0 });
    expect(addon.pidfdSignal(pidfd, 0)).toBe(3); // ESRCH: reaped
    closeSync(pidfd);
  });

  // Without a mount namespace CONSOLE opens the host's /dev/ptmx: the same steps as in a
  // container, seen without privileges.
  it('CONSOLE: the master arrives with its record (SCM_RIGHTS); the pty is stdio, sized', async () => {
    const { pidfd, syncFd } = spawn([o('SETSID'), o('CONSOLE', 0, 33, 77, process.getuid!()), exec(['/bin/sh', '/usr/bin/sh'], ['sh', '-c', 'stty size; [ -t 0 ] && [ -t 2 ] && echo on-tty'])]);
    const got = addon.recvMsg(syncFd, 64)!;
    expect(got.fd).toBeGreaterThan(2);
    expect(got.data.readUInt32LE(0)).toBe(MSG.CONSOLE);
    expect(got.data.readUInt32LE(4)).toBe(1);
    // The init waits for our ack (the parent sizes or passes the master meanwhile).
    send(syncFd, MSG.ACK);
    expect(addon.recvMsg(syncFd, 64)).toBeNull();
    closeSync(syncFd);
    expect((await waitExit(pidfd)).code).toBe(0);
    closeSync(pidfd);
    // What the program wrote waits in the pty; EIO once its side is closed.
    let out = '';
    const buf = Buffer.alloc(4096);
    for (;;) {
      let n = 0;
      try {
        n = readSync(got.fd, buf, 0, buf.length, null);
      } catch {
        break;
      }
      if (n === 0) break;
      out += buf.toString('utf8', 0, n);
    }
    closeSync(got.fd);
    expect(out).toBe('33 77\r\non-tty\r\n');
  });

  it('sendFd: connects, sends the name as data (the fd rides along)', async () => {
    const path = join(tmp, 'console.sock');
    const received = new Promise<string>((resolve) => {
      const server = createServer((c) => c.on('data', (d) => { resolve(d.toString()); c.destroy(); server.close(); }));
      server.listen(path, () => {
        const fd = openSync('/dev/null', 'r');
        addon.sendFd(path, fd, '/dev/ptmx');
        closeSync(fd);
      });
    });
    expect(await received).toBe('/dev/ptmx');
    expect(() => addon.sendFd(join(tmp, 'nobody-listens'), 0, 'x')).toThrow(expect.objectContaining({ errno: 2, syscall: 'connect' }));
  });
});
