// N-API surface of the addon: argument checks and conversions only. Policy lives in lib/;
// the clone lives in parent/spawn.cc; the container side in child/.
// Context: Node main thread, plus one waiter thread per child (WaitExit).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

#include <napi.h>

#include <thread>
#include <vector>

#include "common/fnv.h"
#include "common/sendfd.h"
#include "parent/bpf.h"
#include "parent/execmon.h"
#include "parent/forward.h"
#include "parent/seccomp.h"
#include "parent/spawn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace {

Napi::Value ThrowErrno(Napi::Env env, int err, const char *syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool BufferArg(const Napi::CallbackInfo &info, size_t i, const uint8_t **data, size_t *len) {
  if (info.Length() <= i || !info[i].IsBuffer()) return false;
  auto buf = info[i].As<Napi::Buffer<uint8_t>>();
  *data = buf.Data();
  *len = buf.Length();
  return true;
}

Napi::Value OpTable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const auto &table = launch::OpTable();
  Napi::Array out = Napi::Array::New(env, table.size());
  for (size_t i = 0; i < table.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", table[i].name);
    o.Set("code", table[i].code);
    o.Set("sig", table[i].sig);
    out.Set(uint32_t(i), o);
  }
  return out;
}

// validatePlan(buf): number of ops, or throws the validator's sentence.
Napi::Value ValidatePlan(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint8_t *data;
  size_t len;
  if (!BufferArg(info, 0, &data, &len)) {
    Napi::TypeError::New(env, "validatePlan(buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  launch::DecodedPlan plan;
  std::string err;
  if (!launch::DecodePlan(data, len, plan, err)) {
    Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, double(plan.d.nops));
}

// spawn(plan: Buffer, cloneFlags: number, pidnsFd: number) -> { pid, pidfd, syncFd }
Napi::Value Spawn(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint8_t *data;
  size_t len;
  if (!BufferArg(info, 0, &data, &len) || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "spawn(plan, cloneFlags, pidnsFd)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  launch::DecodedPlan plan;
  std::string err;
  if (!launch::DecodePlan(data, len, plan, err)) {
    Napi::Error::New(env, err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t flags = uint64_t(info[1].As<Napi::Number>().Int64Value());
  int pidns = info[2].As<Napi::Number>().Int32Value();
  launch::SpawnResult r = launch::Spawn(plan, flags, pidns);
  if (r.pid < 0) return ThrowErrno(env, r.err, r.syscall);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", r.pid);
  o.Set("pidfd", r.pidfd);
  o.Set("syncFd", r.sync_fd);
  return o;
}

// waitExit(pidfd, callback): reaps the child on a thread of its own (never the libuv pool,
// never waitpid(-1): libuv reaps its own children through SIGCHLD) and calls
// callback(code, signal) on the main thread. The pidfd stays open; the caller closes it.
Napi::Value WaitExit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "waitExit(pidfd, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "launch-wait", 0, 1);
  // The thread only waits (WNOWAIT); the reap is on the main thread, in the callback. So a
  // process that has exited stays a zombie until JavaScript has seen it, and a launch that
  // execs the monitor before then (lib/runtime/monitor.ts) leaves it for the monitor to reap
  // with its status, instead of the status dying with this thread.
  std::thread([pidfd, tsfn]() mutable {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    do rc = waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED | WNOWAIT); while (rc < 0 && errno == EINTR);
    int err = rc < 0 ? errno : 0;
    tsfn.BlockingCall([pidfd, err](Napi::Env env, Napi::Function cb) {
      siginfo_t si;
      memset(&si, 0, sizeof si);
      int rc = err ? -1 : waitid(idtype_t(P_PIDFD), id_t(pidfd), &si, WEXITED | WNOHANG);
      int code = -1, sig = 0, e = err ? err : rc < 0 ? errno : 0;
      if (rc == 0 && si.si_pid != 0) {
        if (si.si_code == CLD_EXITED) code = si.si_status;
        else sig = si.si_status;
      } else if (rc == 0) e = ECHILD;
      cb.Call({Napi::Number::New(env, code), Napi::Number::New(env, sig), Napi::Number::New(env, e)});
    });
    tsfn.Release();
  }).detach();
  return env.Undefined();
}

// pidfdOpen(pid) -> pidfd (close-on-exec), or throws. For the init FORK_INIT made: a child of
// ours (CLONE_PARENT) that is not dead-and-reaped yet, so the pid cannot have been recycled.
Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "pidfdOpen(pid)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  long fd = syscall(SYS_pidfd_open, info[0].As<Napi::Number>().Int32Value(), 0);
  if (fd < 0) return ThrowErrno(env, errno, "pidfd_open");
  return Napi::Number::New(env, (double)fd);
}

// pidfdSignal(pidfd, sig) -> 0 or errno. A pidfd cannot hit a recycled pid.
Napi::Value PidfdSignal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "pidfdSignal(pidfd, signal)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  long r = syscall(SYS_pidfd_send_signal, info[0].As<Napi::Number>().Int32Value(),
                   info[1].As<Napi::Number>().Int32Value(), nullptr, 0);
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// recvMsg(sock, max) -> { data: Buffer, fd } | null at end-of-file: one message of the
// container's sync socket, with the fd it carries (SCM_RIGHTS: CONSOLE's pty master), -1 for
// none. Node's own reads drop ancillary data and would close nothing: a received fd would leak.
// Blocking, on the main thread, as the readSync it replaces: the child answers at once.
Napi::Value RecvMsg(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "recvMsg(sock, maxBytes)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t max = info[1].As<Napi::Number>().Uint32Value();
  if (max == 0 || max > 65536) max = 65536;
  std::vector<char> data(max);
  union {
    char buf[CMSG_SPACE(sizeof(int) * 4)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {data.data(), max};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  ssize_t n;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, errno, "recvmsg");
  int fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (fd < 0) fd = got;
      else close(got);  // one fd per message is the protocol: never leak the rest
    }
  }
  if (n == 0 && fd < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<char>::Copy(env, data.data(), size_t(n)));
  o.Set("fd", fd);
  return o;
}

