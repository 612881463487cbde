/* Filesystem steps of the child (see fsops.c). All return 0 or -errno. */
#ifndef LAUNCH_FSOPS_H
#define LAUNCH_FSOPS_H
#include <stdint.h>
#include "common/plan.h"

/* Mounts of proc and sysfs whose fds later steps use (MOUNT_FS arg5, MASK_AT and READONLY_AT arg0). */
#define LC_MOUNT_SLOTS LP_MOUNT_SLOTS

int fs_rootfs(const char *path);
void fs_fd_path(char *buf, int fd);
int fs_openat2(int dirfd, const char *path, int flags, uint64_t resolve);
int fs_open_in_root_nofollow(const char *path, int flags);
void fs_open_devnull(void);
int fs_bind_fd(const char *src, int tree_from_parent, int target, unsigned long flags, unsigned long propagation);
int fs_mount_fs(const char *target, const char *type, unsigned long flags, const char *data, unsigned long propagation,
                unsigned slot, unsigned opflags);
int fs_mask_at(unsigned slot, const char *rel);
int fs_readonly_at(unsigned slot, const char *rel);
void fs_use_host_root(void);
void fs_close_root(void);
int fs_open_in_root(const char *path, int flags);
int fs_mkdirs_in_root(const char *path, int mode, int make_file);
int fs_mount(const char *src, const char *target, const char *type, unsigned long flags, const char *data,
             unsigned long propagation, unsigned opflags);
int fs_mknod(const char *path, unsigned mode, unsigned long dev);
int fs_symlink(const char *target, const char *path);
int fs_mask(const char *path);
int fs_readonly(const char *path);
int fs_pivot(int no_pivot);
int fs_chroot(const char *path);
int fs_remount_root_ro(void);
int fs_chdir(const char *path);
int fs_setattr(const char *target, uint64_t set, uint64_t clr, int recursive);
int fs_write_file(const char *path, const char *content);
#endif
