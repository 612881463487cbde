#!/bin/bash
# run-in-vm.sh CMD [ARG...]: run CMD inside a QEMU guest whose kernel runs
# cgroup v2 only, with the host's / as its root (read-only 9p + tmpfs overlay:
# writes are thrown away), in the caller's cwd, as root. Prints the guest console
# (CMD's stdout and stderr) on stdout and exits with CMD's exit status;
# 125 when the guest reported no status (boot failure, panic, timeout).
# See README.md beside this file. Settings (environment):
#   LAUNCH_VM_CACHE    kernel/initrd cache (default /var/cache/launch-vm)
#   LAUNCH_VM_TIMEOUT  seconds before qemu is killed (default 1800)
#   LAUNCH_VM_MEM      guest memory (default 2G)      LAUNCH_VM_CPUS  vCPUs (default: host's)
#   LAUNCH_VM_ACCEL    kvm | tcg (default: kvm only with vmx/svm and no kvm_pvm)
#   LAUNCH_VM_DISK     size of the sparse virtio disk /dev/vda (default 1G; 0 = none)
#   LAUNCH_VM_DISK_FS  e.g. ext4: make that filesystem on /dev/vda, mount it at /mnt/disk
#   LAUNCH_VM_OUT      host dir shared writable at /mnt/out (default: a temp dir, removed)
#   LAUNCH_VM_ENV      extra variable names to pass to CMD (space-separated)
#   LAUNCH_VM_DEBUG=1  show kernel messages and qemu's command line
#   LAUNCH_VM_INIT     systemd: boot the host's systemd as PID 1 (D-Bus, and the user
#                      instance of LAUNCH_TEST_USER) and run CMD as a service; see README.md
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LAUNCH_VM_CACHE:-/var/cache/launch-vm}
export LAUNCH_VM_CACHE=$CACHE
say() { echo "run-in-vm: $*" >&2; }

if [ $# = 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi

bash "$HERE/setup.sh" --quick || { say "setup.sh failed"; exit 125; }
KVER=$(awk '{print $3}' "$CACHE/stamp")
command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 missing"; exit 125; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/launch-vm.XXXXXX") || exit 125
trap 'rm -rf "$tmp"' EXIT
trap 'exit 125' INT TERM HUP   # runs the EXIT trap too
out=${LAUNCH_VM_OUT:-$tmp/out}
mkdir -p "$out" && out=$(cd "$out" && pwd)
chmod 1777 "$out"    # the guest's unprivileged user may write results too
rm -f "$out/rc" "$out/cmd" "$out/guest.env" "$out/stage2" "$out/guest-user.sh" "$out"/user.*
cp "$HERE/guest-user.sh" "$out/guest-user.sh"
case ${LAUNCH_VM_INIT:-} in
  '') cp "$HERE/guest-stage2.sh" "$out/stage2" ;;
  systemd) cp "$HERE/guest-systemd.sh" "$out/stage2" ;;
  *) say "LAUNCH_VM_INIT=${LAUNCH_VM_INIT}: expected systemd or nothing"; exit 125 ;;
esac

sq() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }   # POSIX sh single quoting

# What stage 2 needs (read by /bin/sh in the guest).
{
  echo "LAUNCH_VM_KMODS=$(sq "$CACHE/modules/$KVER")"
  echo "LAUNCH_TEST_USER=$(sq "${LAUNCH_TEST_USER:-}")"
  echo "LAUNCH_VM_DISK_FS=$(sq "${LAUNCH_VM_DISK_FS:-}")"
  [ -t 0 ] && echo "LAUNCH_VM_STDIN=1"
  [ -n "${LAUNCH_VM_DEBUG:-}" ] && echo "LAUNCH_VM_DEBUG=1"
} > "$out/guest.env"
if [ -n "${LAUNCH_TEST_USER:-}" ]; then
  u=$LAUNCH_TEST_USER
  if pw=$(getent passwd "$u"); then
    echo "$pw" > "$out/user.passwd"
    getent group "$(echo "$pw" | cut -d: -f4)" > "$out/user.group" || true
    grep -h "^$u:" /etc/subuid > "$out/user.subuid" 2>/dev/null || true
    grep -h "^$u:" /etc/subgid > "$out/user.subgid" 2>/dev/null || true
  else
    say "warning: LAUNCH_TEST_USER=$u does not exist on the host"
  fi
