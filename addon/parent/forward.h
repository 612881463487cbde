// Passing launch's signals on to the container's process from a signal handler of our own.
// Runs in the Node process; the handler may run on any of its threads. See forward.cc.
#pragma once

#include <cstdint>

namespace launch {

// Install the handler for the signals in `mask` (bit N = signal N); they are held until
// ForwardTo. Returns an errno (0 on success).
int ForwardInstall(uint64_t mask);
// From now on deliver to this pidfd (dup'ed: the caller may close its own), held ones first.
// Returns an errno (0 on success).
int ForwardTo(int pidfd);
// Put back the dispositions ForwardInstall replaced and stop forwarding.
void ForwardRemove();

}  // namespace launch
