#!/bin/busybox sh
# Stage 1: /init inside the initramfs built by test/vm/setup.sh.
# Loads the virtio/9p/overlay modules, mounts the host's / (read-only 9p) under
# a tmpfs-backed overlay, mounts the writable `out` share and switch_roots into
# stage 2 (/mnt/out/stage2, copied there by run-in-vm.sh) as PID 1.
# Every failure powers the guest off: qemu then exits 0 = "guest reported nothing".
/bin/busybox --install -s /bin
export PATH=/bin
fail() {
  echo "launch-vm init: $*" >&2
  echo o > /proc/sysrq-trigger 2>/dev/null
  poweroff -f
}
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
for m in $(cat /mods/order); do
  insmod "/mods/$m.ko" || fail "insmod $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /mnt/host \
  || fail "mount 9p hostroot"
mount -t tmpfs -o mode=0755 rw /mnt/rw || fail "mount tmpfs"
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot \
  || fail "mount overlay"
mkdir -p /newroot/mnt/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /newroot/mnt/out || fail "mount 9p out"
for d in proc sys dev; do
  mount --move "/$d" "/newroot/$d" || fail "mount --move /$d"
done
stage2=${run:-/mnt/out/stage2}
[ -e "/newroot$stage2" ] || fail "no $stage2 in the guest"
exec switch_root /newroot /bin/sh "$stage2"
fail "switch_root failed"
