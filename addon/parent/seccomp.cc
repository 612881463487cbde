// Context: the Node process, main thread, before the clone. See seccomp.h.
// Man pages: seccomp_init(3), seccomp_rule_add(3), seccomp_export_bpf(3), seccomp(2).
#include "parent/seccomp.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace launch {

namespace {

// libseccomp's ABI (seccomp.h of libseccomp 2.x), declared here so that no -dev package is
// needed to build. These layouts and values have been stable since 2.2.
struct scmp_arg_cmp {
  unsigned int arg;
  int op;
  uint64_t datum_a;
  uint64_t datum_b;
};
constexpr int kNrScmpError = -1;   // __NR_SCMP_ERROR
constexpr int kAttrOptimize = 8;   // SCMP_FLTATR_CTL_OPTIMIZE (2.5+): 2 = binary tree

struct Lib {
  void *(*init)(uint32_t);
  void (*release)(void *);
  int (*arch_add)(void *, uint32_t);
  uint32_t (*arch_resolve_name)(const char *);
  int (*syscall_resolve_name)(const char *);
  int (*rule_add_array)(void *, uint32_t, int, unsigned int, const scmp_arg_cmp *);
  int (*attr_set)(void *, int, uint32_t);
  int (*export_bpf)(void *, int);
  const unsigned *(*version)(void);  // struct scmp_version { major, minor, micro }
};

template <typename F>
bool Sym(void *h, const char *name, F &out) {
  out = reinterpret_cast<F>(dlsym(h, name));
  return out != nullptr;
}

// Loaded once per process; a failure is remembered with its message.
const Lib *Load(std::string &why) {
  static Lib lib;
  static int state = 0;  // 0 not tried, 1 ok, -1 failed
  static std::string error;
  if (state == 0) {
    void *h = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char *e = dlerror();
      error = e ? e : "libseccomp.so.2: cannot be loaded";
      state = -1;
    } else if (!Sym(h, "seccomp_init", lib.init) || !Sym(h, "seccomp_release", lib.release) ||
               !Sym(h, "seccomp_arch_add", lib.arch_add) || !Sym(h, "seccomp_arch_resolve_name", lib.arch_resolve_name) ||
               !Sym(h, "seccomp_syscall_resolve_name", lib.syscall_resolve_name) ||
               !Sym(h, "seccomp_rule_add_array", lib.rule_add_array) || !Sym(h, "seccomp_attr_set", lib.attr_set) ||
               !Sym(h, "seccomp_export_bpf", lib.export_bpf) || !Sym(h, "seccomp_version", lib.version)) {
      error = "libseccomp.so.2 lacks a function launch needs (libseccomp 2.5 or newer is required)";
      state = -1;
    } else {
      state = 1;
    }
  }
  why = error;
  return state == 1 ? &lib : nullptr;
}

bool Fail(SeccompResult &out, const char *what, int err, int index = -1) {
  out.what = what;
  out.err = err;
  out.index = index;
  return false;
}

// seccomp_export_bpf writes to a file descriptor: an unnamed memory file, read back.
bool Export(const Lib &lib, void *ctx, SeccompResult &out) {
  int fd = static_cast<int>(syscall(SYS_memfd_create, "launch-seccomp", MFD_CLOEXEC));
  if (fd < 0) return Fail(out, "export", errno);
  int r = lib.export_bpf(ctx, fd);
  off_t size = r == 0 ? lseek(fd, 0, SEEK_END) : -1;
  if (r != 0 || size <= 0 || size % 8 != 0) {
    close(fd);
    return Fail(out, "export", r < 0 ? -r : EINVAL);
  }
  out.bpf.resize(static_cast<size_t>(size));
  ssize_t n = pread(fd, out.bpf.data(), out.bpf.size(), 0);
  int e = errno;
  close(fd);
  if (n != size) return Fail(out, "export", n < 0 ? e : EIO);
  return true;
}

}  // namespace

bool CompileSeccomp(uint32_t default_action, const std::vector<std::string> &archs,
                    const std::vector<SeccompRule> &rules, SeccompResult &out) {
  const Lib *lib = Load(out.detail);
  if (!lib) return Fail(out, "library", ENOENT);
  void *ctx = lib->init(default_action);
  if (!ctx) return Fail(out, "init", EINVAL);
  struct Guard {
    const Lib *lib;
    void *ctx;
    ~Guard() { lib->release(ctx); }
  } guard{lib, ctx};
  for (size_t i = 0; i < archs.size(); i++) {
    uint32_t token = lib->arch_resolve_name(archs[i].c_str());
    if (token == 0) return Fail(out, "arch", EINVAL, static_cast<int>(i));
    int r = lib->arch_add(ctx, token);
    if (r < 0 && r != -EEXIST) return Fail(out, "arch", -r, static_cast<int>(i));  // the native one is in already
  }
  // Large profiles (Docker's has hundreds of names) filter faster as a tree; older
  // libseccomp versions without the attribute just keep the list.
  if (rules.size() > 32) lib->attr_set(ctx, kAttrOptimize, 2);
  std::vector<scmp_arg_cmp> conds;
  for (size_t i = 0; i < rules.size(); i++) {
    const SeccompRule &rule = rules[i];
    int nr = lib->syscall_resolve_name(rule.name.c_str());
    if (nr == kNrScmpError) {
      out.unknown.push_back(static_cast<uint32_t>(i));
      continue;
    }
    conds.clear();
    for (const auto &c : rule.conds) conds.push_back({c.index, static_cast<int>(c.op), c.a, c.b});
    int r = lib->rule_add_array(ctx, rule.action, nr, static_cast<unsigned>(conds.size()), conds.data());
    if (r < 0) return Fail(out, "rule", -r, static_cast<int>(i));
  }
  return Export(*lib, ctx, out);
}

bool SeccompVersion(std::string &out, std::string &why) {
  const Lib *lib = Load(why);
  if (!lib) return false;
  const unsigned *v = lib->version();
  out = std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
  return true;
}

uint32_t SeccompFlagsSupported(uint32_t flags) {
  uint32_t ok = 0;
  for (uint32_t bit = 1; bit != 0 && bit <= flags; bit <<= 1) {
    if (!(flags & bit)) continue;
    // A known flag gets as far as reading the (absent) program: EFAULT. WAIT_KILLABLE_RECV is
    // only accepted together with NEW_LISTENER.
    uint32_t probe = bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ? bit | SECCOMP_FILTER_FLAG_NEW_LISTENER : bit;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, probe, nullptr) < 0 && errno == EFAULT) ok |= bit;
  }
  return ok;
}

}  // namespace launch
