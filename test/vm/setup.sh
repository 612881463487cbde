#!/bin/bash
# Prepares the cgroup-v2 test guest (see README.md beside this file):
#  - installs qemu-system-x86 (no recommends) and busybox-static if missing;
#  - fetches Debian's kernel (the package linux-image-amd64 depends on) with
#    apt-get download into the cache dir and unpacks it with dpkg -x (never installed);
#  - keeps vmlinuz and the kernel's modules (made usable by busybox depmod);
#  - builds initrd.gz: static busybox, 12 modules, initramfs-init.sh as /init.
# Idempotent: does nothing when the cache matches the kernel and the init script.
#
# Usage: setup.sh [--quick]
#   --quick  trust a complete cache without asking apt whether a newer kernel exists
#            (what run-in-vm.sh uses before every boot).
# Cache: ${LAUNCH_VM_CACHE:-/var/cache/launch-vm}
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${LAUNCH_VM_CACHE:-/var/cache/launch-vm}
QUICK=
[ "${1:-}" = --quick ] && QUICK=1

# insmod order (each module after those in its depends=), see
# shared notes cgroup2-test-vm.md.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p overlay virtio_blk"

log() { echo "setup.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 \
    || { as_root apt-get update -q >&2 && as_root env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -q --no-install-recommends "$@" >&2; }
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# --- host tools --------------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
BUSYBOX=
for b in /usr/bin/busybox /bin/busybox; do
  if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then BUSYBOX=$b; break; fi   # static
done
if [ -z "$BUSYBOX" ]; then apt_install busybox-static; BUSYBOX=/usr/bin/busybox; fi
command -v gzip >/dev/null || die "gzip is missing"

# --- what is built, and from what ---------------------------------------------
INIT="$HERE/initramfs-init.sh"
want_recipe=$( { cat "$INIT"; echo "$MODULES"; } | sha256sum | cut -c1-16)
stamp="$CACHE/stamp"   # "PKG VERSION KVER RECIPE"
have_pkg= have_ver= have_kver= have_recipe=
[ -r "$stamp" ] && read -r have_pkg have_ver have_kver have_recipe < "$stamp" || true
complete() {
  [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initrd.gz" ] && [ -n "$have_kver" ] \
    && [ -d "$CACHE/modules/$have_kver/kernel" ] && [ -e "$CACHE/modules/$have_kver/modules.dep" ]
}
if [ -n "$QUICK" ] && complete && [ "$have_recipe" = "$want_recipe" ]; then
  exit 0
fi

# --- which kernel ------------------------------------------------------------
pkg_of() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
PKG=$(pkg_of)
if [ -z "$PKG" ]; then
  as_root apt-get update -q >&2 || true
  PKG=$(pkg_of)
fi
if [ -z "$PKG" ]; then
  if complete && [ "$have_recipe" = "$want_recipe" ]; then
    log "apt does not know linux-image-amd64; keeping the cached kernel $have_kver"
    exit 0
  fi
  die "cannot find the kernel package linux-image-amd64 depends on (apt-get update?)"
fi
VER=$(apt-cache policy "$PKG" | awk '/Candidate:/{print $2; exit}')
[ -n "$VER" ] && [ "$VER" != "(none)" ] || die "no candidate version for $PKG"

if complete && [ "$have_pkg $have_ver $have_recipe" = "$PKG $VER $want_recipe" ]; then
  log "up to date: $PKG $VER (kernel $have_kver) in $CACHE"
  exit 0
fi

# --- download and unpack ------------------------------------------------------
deb="$CACHE/${PKG}_${VER//:/%3a}_amd64.deb"
if [ ! -s "$deb" ]; then
  log "downloading $PKG $VER"
  (cd "$CACHE" && apt-get download -q "$PKG=$VER" >&2 2> >(grep -v 'unsandboxed as root' >&2))
  [ -s "$deb" ] || deb=$(ls -t "$CACHE/${PKG}_"*.deb 2>/dev/null | head -1)
  [ -s "$deb" ] || die "apt-get download $PKG did not produce a .deb"
fi
# Old kernels' packages are no longer needed.
for f in "$CACHE"/linux-image-*.deb; do [ "$f" = "$deb" ] || rm -f "$f"; done

work="$CACHE/.build"
rm -rf "$work"; mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
log "unpacking $(basename "$deb")"
dpkg -x "$deb" "$work/k"
KVER=$(ls "$work/k/lib/modules")
[ "$(echo "$KVER" | wc -w)" = 1 ] || die "expected one kernel in $deb, found: $KVER"
kmods="$work/k/lib/modules/$KVER"

# --- initramfs ---------------------------------------------------------------
ir="$work/ir"
mkdir -p "$ir"/{bin,dev,proc,sys,mnt/host,mnt/rw,newroot,mods}
cp "$BUSYBOX" "$ir/bin/busybox"
cp "$INIT" "$ir/init"; chmod 755 "$ir/init"
order=
for m in $MODULES; do
  f=$(find "$kmods/kernel" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -1)
  if [ -z "$f" ]; then
    grep -q "/$m.ko\$" "$kmods/modules.builtin" || die "module $m is neither in $PKG nor built in"
    continue   # built into this kernel
  fi
  case "$f" in
    *.xz) xz -dc "$f" > "$ir/mods/$m.ko" ;;
    *.zst) zstd -qdc "$f" > "$ir/mods/$m.ko" ;;
    *) cp "$f" "$ir/mods/$m.ko" ;;
  esac
  order="$order $m"
done
echo $order > "$ir/mods/order"
(cd "$ir" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# --- modules for modprobe inside the guest (bind-mounted on /lib/modules/KVER) --
"$BUSYBOX" depmod -b "$work/k" "$KVER" 2>/dev/null || log "warning: depmod failed; modprobe in the guest will not work"

# --- install into the cache --------------------------------------------------
rm -rf "$CACHE/modules"; mkdir -p "$CACHE/modules"
mv "$kmods" "$CACHE/modules/$KVER"
mv "$work/k/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
mv "$work/initrd.gz" "$CACHE/initrd.gz"
echo "$PKG $VER $KVER $want_recipe" > "$stamp"
log "ready: kernel $KVER ($PKG $VER), $(du -h "$CACHE/initrd.gz" | cut -f1) initrd, in $CACHE"
