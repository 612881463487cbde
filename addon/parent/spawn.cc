// Plan validation and the clone, for the addon: both are addon/common/decode.c's.
// Context: the Node process, main thread, which may be root or an ordinary user.
#include "parent/spawn.h"

namespace launch {

const std::vector<OpInfo> &OpTable() {
  static const std::vector<OpInfo> table = [] {
    std::vector<OpInfo> t;
    for (size_t i = 0; i < lp_noptable; i++) t.push_back({lp_optable[i].name, lp_optable[i].code, lp_optable[i].sig});
    return t;
  }();
  return table;
}

bool DecodePlan(const uint8_t *data, size_t len, DecodedPlan &out, std::string &err) {
  char buf[256];
  if (lp_decode(data, len, &out.d, buf, sizeof buf, nullptr, nullptr) == 0) return true;
  err = buf;
  return false;
}

SpawnResult Spawn(const DecodedPlan &plan, uint64_t clone_flags, int pidns_fd) { return lp_spawn(&plan.d, clone_flags, pidns_fd); }

}  // namespace launch
