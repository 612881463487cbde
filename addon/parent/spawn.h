// Parent side of a container start: validate and decode a plan, clone the child, reap it.
// Runs in the Node process (any thread); allocation and exceptions are fine here, but not in
// the code path between clone and the child's entry (see spawn.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "common/plan.h"
}

namespace launch {

// A plan decoded into pointer form. Owns a copy of the wire buffer; the lc_op strings and
// lists point into it. Built (and validated) entirely before clone.
struct DecodedPlan {
  std::vector<uint8_t> buf;
  std::vector<lc_op> ops;
  std::vector<std::unique_ptr<std::vector<char *>>> lists;
};

// Validates the buffer (magic, version, sizes, known op codes, offsets in bounds,
// NUL-terminated strings, list counts) and decodes it. On error returns false and sets `err`
// to a sentence naming the op index and slot.
bool DecodePlan(const uint8_t *data, size_t len, DecodedPlan &out, std::string &err);

struct SpawnResult {
  int pid = -1;
  int pidfd = -1;
  int sync_fd = -1;
  int err = 0;  // errno of a failed socketpair/clone3
  const char *syscall = nullptr;
};

// clone3 with `clone_flags` (CLONE_NEW* bits) plus CLONE_PIDFD; the child runs the plan.
// When pidns_fd >= 0 the child is created in that pid namespace (setns on this thread's
// pid_for_children, restored right after).
SpawnResult Spawn(const DecodedPlan &plan, uint64_t clone_flags, int pidns_fd);

// The op table (name, code, signature) for the JS encoder's agreement test.
struct OpInfo {
  const char *name;
  uint32_t code;
  const char *sig;
};
const std::vector<OpInfo> &OpTable();

}  // namespace launch