fi

# The command, in the caller's cwd, with the variables that matter (bash in the guest).
names="PATH HOME USER LOGNAME CI TERM LANG LC_ALL LANGUAGE TZ NODE_OPTIONS NODE_ENV ${LAUNCH_VM_ENV:-}"
names="$names $(compgen -e | grep -E '^LAUNCH_' | grep -vE '^LAUNCH_VM_' | tr '\n' ' ')"
{
  printf 'cd %q || exit 125\n' "$PWD"
  for v in $names; do
    [ -n "${!v+set}" ] && printf 'export %s=%q\n' "$v" "${!v}"
  done
  echo 'export LAUNCH_IN_VM=1 LAUNCH_VM_OUT=/mnt/out'
  printf 'exec'; printf ' %q' "$@"; echo
} > "$out/cmd"

# Accelerator: KVM only with real VMX/SVM (a PVM /dev/kvm hangs the stock kernel).
accel=${LAUNCH_VM_ACCEL:-}
if [ -z "$accel" ]; then
  if grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -e /sys/module/kvm_pvm ] && [ -w /dev/kvm ]; then
    accel=kvm
  else
    accel=tcg
  fi
fi
case $accel in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  *) accel_args=(-accel tcg,thread=multi -cpu max) ;;
esac

append="console=ttyS0 panic=-1 mitigations=off"
if [ -n "${LAUNCH_VM_DEBUG:-}" ]; then append="$append earlyprintk=serial,ttyS0"
else append="$append quiet loglevel=1"; fi

disk_args=()
disk=${LAUNCH_VM_DISK:-1G}
if [ "$disk" != 0 ]; then
  truncate -s "$disk" "$tmp/disk.img" || exit 125
  disk_args=(-drive "file=$tmp/disk.img,format=raw,if=virtio")
fi
bios_args=()
[ -e /usr/share/qemu/qboot.rom ] && bios_args=(-bios /usr/share/qemu/qboot.rom)

qemu=(qemu-system-x86_64 "${accel_args[@]}" -smp "${LAUNCH_VM_CPUS:-$(nproc)}" -m "${LAUNCH_VM_MEM:-2G}"
  -display none -no-reboot -nic none -monitor none
  -chardev stdio,id=con,signal=on -serial chardev:con
  "${bios_args[@]}" -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.gz" -append "$append"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$out,mount_tag=out,security_model=none"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 "${disk_args[@]}")
[ -n "${LAUNCH_VM_DEBUG:-}" ] && say "${qemu[*]}"

[ -e /proc/$$/fd/0 ] || exec </dev/null   # qemu's stdio chardev needs an open stdin
start=$(date +%s.%N)
# On a terminal, timeout must leave qemu in the foreground process group, or
# qemu is stopped by SIGTTOU when it sets the terminal up.
fg=(); { [ -t 0 ] || [ -t 1 ] || [ -t 2 ]; } && fg=(--foreground)
timeout "${fg[@]}" -k 10 "${LAUNCH_VM_TIMEOUT:-1800}" "${qemu[@]}"
q=$?
secs=$(echo "$(date +%s.%N) $start" | awk '{printf "%.1f", $1 - $2}')

# Decode: the rc file is exact; isa-debug-exit gives (rc << 1) | 1 (low 7 bits only).
if [ -s "$out/rc" ] && rc=$(head -c 8 "$out/rc" | tr -dc 0-9) && [ -n "$rc" ]; then
  :
elif [ $((q & 1)) = 1 ] && [ "$q" != 1 ] && [ "$q" != 137 ]; then
  # (qemu's own errors also exit 1, so 1 counts only together with the rc file)
  rc=$((q >> 1))
else
  case $q in
    124|137) say "timed out after ${LAUNCH_VM_TIMEOUT:-1800}s" ;;
    0) say "the guest powered off without reporting a status (boot failure or panic; try LAUNCH_VM_DEBUG=1)" ;;
    *) say "qemu failed (exit $q)" ;;
  esac
  rc=125
fi
say "exit $rc after ${secs}s ($accel, kernel $KVER)"
exit "$rc"