// sendFd(path, fd, name): connect to the AF_UNIX stream socket at path (--console-socket) and
// send fd with SCM_RIGHTS, `name` as the message's data (runc's utils.SendFile; conmon and
// containerd's shim take the fd of the first message). Throws with errno and syscall.
Napi::Value SendFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString()) {
    Napi::TypeError::New(env, "sendFd(path, fd, name)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  std::string name = info[2].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) return ThrowErrno(env, ENAMETOOLONG, "connect");
  memcpy(addr.sun_path, path.data(), path.size());
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ThrowErrno(env, errno, "socket");
  int r;
  do r = connect(sock, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr); while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(sock);
    return ThrowErrno(env, e, "connect");
  }
  int e = -lc_send_fd(sock, name.data(), name.size(), fd);
  close(sock);
  if (e) return ThrowErrno(env, e, "sendmsg");
  return env.Undefined();
}

// setOutputProcessing(fd, on) -> 0 or errno: the terminal's OPOST flag (see terminal.ts).
Napi::Value SetOutputProcessing(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean()) return Napi::Number::New(env, EINVAL);
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct termios t;
  if (tcgetattr(fd, &t) < 0) return Napi::Number::New(env, errno);
  if (info[1].As<Napi::Boolean>().Value()) t.c_oflag |= OPOST;
  else t.c_oflag &= ~(tcflag_t)OPOST;
  return Napi::Number::New(env, tcsetattr(fd, TCSANOW, &t) < 0 ? errno : 0);
}

