// See bpf.h. RLIMIT_MEMLOCK is left alone: since 5.11 BPF memory is charged to the memcg,
// and root here cannot raise it anyway (no CAP_SYS_RESOURCE).
#include "parent/bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace launch {
namespace {

long Bpf(int cmd, union bpf_attr &attr) {
  long r;
  // PROG_LOAD gives EAGAIN when a signal interrupts the verifier: retry a few times, as libbpf.
  int tries = 0;
  do r = syscall(SYS_bpf, cmd, &attr, sizeof attr); while (r < 0 && (errno == EINTR || errno == EAGAIN) && ++tries < 5);
  return r;
}

uint64_t Ptr(const void *p) { return uint64_t(uintptr_t(p)); }

bool Fail(BpfResult &r, const char *syscall) {
  r.err = errno;
  r.syscall = syscall;
  return false;
}

int Load(const uint8_t *insns, size_t len, BpfResult &r) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = Ptr(insns);
  attr.insn_cnt = uint32_t(len / sizeof(struct bpf_insn));
  attr.license = Ptr("Apache");  // as runc; the program calls no GPL-only helper
  long fd = Bpf(BPF_PROG_LOAD, attr);
  if (fd >= 0 || (errno != EACCES && errno != EINVAL)) return int(fd);
  // Refused by the verifier: load again with a log, only now (a log that does not fit fails
  // the load with ENOSPC, so it is not asked for up front).
  int err = errno;
  std::vector<char> log(64 * 1024);
  attr.log_buf = Ptr(log.data());
  attr.log_size = uint32_t(log.size());
  attr.log_level = 1;
  fd = Bpf(BPF_PROG_LOAD, attr);
  if (fd >= 0) return int(fd);  // passed this time (cannot really happen): fine
  log.back() = '\0';
  r.log = log.data();
  errno = err;
  return -1;
}

// The ids of the device programs attached to this very cgroup (not inherited ones).
bool Query(int dir, std::vector<uint32_t> &ids) {
  ids.assign(64, 0);  // BPF_CGROUP_MAX_PROGS; ENOSPC says how many there really are
  for (int tries = 0; tries < 10; tries++) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = uint32_t(dir);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = Ptr(ids.data());
    attr.query.prog_cnt = uint32_t(ids.size());
    long rc = Bpf(BPF_PROG_QUERY, attr);
    if (rc == 0) {
      ids.resize(attr.query.prog_cnt);
      return true;
    }
    if (errno != ENOSPC) return false;
    ids.assign(attr.query.prog_cnt + 8, 0);
  }
  errno = ENOSPC;
  return false;
}

bool Detach(int dir, uint32_t id, BpfResult &r) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_id = id;
  int fd = int(Bpf(BPF_PROG_GET_FD_BY_ID, attr));
  if (fd < 0) {
    // Gone meanwhile, or hidden from us by an LSM (runc skips those too: another device
    // program can only deny more).
    if (errno == ENOENT || errno == EPERM || errno == EACCES) return true;
    return Fail(r, "bpf(BPF_PROG_GET_FD_BY_ID)");
  }
  memset(&attr, 0, sizeof attr);
  attr.target_fd = uint32_t(dir);
  attr.attach_bpf_fd = uint32_t(fd);
  attr.attach_type = BPF_CGROUP_DEVICE;
  long rc = Bpf(BPF_PROG_DETACH, attr);
  int err = errno;
  close(fd);
  if (rc < 0 && err != ENOENT) {
    errno = err;
    return Fail(r, "bpf(BPF_PROG_DETACH)");
  }
  return true;
}

}  // namespace

bool AttachDeviceFilter(const char *cgroup_dir, const uint8_t *insns, size_t len, BpfResult &r) {
  int dir = open(cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return Fail(r, "open");
  bool ok = false;
  std::vector<uint32_t> old;
  int prog = Load(insns, len, r);
  if (prog < 0) {
    Fail(r, "bpf(BPF_PROG_LOAD)");
  } else if (!Query(dir, old)) {
    Fail(r, "bpf(BPF_PROG_QUERY)");
  } else {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = uint32_t(dir);
    attr.attach_bpf_fd = uint32_t(prog);
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (Bpf(BPF_PROG_ATTACH, attr) < 0) {
      Fail(r, "bpf(BPF_PROG_ATTACH)");
    } else {
      // The new filter is in: only now take the old ones out (no moment without a filter).
      ok = true;
      for (uint32_t id : old) {
        if (!Detach(dir, id, r)) {
          ok = false;
          break;
        }
      }
    }
  }
  // The attachment holds its own reference to the program.
  if (prog >= 0) close(prog);
  close(dir);
  return ok;
}

}  // namespace launch
