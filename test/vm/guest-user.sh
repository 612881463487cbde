# Sourced by both stage-2 scripts (guest-stage2.sh, guest-systemd.sh) from the out share.
# add_test_user: make LAUNCH_TEST_USER exist in the guest and have a home. The guest sees the
# host's /etc, so it normally exists already; otherwise the host's entries that run-in-vm.sh
# copied to the out share are added. Sets uid and gid; returns non-zero when there is no user.
add_test_user() {
  uid=
  gid=
  [ -n "${LAUNCH_TEST_USER:-}" ] || return 1
  if ! id -u "$LAUNCH_TEST_USER" >/dev/null 2>&1; then
    for f in passwd group shadow subuid subgid; do
      [ -s "$OUT/user.$f" ] && cat "$OUT/user.$f" >> /etc/$f
    done
  fi
  if ! uid=$(id -u "$LAUNCH_TEST_USER" 2>/dev/null); then
    say "LAUNCH_TEST_USER=$LAUNCH_TEST_USER does not exist in the guest"
    uid=
    return 1
  fi
  gid=$(id -g "$LAUNCH_TEST_USER")
  home=$(getent passwd "$LAUNCH_TEST_USER" | cut -d: -f6)
  if [ -n "$home" ] && [ ! -d "$home" ]; then mkdir -p "$home" && chown "$uid:$gid" "$home"; fi
  return 0
}