// setWinsize(fd, rows, cols) -> 0 or errno.
Napi::Value SetWinsize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) return Napi::Number::New(env, EINVAL);
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)info[1].As<Napi::Number>().Uint32Value();
  ws.ws_col = (unsigned short)info[2].As<Napi::Number>().Uint32Value();
  int r = ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws);
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// flock(fd, op) -> 0 or errno (blocking for LOCK_EX without LOCK_NB: the verbs are CLI steps).
Napi::Value Fnv1a64(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint8_t *data;
  size_t len;
  if (!BufferArg(info, 0, &data, &len)) {
    Napi::TypeError::New(env, "fnv1a64: expects a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  char out[17];
  lc_fnv1a64(data, len, out);
  return Napi::String::New(env, out, 16);
}

Napi::Value Flock(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return Napi::Number::New(env, EINVAL);
  int r;
  do r = flock(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value()); while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// waitReadable(fd, timeoutMs): poll(2) for input or hang-up; the revents (0 on timeout), or
// -errno. Node has no synchronous wait on an fd; `start` waits on the exec FIFO with it.
Napi::Value WaitReadable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return Napi::Number::New(env, -EINVAL);
  struct pollfd p = {info[0].As<Napi::Number>().Int32Value(), POLLIN, 0};
  int r = poll(&p, 1, info[1].As<Napi::Number>().Int32Value());
  return Napi::Number::New(env, r < 0 ? -errno : r == 0 ? 0 : p.revents);
}

// mkfifo(path, mode): errno, 0 on success (Node has no mkfifo; `create` needs the exec FIFO).
Napi::Value MkFifo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "mkfifo(path, mode)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int r = mkfifo(path.c_str(), (mode_t)info[1].As<Napi::Number>().Uint32Value());
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// openTree(path): a detached copy of the mount at `path` (open_tree(2) OPEN_TREE_CLONE), as an
// fd the container's init attaches with move_mount(2). Root's container in a user namespace
// mounts as a subordinate uid that may not search launch's 0700 state directory; the detached
// copy needs no path lookup there. Throws with errno. Needs CAP_SYS_ADMIN (root).
Napi::Value OpenTree(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "openTree(path)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "open_tree");
  return Napi::Number::New(env, fd);
}

// lsetxattr(path, name, value): errno, 0 on success. Node has no xattr calls, and image
// layers carry file capabilities (security.capability) and user.* attributes. The l- form:
// a layer's symlink gets the attribute itself, its target (perhaps outside the root) never.
Napi::Value LSetXattr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint8_t *data;
  size_t len;
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !BufferArg(info, 2, &data, &len)) {
    Napi::TypeError::New(env, "lsetxattr(path, name, value: Buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  // A NUL would silently cut the string short at c_str(): another file, another attribute.
  if (path.find('\0') != std::string::npos || name.find('\0') != std::string::npos) return Napi::Number::New(env, EINVAL);
  int r = lsetxattr(path.c_str(), name.c_str(), data, len, 0);
  return Napi::Number::New(env, r < 0 ? errno : 0);
}

// lgetxattr(path, name): the value as a Buffer, or the errno (a Number). Reads back what
// lsetxattr wrote; the size is asked first, so a value changed in between is ERANGE.
Napi::Value LGetXattr(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    Napi::TypeError::New(env, "lgetxattr(path, name)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (path.find('\0') != std::string::npos || name.find('\0') != std::string::npos) return Napi::Number::New(env, EINVAL);
  ssize_t n = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
  if (n < 0) return Napi::Number::New(env, errno);
  std::vector<uint8_t> buf((size_t)n + 1);  // +1: never a zero-length data() to pass on
  n = lgetxattr(path.c_str(), name.c_str(), buf.data(), (size_t)n);
  if (n < 0) return Napi::Number::New(env, errno);
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), (size_t)n);
}

// attachDeviceFilter(cgroupDir, insns): loads the cgroup v2 device program and makes it the
// cgroup's only one. A verifier refusal carries the verifier's log (as `log` and in the message).
Napi::Value AttachDeviceFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const uint8_t *data;
  size_t len;
  if (info.Length() < 2 || !info[0].IsString() || !BufferArg(info, 1, &data, &len) || len == 0 || len % 8 != 0) {
    Napi::TypeError::New(env, "attachDeviceFilter(cgroupDir, insns: Buffer of 8-byte instructions)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  launch::BpfResult r;
  if (launch::AttachDeviceFilter(dir.c_str(), data, len, r)) return env.Undefined();
  if (r.log.empty()) return ThrowErrno(env, r.err, r.syscall);
  Napi::Error e = Napi::Error::New(env, std::string(r.syscall) + ": " + strerror(r.err) + "\n" + r.log);
  e.Set("errno", Napi::Number::New(env, r.err));
  e.Set("syscall", Napi::String::New(env, r.syscall));
  e.Set("log", Napi::String::New(env, r.log));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// compileSeccomp(defaultAction, archs: string[], rules: [name, action, [index, op, a, b][]][])
//   -> { bpf: Buffer, unknown: number[] }: the filter as struct sock_filter[], and the rules
// skipped because libseccomp does not know their syscall. Values a/b are bigints (64-bit
// arguments). A failure throws with `errno`, `what` (library, init, arch, rule, export) and
// `index` (of the arch or rule), which lib/plan/seccomp.ts turns into a config path.
Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto bad = [&]() {
    Napi::TypeError::New(env, "compileSeccomp(defaultAction, archs, rules)").ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsArray()) return bad();
  std::vector<std::string> archs;
  Napi::Array a = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    if (!a.Get(i).IsString()) return bad();
    archs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  std::vector<launch::SeccompRule> rules;
  Napi::Array r = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < r.Length(); i++) {
    if (!r.Get(i).IsArray()) return bad();
    Napi::Array t = r.Get(i).As<Napi::Array>();
    if (t.Length() != 3 || !t.Get(0u).IsString() || !t.Get(1u).IsNumber() || !t.Get(2u).IsArray()) return bad();
    launch::SeccompRule rule{t.Get(0u).As<Napi::String>().Utf8Value(), t.Get(1u).As<Napi::Number>().Uint32Value(), {}};
    Napi::Array cs = t.Get(2u).As<Napi::Array>();
    for (uint32_t k = 0; k < cs.Length(); k++) {
      if (!cs.Get(k).IsArray()) return bad();
      Napi::Array c = cs.Get(k).As<Napi::Array>();
      if (c.Length() != 4 || !c.Get(0u).IsNumber() || !c.Get(1u).IsNumber() || !c.Get(2u).IsBigInt() || !c.Get(3u).IsBigInt()) return bad();
      bool lossless;
      launch::SeccompCond cond{c.Get(0u).As<Napi::Number>().Uint32Value(), c.Get(1u).As<Napi::Number>().Uint32Value(),
                               c.Get(2u).As<Napi::BigInt>().Uint64Value(&lossless), c.Get(3u).As<Napi::BigInt>().Uint64Value(&lossless)};
      rule.conds.push_back(cond);
    }
    rules.push_back(std::move(rule));
  }
  launch::SeccompResult res;
  if (!launch::CompileSeccomp(info[0].As<Napi::Number>().Uint32Value(), archs, rules, res)) {
    std::string what = res.what ? res.what : "compile";
    Napi::Error e = Napi::Error::New(env, what + ": " + (res.detail.empty() ? strerror(res.err) : res.detail));
    e.Set("errno", Napi::Number::New(env, res.err));
    e.Set("what", Napi::String::New(env, what));
    e.Set("index", Napi::Number::New(env, res.index));
    if (!res.detail.empty()) e.Set("detail", Napi::String::New(env, res.detail));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("bpf", Napi::Buffer<uint8_t>::Copy(env, res.bpf.data(), res.bpf.size()));
  Napi::Array unknown = Napi::Array::New(env, res.unknown.size());
  for (size_t i = 0; i < res.unknown.size(); i++) unknown.Set(static_cast<uint32_t>(i), res.unknown[i]);
  o.Set("unknown", unknown);
  return o;
}

// seccompVersion() -> libseccomp's "major.minor.micro"; throws (what: library) without it.
Napi::Value SeccompVersion(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string version, why;
  if (launch::SeccompVersion(version, why)) return Napi::String::New(env, version);
  Napi::Error e = Napi::Error::New(env, "library: " + why);
  e.Set("what", Napi::String::New(env, "library"));
  e.Set("detail", Napi::String::New(env, why));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// seccompFlagsSupported(flags) -> the SECCOMP_FILTER_FLAG_* bits of `flags` this kernel knows.
Napi::Value SeccompFlagsSupported(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Napi::Number::New(env, 0);
  return Napi::Number::New(env, launch::SeccompFlagsSupported(info[0].As<Napi::Number>().Uint32Value()));
}

// forwardSignals(signals: number[]): errno. Signals held until forwardTo (parent/forward.cc).
Napi::Value ForwardSignals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "forwardSignals(signals: number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto arr = info[0].As<Napi::Array>();
  uint64_t mask = 0;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    int sig = arr.Get(i).As<Napi::Number>().Int32Value();
    if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP) {
      Napi::TypeError::New(env, "forwardSignals: not a signal that can be caught").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    mask |= uint64_t(1) << sig;
  }
  return Napi::Number::New(env, launch::ForwardInstall(mask));
}

// forwardTo(pidfd): errno. Delivers what was held, then everything as it comes.
Napi::Value ForwardTo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "forwardTo(pidfd)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, launch::ForwardTo(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value StopForwarding(const Napi::CallbackInfo &info) {
  launch::ForwardRemove();
  return info.Env().Undefined();
}

