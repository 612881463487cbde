// cgroup v2 device filter: load a BPF_PROG_TYPE_CGROUP_DEVICE program (built in
// lib/cgroups/devicefilter.ts) and make it the cgroup's only one. Raw bpf(2), no libbpf.
// Runs in the Node process, before the container joins the cgroup (and for `update`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace launch {

struct BpfResult {
  int err = 0;                      // errno of the failed call, 0 on success
  const char *syscall = nullptr;    // "open", "bpf(BPF_PROG_LOAD)", ...
  std::string log;                  // the verifier's log when the load was refused
};

// Loads `insns` (struct bpf_insn, `len` bytes), attaches it to `cgroup_dir` with
// BPF_F_ALLOW_MULTI, then detaches the device programs that were there before: the cgroup
// always has a filter, never none (runc does the same). Returns false with `r` filled in.
bool AttachDeviceFilter(const char *cgroup_dir, const uint8_t *insns, size_t len, BpfResult &r);

}  // namespace launch
