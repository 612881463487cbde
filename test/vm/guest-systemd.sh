#!/bin/sh
# Stage 2 with LAUNCH_VM_INIT=systemd: PID 1 of the guest until it execs systemd, run from the
# out share (/mnt/out/stage2) after switch_root into the overlay of the host's /. Prepares
# the guest (modules, the test user), writes a minimal boot target into the (tmpfs, thrown
# away) /etc and execs the host's own systemd as PID 1. systemd mounts cgroup2 itself, starts
# D-Bus, the test user's instance (user@UID.service, with its session bus) when
# LAUNCH_TEST_USER is set, and then the command (/mnt/out/cmd, as written by run-in-vm.sh)
# as launch-vm-cmd.service, which reports its exit status through /mnt/out/rc and
# isa-debug-exit (port 0xf4) and powers off. Nothing else of the host's boot runs: the
# default target wants only that service, journald and D-Bus; DefaultDependencies=no keeps
# sysinit.target and basic.target (udev, tmpfiles, timers...) out of it.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=/mnt/out
BB=$(command -v busybox || echo /bin/busybox)
say() { echo "launch-vm: $*" >&2; }

report() {   # only used when systemd could not be started
  echo "$1" > "$OUT/rc"
  sync
  printf "\\$(printf %o "$(($1 & 255))")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  "$BB" poweroff -f
  echo o > /proc/sysrq-trigger
  sleep 10
}

[ -r "$OUT/guest.env" ] && . "$OUT/guest.env"
SYSTEMD=/lib/systemd/systemd
[ -x "$SYSTEMD" ] || { say "no $SYSTEMD on the host: LAUNCH_VM_INIT=systemd needs systemd installed"; report 125; }

"$BB" hostname launch-vm
echo launch-vm > /etc/hostname
# The kernel's modules (from the cache dir on the host) so modprobe works, as in guest-stage2.sh.
if [ -n "${LAUNCH_VM_KMODS:-}" ] && [ -d "$LAUNCH_VM_KMODS" ]; then
  kv=$(uname -r)
  mkdir -p "/lib/modules/$kv" && mount --bind "$LAUNCH_VM_KMODS" "/lib/modules/$kv"
  if ! [ -x /sbin/modprobe ]; then
    mkdir -p /etc/launch-vm && ln -sf "$BB" /etc/launch-vm/modprobe && echo /etc/launch-vm/modprobe > /proc/sys/kernel/modprobe
  fi
fi

# The unprivileged test user (see guest-stage2.sh); its cgroup subtree comes from systemd
# here: user@UID.service is delegated (pids memory cpu), as on any systemd host.
. "$OUT/guest-user.sh"
add_test_user || true

if [ -b /dev/vda ] && [ -n "${LAUNCH_VM_DISK_FS:-}" ]; then
  "$BB" modprobe "$LAUNCH_VM_DISK_FS" 2>/dev/null
  mkdir -p /mnt/disk
  { mkfs -t "$LAUNCH_VM_DISK_FS" -q /dev/vda >/dev/null 2>&1 || mkfs -t "$LAUNCH_VM_DISK_FS" /dev/vda >/dev/null; } \
    && mount /dev/vda /mnt/disk || say "cannot make a $LAUNCH_VM_DISK_FS filesystem on /dev/vda"
fi

# The host may be a container itself: systemd would then believe it runs in one (docker).
rm -f /.dockerenv /run/.containerenv 2>/dev/null

