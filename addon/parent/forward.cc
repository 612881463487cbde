// Passing launch's signals on to the container's process (`run` and `exec` in the foreground).
// Context: the Node process. A signal sent to a process may be handled on any thread that does
// not block it, and Node's threads block nothing; a JavaScript handler (process.on) only runs
// on a later turn of the event loop. So a signal that arrived just before launch exec'd the
// monitor (lib/runtime/monitor.ts) would be caught by libuv and lost with the process image.
// This handler forwards at once, from whichever thread takes the signal, with one
// async-signal-safe syscall, so nothing is left in flight when the image changes.
// Man pages: sigaction(2), pidfd_send_signal(2), signal-safety(7).
#include "parent/forward.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace launch {
namespace {

std::atomic<int> g_target{-1};
// Signals that arrived and are not delivered yet. The handler sets its bit before it looks at
// the target, and whoever clears a bit (the handler, or ForwardTo's flush) sends it: a signal
// that races with ForwardTo is sent exactly once.
std::atomic<uint64_t> g_pending{0};
uint64_t g_installed = 0;
struct sigaction g_old[65];

void Send(int fd, uint64_t bits) {
  for (int sig = 1; sig <= 64; sig++)
    if (bits & (uint64_t(1) << sig)) syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
}

void Handler(int sig) {
  int saved = errno;
  uint64_t bit = uint64_t(1) << sig;
  g_pending.fetch_or(bit);
  int fd = g_target.load();
  // ESRCH once the process is gone is no error: its exit is on its way.
  if (fd >= 0 && (g_pending.fetch_and(~bit) & bit)) syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0);
  errno = saved;
}

}  // namespace

int ForwardInstall(uint64_t mask) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig <= 64; sig++) {
    if (!(mask & (uint64_t(1) << sig)) || (g_installed & (uint64_t(1) << sig))) continue;
    if (sigaction(sig, &sa, &g_old[sig]) < 0) return errno;
    g_installed |= uint64_t(1) << sig;
  }
  return 0;
}

int ForwardTo(int pidfd) {
  int fd = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return errno;
  int old = g_target.exchange(fd);
  if (old >= 0) close(old);
  Send(fd, g_pending.exchange(0));
  return 0;
}

void ForwardRemove() {
  for (int sig = 1; sig <= 64; sig++)
    if (g_installed & (uint64_t(1) << sig)) sigaction(sig, &g_old[sig], nullptr);
  g_installed = 0;
  g_pending.store(0);
  // A handler still running on another thread may hold the old number for a moment; a pidfd
  // number reused by then would at worst get an EBADF or a signal to a process that is gone.
  int old = g_target.exchange(-1);
  if (old >= 0) close(old);
}

}  // namespace launch
