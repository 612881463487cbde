// Replacing the Node process by the monitor (addon/monitor/) while a foreground `run` waits.
// Runs in the Node process, main thread; see execmon.cc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace launch {

struct ExecMonitorImage {
  const char *path = nullptr;     // an executable on disk, or
  const uint8_t *elf = nullptr;   // the executable's bytes (a single-executable build carries them)
  size_t len = 0;
};

// Clears FD_CLOEXEC on 0, 1, 2 and on keep_fds, blocks every signal and execs the monitor in
// this process (same pid). Returns only on failure, with the process as it was (signal mask,
// fd flags) and *syscall naming the call that failed; the return value is its errno.
int ExecMonitor(const ExecMonitorImage &image, char *const argv[], const int *keep_fds, size_t nkeep,
                const char **syscall);

}  // namespace launch