# --- the units -----------------------------------------------------------------------------
U=/etc/systemd/system
mkdir -p $U /etc/launch-vm
# Units the host enabled must not start: only what launch-vm.target pulls in runs.
rm -rf $U/*.wants $U/*.requires
ln -sf launch-vm.target $U/default.target

# journald: the units' output, for `journalctl` when something fails (about 1 s).
want="systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service dbus.socket dbus.service"
[ -n "$uid" ] && want="$want user@$uid.service"
cat > $U/launch-vm.target <<EOF
[Unit]
Description=run-in-vm: the command only
Wants=launch-vm-cmd.service
AllowIsolate=yes
EOF

if [ -n "${LAUNCH_VM_STDIN:-}" ]; then in=tty-force; else in=null; fi
cat > $U/launch-vm-cmd.service <<EOF
[Unit]
Description=run-in-vm command
DefaultDependencies=no
Wants=$want
After=$want

[Service]
Type=oneshot
ExecStart=/bin/sh /etc/launch-vm/run.sh
StandardInput=$in
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
TimeoutStartSec=infinity
EOF

# D-Bus and the user instance without sysinit.target/basic.target.
for unit in dbus.socket dbus.service user@.service user-runtime-dir@.service; do
  mkdir -p "$U/$unit.d"
  printf '[Unit]\nDefaultDependencies=no\n' > "$U/$unit.d/launch-vm.conf"
done
# systemd-user-runtime-dir asks logind for the runtime directory's size, which would start
# logind (and its dependencies) just for that: make /run/user/UID directly instead.
cat >> $U/user-runtime-dir@.service.d/launch-vm.conf <<'EOF'
[Service]
ExecStart=
ExecStart=/bin/sh -c 'install -d -m 0700 -o %i -g "$$(id -g %i)" /run/user/%i'
ExecStop=
ExecStop=/bin/rm -rf /run/user/%i
EOF
# pam_systemd leaves $XDG_RUNTIME_DIR unset here (without logind), and systemd --user then
# exits: "Trying to run as user instance, but $XDG_RUNTIME_DIR is not set". Set it directly.
printf '[Service]\nEnvironment=XDG_RUNTIME_DIR=/run/user/%%i\n' >> $U/user@.service.d/launch-vm.conf
# user@.service uses the PAM service systemd-user, which Debian ships but this host lacks:
# the stack Debian installs.
if [ ! -e /etc/pam.d/systemd-user ]; then
  cat > /etc/pam.d/systemd-user <<'EOF'
account  include  common-account
session  required pam_limits.so
session  include  common-session-noninteractive
session  optional pam_systemd.so
EOF
fi

# The command's runner: the environment run-in-vm.sh wrote, CMD's status to the host.
cat > /etc/launch-vm/run.sh <<EOF
#!/bin/sh
OUT=$OUT
BB=$BB
UID_=$uid
EOF
cat >> /etc/launch-vm/run.sh <<'EOF'
stty -onlcr < /dev/console 2>/dev/null   # systemd reset the console; a host terminal adds \r
say() { echo "launch-vm: $*" >&2; }
start=$(cut -d' ' -f1 /proc/uptime)
# The user's instance answers on its bus once its dbus.service is up (socket-activated on
# the first connection): wait for it, so the tests find it as on a logged-in host.
if [ -n "$UID_" ]; then
  i=0
  until setpriv --reuid="$UID_" --regid="$(id -g "$UID_")" --init-groups \
      env XDG_RUNTIME_DIR=/run/user/$UID_ DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$UID_/bus \
      busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.DBus.Peer Ping >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -ge 120 ] || [ "$(systemctl is-active user@$UID_.service)" != active ]; then
      say "the user instance of uid $UID_ is not answering on its bus:"
      SYSTEMD_COLORS=0 systemctl status --no-pager --full user@$UID_.service >&2
      journalctl -b --no-pager -o short-monotonic -n 40 >&2
      break
    fi
    sleep 1
  done
fi
if [ -n "$UID_" ]; then
  echo "launch-vm: systemd up after ${start}s of uptime, the user instance of uid $UID_ after $(cut -d' ' -f1 /proc/uptime)s" >&2
else
  echo "launch-vm: systemd up after ${start}s of uptime" >&2
fi
env -i /bin/bash --noprofile --norc "$OUT/cmd"
rc=$?
echo "$rc" > "$OUT/rc"
sync
printf "\\$(printf %o "$((rc & 255))")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
"$BB" poweroff -f
EOF

# Only failures on the console (it is CMD's output): under emulation jobs are slow enough
# for systemd's "auto" status lines to appear.
args=--show-status=error
[ -n "${LAUNCH_VM_DEBUG:-}" ] && args="--log-target=console --show-status=yes"
# exec keeps PID 1: systemd refuses to be a system manager otherwise.
exec "$SYSTEMD" $args
say "cannot exec $SYSTEMD"
report 125
