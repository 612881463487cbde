/* One message with one fd attached (SCM_RIGHTS), shared by the child (the pty master to the
 * parent, over the sync socket) and the parent (the master to --console-socket). Only
 * memset and sendmsg: safe in the child after clone. Returns 0, or -errno. */
#ifndef LAUNCH_SENDFD_H
#define LAUNCH_SENDFD_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static inline int lc_send_fd(int sock, const void *data, size_t len, int fd) {
  struct iovec iov;
  iov.iov_base = (void *)data;
  iov.iov_len = len;
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t r;
  do r = sendmsg(sock, &mh, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : 0;
}

#endif