// execMonitor(image: string | Buffer, argv: string[], keepFds: number[]): replaces this process
// by the monitor (parent/execmon.cc); returns only by throwing with errno and syscall.
Napi::Value ExecMonitor(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !(info[0].IsString() || info[0].IsBuffer()) || !info[1].IsArray() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "execMonitor(image: string | Buffer, argv: string[], keepFds: number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array a = info[1].As<Napi::Array>();
  Napi::Array k = info[2].As<Napi::Array>();
  std::vector<std::string> args;
  std::vector<int> keep;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) {
      Napi::TypeError::New(env, "execMonitor: argv must be strings").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    args.push_back(v.As<Napi::String>().Utf8Value());
  }
  for (uint32_t i = 0; i < k.Length(); i++) {
    Napi::Value v = k.Get(i);
    if (!v.IsNumber()) {
      Napi::TypeError::New(env, "execMonitor: keepFds must be numbers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    keep.push_back(v.As<Napi::Number>().Int32Value());
  }
  if (args.empty()) {
    Napi::TypeError::New(env, "execMonitor: argv must not be empty").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<char *> argv;
  for (auto &s : args) argv.push_back(const_cast<char *>(s.c_str()));
  argv.push_back(nullptr);
  launch::ExecMonitorImage image;
  std::string path;
  if (info[0].IsString()) {
    path = info[0].As<Napi::String>().Utf8Value();
    image.path = path.c_str();
  } else if (!BufferArg(info, 0, &image.elf, &image.len) || image.len == 0) {
    Napi::TypeError::New(env, "execMonitor: the image Buffer is empty").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char *call = "execve";
  int err = launch::ExecMonitor(image, argv.data(), keep.data(), keep.size(), &call);
  return ThrowErrno(env, err, call);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("opTable", Napi::Function::New(env, OpTable));
  exports.Set("validatePlan", Napi::Function::New(env, ValidatePlan));
  exports.Set("spawn", Napi::Function::New(env, Spawn));
  exports.Set("waitExit", Napi::Function::New(env, WaitExit));
  exports.Set("pidfdSignal", Napi::Function::New(env, PidfdSignal));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("recvMsg", Napi::Function::New(env, RecvMsg));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
  exports.Set("setOutputProcessing", Napi::Function::New(env, SetOutputProcessing));
  exports.Set("mkfifo", Napi::Function::New(env, MkFifo));
  exports.Set("openTree", Napi::Function::New(env, OpenTree));
  exports.Set("lsetxattr", Napi::Function::New(env, LSetXattr));
  exports.Set("lgetxattr", Napi::Function::New(env, LGetXattr));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("fnv1a64", Napi::Function::New(env, Fnv1a64));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable));
  exports.Set("attachDeviceFilter", Napi::Function::New(env, AttachDeviceFilter));
  exports.Set("execMonitor", Napi::Function::New(env, ExecMonitor));
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp));
  exports.Set("seccompFlagsSupported", Napi::Function::New(env, SeccompFlagsSupported));
  exports.Set("seccompVersion", Napi::Function::New(env, SeccompVersion));
  exports.Set("forwardSignals", Napi::Function::New(env, ForwardSignals));
  exports.Set("forwardTo", Napi::Function::New(env, ForwardTo));
  exports.Set("stopForwarding", Napi::Function::New(env, StopForwarding));
  return exports;
}

}  // namespace

NODE_API_MODULE(launch_native, Init)
