// linux.seccomp compiled to a classic BPF program with libseccomp, in the Node process before
// the clone: the child then only makes one seccomp(2) call with the finished program.
// libseccomp is loaded at run time (dlopen of libseccomp.so.2, part of Debian's base system), so
// building the addon needs no -dev package and a host without the library fails only the
// containers that ask for seccomp. lib/plan/seccomp.ts decides what goes in (actions, errno
// values, which conditions form one rule); this file only feeds libseccomp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace launch {

struct SeccompCond {
  uint32_t index;  // argument register 0-5
  uint32_t op;     // enum scmp_compare (SCMP_CMP_NE = 1 ... SCMP_CMP_MASKED_EQ = 7)
  uint64_t a;      // value (the mask for MASKED_EQ)
  uint64_t b;      // valueTwo (the compared value for MASKED_EQ)
};

struct SeccompRule {
  std::string name;
  uint32_t action;  // SCMP_ACT_* as the kernel's SECCOMP_RET_* value, errno or trace data included
  std::vector<SeccompCond> conds;
};

struct SeccompResult {
  std::vector<uint8_t> bpf;  // struct sock_filter[]
  std::vector<uint32_t> unknown;  // rules whose syscall this libseccomp does not know: skipped
  int err = 0;                   // errno of the failure
  const char *what = nullptr;    // "library", "init", "arch", "rule", "export"
  int index = -1;                // the arch or rule that failed
  std::string detail;            // dlerror() text, for "library"
};

// Compiles; false with err/what/index set on failure.
bool CompileSeccomp(uint32_t default_action, const std::vector<std::string> &archs,
                    const std::vector<SeccompRule> &rules, SeccompResult &out);

// libseccomp's version ("2.5.4"), which decides the compiled program: false with `why` when
// the library cannot be loaded.
bool SeccompVersion(std::string &out, std::string &why);

// The subset of `flags` (SECCOMP_FILTER_FLAG_*) this kernel accepts.
uint32_t SeccompFlagsSupported(uint32_t flags);

}  // namespace launch
