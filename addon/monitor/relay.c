// The monitor's terminal relay: launch's fds 0/1 <-> the container's pty master (--pty).
// Context: the monitor process (launch's pid after execve, root or an ordinary user), single
// threaded; see monitor.c.
// Man pages: termios(3) (cfmakeraw, OPOST), ioctl_tty(2) (TIOCGWINSZ, TIOCSWINSZ), pty(7)
// (a master reads EIO once no slave is open), poll(2).
//
// The master is made non-blocking and input waits in a buffer until the master takes it: a
// container that stops reading its input must never stop us from draining its output, or both
// sides would block on a full pty. fd 1 is written to completion (a slow terminal slows the
// container down, as it would without us).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

// fd 1 may be a non-blocking file description we share with the shell: wait for room then.
static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -1;
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      poll(&p, 1, -1);
      continue;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

void relay_start(struct relay *r, int master) {
  memset(r, 0, sizeof *r);
  r->master = master;
  r->in_open = r->out_open = 1;
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  // Both are saved before either changes: fds 0 and 1 are usually the same terminal, and
  // cfmakeraw on fd 0 already clears OPOST there.
  r->have_t0 = isatty(0) && tcgetattr(0, &r->t0) == 0;
  r->have_t1 = isatty(1) && tcgetattr(1, &r->t1) == 0;
  if (r->have_t0) {
    // Keys go to the container's terminal as typed: its line discipline does the echo, ^C, ^Z.
    struct termios t = r->t0;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
  }
  struct termios t;
  if (r->have_t1 && tcgetattr(1, &t) == 0) {
    // The container's pty already turned \n into \r\n; ours would not add a second \r, but
    // other output processing (tabs, ocrnl) would apply twice.
    t.c_oflag &= ~(tcflag_t)OPOST;
    tcsetattr(1, TCSANOW, &t);
  }
  relay_resize(r);
}

// Reverse order: when 0 and 1 are one terminal, fd 0's original settings are the last word.
void relay_restore(struct relay *r) {
  if (r->have_t1) tcsetattr(1, TCSANOW, &r->t1);
  if (r->have_t0) tcsetattr(0, TCSANOW, &r->t0);
  r->have_t0 = r->have_t1 = 0;
}

// The size of our terminal becomes the container's; the kernel then sends SIGWINCH to the
// pty's foreground process group.
void relay_resize(struct relay *r) {
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  if (ioctl(1, TIOCGWINSZ, &ws) < 0 && ioctl(0, TIOCGWINSZ, &ws) < 0) return;
  if (ws.ws_row > 0 && ws.ws_col > 0) ioctl(r->master, TIOCSWINSZ, &ws);
}

// fd 0 is readable (called only with an empty buffer). At the end of our input the container
// gets one ^D: with its terminal in canonical mode that is its end of file too.
void relay_input(struct relay *r) {
  ssize_t n = read(0, r->in, sizeof r->in);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  r->in_off = 0;
  if (n > 0) {
    r->in_len = (size_t)n;
    return;
  }
  r->in_open = 0;
  r->in[0] = 0x04;
  r->in_len = 1;
}

static void relay_output(struct relay *r) {
  char buf[16384];
  ssize_t n = read(r->master, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {  // EIO: no slave is open any more; the output has ended
    r->out_open = 0;
    return;
  }
  if (!r->out_broken && write_all(1, buf, (size_t)n) < 0) r->out_broken = 1;
}

void relay_master(struct relay *r, short revents) {
  if ((revents & POLLOUT) && r->in_len > 0) {
    ssize_t n = write(r->master, r->in + r->in_off, r->in_len - r->in_off);
    if (n > 0) {
      r->in_off += (size_t)n;
      if (r->in_off == r->in_len) r->in_len = r->in_off = 0;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      r->in_len = r->in_off = 0;  // the container's side is gone: input has nowhere to go
      r->in_open = 0;
    }
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && r->out_open) relay_output(r);
  // A hung-up master with no output left would report POLLHUP forever: stop the input too.
  if ((revents & (POLLHUP | POLLERR | POLLNVAL)) && !r->out_open) r->in_len = r->in_off = 0, r->in_open = 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// After the init's exit: the output still in the pty, until EOF/EIO or `ms` have passed.
void relay_drain(struct relay *r, int ms) {
  long deadline = now_ms() + ms;
  while (r->out_open) {
    long left = deadline - now_ms();
    struct pollfd p = {.fd = r->master, .events = POLLIN};
    if (left <= 0 || poll(&p, 1, (int)left) == 0) return;
    if (p.revents & POLLNVAL) return;
    if (p.revents) relay_output(r);
  }
}
