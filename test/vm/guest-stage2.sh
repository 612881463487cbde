#!/bin/sh
# Stage 2: PID 1 of the guest, run from the out share (/mnt/out/stage2) after
# switch_root into the overlay of the host's /. Sets up cgroup2, runs the command
# written by run-in-vm.sh (/mnt/out/cmd) and reports its exit status through
# /mnt/out/rc and isa-debug-exit (port 0xf4), then powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=/mnt/out
BB=$(command -v busybox || echo /bin/busybox)
say() { echo "launch-vm: $*" >&2; }

report() {
  rc=$1
  echo "$rc" > "$OUT/rc"
  sync
  # isa-debug-exit: qemu exits with (byte << 1) | 1.
  printf "\\$(printf %o "$((rc & 255))")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  "$BB" poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 10
}

# Guest settings written by run-in-vm.sh (LAUNCH_TEST_USER, module dir, ...).
[ -r "$OUT/guest.env" ] && . "$OUT/guest.env"

# Console: leave \n alone (a host terminal adds its own \r).
stty -onlcr 2>/dev/null

mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
"$BB" hostname launch-vm
"$BB" ip link set lo up 2>/dev/null

# The kernel's modules (from the cache dir on the host) so modprobe works.
if [ -n "${LAUNCH_VM_KMODS:-}" ] && [ -d "$LAUNCH_VM_KMODS" ]; then
  kv=$(uname -r)
  mkdir -p "/lib/modules/$kv" && mount --bind "$LAUNCH_VM_KMODS" "/lib/modules/$kv"
  # The kernel's request_module() runs /sbin/modprobe, which needs kmod; use busybox's.
  if ! [ -x /sbin/modprobe ]; then
    ln -s "$BB" /run/modprobe && echo /run/modprobe > /proc/sys/kernel/modprobe
  fi
fi

# cgroup v2, PID 1 out of the root, every controller enabled for the children.
cg=/sys/fs/cgroup
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 $cg 2>/dev/null \
  || mount -t cgroup2 -o nsdelegate cgroup2 $cg || { say "cannot mount cgroup2"; report 125; }
mkdir -p $cg/init && echo $$ > $cg/init/cgroup.procs || say "cannot move PID 1 to $cg/init"
for c in $(cat $cg/cgroup.controllers); do
  echo "+$c" > $cg/cgroup.subtree_control || say "cannot enable $c"
done

# The unprivileged test user, with a delegated subtree as systemd would give user@UID.service.
# Root has to move a process into it (the common ancestor is the root cgroup).
. "$OUT/guest-user.sh"
if add_test_user; then
  d=$cg/user-$uid
  mkdir -p $d && chown "$uid:$gid" $d $d/cgroup.procs $d/cgroup.subtree_control $d/cgroup.threads
fi

# Optional: a filesystem on the virtio disk.
if [ -b /dev/vda ] && [ -n "${LAUNCH_VM_DISK_FS:-}" ]; then
  "$BB" modprobe "$LAUNCH_VM_DISK_FS" 2>/dev/null
  mkdir -p /mnt/disk
  { mkfs -t "$LAUNCH_VM_DISK_FS" -q /dev/vda >/dev/null 2>&1 || mkfs -t "$LAUNCH_VM_DISK_FS" /dev/vda >/dev/null; } \
    && mount /dev/vda /mnt/disk || say "cannot make a $LAUNCH_VM_DISK_FS filesystem on /dev/vda"
fi

if [ -n "${LAUNCH_VM_STDIN:-}" ]; then in=/dev/console; else in=/dev/null; fi
env -i /bin/bash --noprofile --norc "$OUT/cmd" < $in
report $?
