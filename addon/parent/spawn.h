// Parent side of a container start in the Node process: the addon's C++ face of the plain-C
// decoder and clone (addon/common/decode.c), which the native runner of compiled bundles shares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/decode.h"

namespace launch {

// A plan decoded into pointer form; owns its copy of the wire buffer. Built (and validated)
// entirely before clone.
struct DecodedPlan {
  lp_decoded d{};
  DecodedPlan() = default;
  DecodedPlan(const DecodedPlan &) = delete;
  DecodedPlan &operator=(const DecodedPlan &) = delete;
  ~DecodedPlan() { lp_free(&d); }
};

// Validates the buffer and decodes it (lp_decode). On error returns false and sets `err` to a
// sentence naming the op index and slot.
bool DecodePlan(const uint8_t *data, size_t len, DecodedPlan &out, std::string &err);

using SpawnResult = lp_spawned;
SpawnResult Spawn(const DecodedPlan &plan, uint64_t clone_flags, int pidns_fd);

struct OpInfo {
  const char *name;
  uint32_t code;
  const char *sig;
};
const std::vector<OpInfo> &OpTable();

}  // namespace launch
