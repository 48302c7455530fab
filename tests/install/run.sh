#!/bin/bash
# tests/install/run.sh BUILD_DIR: `make test-install`. The .deb built from this tree, installed and
# run as a Debian administrator does it, under a real systemd: a minimal Debian 12 made with
# debootstrap (cached in $FLEETBAN_TEST_CACHE, made once), booted with `systemd-nspawn -b` in its
# own network namespace, runs deploy/install-check.sh (docs/OPERATIONS.md's steps) with the
# previous build of the package, then tests/install/checks.sh: upgrade, hardening, reload,
# Fail2Ban both ways, restarts, a relay, purge.
#
# Where this machine cannot boot a container, it says why and ends with a visible SKIPPED line
# (exit 0; FLEETBAN_TEST_INSTALL_REQUIRED=1 makes that a failure).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
cache=${FLEETBAN_TEST_CACHE:-/var/cache/fleetban-test}
rootfs=$cache/bookworm-rootfs
machine=fleetban-test-$$
t0=$(date +%s)

log() { printf '[test-install %3ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
skip() {
    log "SKIPPED: $*"
    echo "test-install: 0 passed, 0 failed, 1 skipped (SKIPPED: $*)"
    [ "${FLEETBAN_TEST_INSTALL_REQUIRED:-0}" = 1 ] && exit 1
    exit 0
}
fail() {
    log "FAILED: $*"
    if [ -n "${leader:-}" ]; then
        echo "--- the services' journal in the container:"
        inside journalctl -u fleetban-aggregator -u fleetban-subscriber -u fleetban-relay -u fail2ban --no-pager -n 60 -o short-monotonic || true
    fi
    echo "test-install: 0 passed, 1 failed"
    exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for tool in debootstrap systemd-nspawn nsenter cpack lintian; do
    command -v "$tool" >/dev/null || skip "$tool is missing (make deps installs it)"
done

# --- the packages: this tree's, and the same tree as the previous version --------------------
pkgdir=$(mktemp -d /tmp/fleetban-test-install.XXXXXX)
work=$pkgdir/container
cleanup() {
    set +e
    if [ "${FLEETBAN_TEST_KEEP:-0}" = 1 ] && [ -n "${leader:-}" ]; then
        log "FLEETBAN_TEST_KEEP=1: the container stays up: nsenter --target $leader --all --root --wd bash;" \
            "then kill $nspawn_pid; umount $work/root; rm -rf $pkgdir"
        return
    fi
    if [ -n "${nspawn_pid:-}" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid"
        for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$nspawn_pid" 2>/dev/null
        wait "$nspawn_pid" 2>/dev/null
    fi
    mountpoint -q "$work/root" && umount "$work/root"
    rm -rf "$pkgdir"
}
trap cleanup EXIT

log "packaging $build"
(cd "$build" && cpack -G DEB -B "$pkgdir/new" >"$pkgdir/cpack-new.log" 2>&1) ||
    { cat "$pkgdir/cpack-new.log"; fail "cpack"; }
(cd "$build" && cpack -G DEB -B "$pkgdir/old" -D CPACK_PACKAGE_VERSION=0.0.9 >"$pkgdir/cpack-old.log" 2>&1) ||
    { cat "$pkgdir/cpack-old.log"; fail "cpack (previous version)"; }
new_deb=$(ls "$pkgdir"/new/fleetban_*.deb)
old_deb=$(ls "$pkgdir"/old/fleetban_*.deb)
log "new: $(basename "$new_deb"), previous: $(basename "$old_deb")"

# --- lintian: no error and no warning (a failure is reported at the end, after the container) ---
lintian_ok=1
log "lintian $(basename "$new_deb")"
lintian --fail-on error,warning --tag-display-limit 0 "$new_deb" || lintian_ok=0

# --- the cached Debian 12 root file system -----------------------------------------------------
# The mirror apt uses on this machine (the first Debian one in its sources).
mirror=$(grep -rhoE '(URIs:|^deb) +https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    grep -oE 'https?://[^ ]*' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
in_rootfs() { chroot "$rootfs" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
if [ ! -x "$rootfs/lib/systemd/systemd" ]; then
    log "making the Debian 12 root file system once: debootstrap from $mirror into $rootfs"
    mkdir -p "$cache"
    rm -rf "$rootfs.tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$rootfs.tmp" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || { tail -n 20 "$cache/debootstrap.log"; fail "debootstrap"; }
    mv "$rootfs.tmp" "$rootfs"
    log "debootstrap done"
fi
# The packages the test installs, fetched into the cache's apt archive with this machine's network,
# so that the container needs none (it has only its own loopback). Quick once they are there.
cp "$new_deb" "$old_deb" "$rootfs/tmp/"
if ! in_rootfs apt-get install -y -q --download-only "/tmp/$(basename "$new_deb")" fail2ban python3-systemd \
    >"$pkgdir/download.log" 2>&1; then
    in_rootfs apt-get update -q >>"$pkgdir/download.log" 2>&1 || true
    in_rootfs apt-get install -y -q --download-only "/tmp/$(basename "$new_deb")" fail2ban python3-systemd \
        >>"$pkgdir/download.log" 2>&1 || { cat "$pkgdir/download.log"; fail "downloading the dependencies"; }
fi
rm -f "$rootfs/tmp/$(basename "$new_deb")" "$rootfs/tmp/$(basename "$old_deb")"

# --- boot a throwaway copy of it ---------------------------------------------------------------
# An overlay keeps the cache as it is; a plain copy where overlays do not work.
mkdir -p "$work/upper" "$work/ovl" "$work/root"
if ! mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$work/upper,workdir=$work/ovl" "$work/root" 2>/dev/null; then
    cp -a "$rootfs/." "$work/root/"
fi
mkdir -p "$work/root/root/fleetban-test"
cp "$new_deb" "$old_deb" "$src/deploy/install-check.sh" "$here/checks.sh" "$work/root/root/fleetban-test/"
echo "$machine" >"$work/root/etc/hostname"

log "booting the container ($machine)"
systemd-nspawn --quiet --boot --directory="$work/root" --machine="$machine" --register=no --keep-unit \
    --private-network --console=passive >"$pkgdir/console.log" 2>&1 </dev/null &
nspawn_pid=$!

# The container's PID 1: the child of systemd-nspawn that runs systemd.
leader=
for _ in $(seq 150); do
    kill -0 "$nspawn_pid" 2>/dev/null || break
    # shellcheck disable=SC2013  # one pid per word
    for child in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
        [ "$(cat /proc/"$child"/comm 2>/dev/null)" = systemd ] && leader=$child
    done
    [ -n "$leader" ] && break
    sleep 0.2
done
if [ -z "$leader" ]; then
    cat "$pkgdir/console.log"
    skip "systemd-nspawn could not boot a container on this machine (its messages are above)"
fi
inside() { nsenter --target "$leader" --all --root --wd env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb "$@"; }
state=
for _ in $(seq 300); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.2
done
case "$state" in
running) ;;
degraded) inside systemctl --failed --no-pager || true ;;
*)
    cat "$pkgdir/console.log"
    skip "the container's systemd did not finish booting (state '$state')"
    ;;
esac
log "booted: systemd $(inside systemctl --version | head -n1 | cut -d' ' -f2), state $state"

# --- the administrator's script, then the checks -----------------------------------------------
rc=0
inside bash -c "cd /root/fleetban-test && bash install-check.sh ./$(basename "$old_deb")" || rc=$?
[ "$rc" = 0 ] || fail "deploy/install-check.sh exited $rc (with $(basename "$old_deb"))"
log "deploy/install-check.sh passed with the previous version"
inside bash /root/fleetban-test/checks.sh "/root/fleetban-test/$(basename "$new_deb")" || rc=$?
[ "$rc" = 0 ] || fail "tests/install/checks.sh exited $rc"
[ "$lintian_ok" = 1 ] || fail "lintian found errors or warnings in $(basename "$new_deb") (above)"
log "all checks passed in $(($(date +%s) - t0)) s"
echo "test-install: 3 passed, 0 failed (lintian, deploy/install-check.sh, tests/install/checks.sh)"
