#!/usr/bin/env bash
# Install the .deb into a clean Debian made with debootstrap, run its self-test, uninstall, check it is gone.
#
#   sudo packaging/linux/test-deb-clean-root.sh [dist/photoseek_X_amd64.deb]
#
# Needs root (debootstrap, chroot, mounts) and Debian's mirror. The minimal root (no Python, no Qt, no X)
# is made once in $PHOTOSEEK_CLEAN_ROOT (default /tmp/photoseek-clean-root) and reused as a pristine copy.
# Checks: `apt-get install ./photoseek_*.deb` pulls in only distribution packages; every bundled library
# resolves (ldd); `photoseek --version` and `photoseek --self-test` pass as an ordinary user;
# `apt-get remove --purge` leaves nothing of the package behind. Takes about a minute plus downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEB=$(realpath "${1:-$(ls -t dist/photoseek_*.deb | head -1)}")
BASE=${PHOTOSEEK_CLEAN_ROOT:-/tmp/photoseek-clean-root}
SUITE=${PHOTOSEEK_DEBIAN_SUITE:-bookworm}
MIRROR=${PHOTOSEEK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOT="$BASE.run"

step() { printf '\n== %s\n' "$*"; }
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

if [ ! -x "$BASE/usr/bin/apt-get" ]; then
  step "debootstrap $SUITE (minbase) into $BASE"
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  started=$(date +%s)
  debootstrap --variant=minbase "$SUITE" "$BASE" "$MIRROR" > "$BASE.debootstrap.log" 2>&1 \
    || { tail -20 "$BASE.debootstrap.log"; exit 1; }
  echo "made in $(( $(date +%s) - started )) s"
fi

cleanup() {
  for mount in proc dev/pts dev; do umount "$ROOT/$mount" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp "$DEB" "$ROOT/tmp/"
DEB_IN_ROOT=/tmp/$(basename "$DEB")

step "clean root: $(in_root sh -c '. /etc/os-release; echo $PRETTY_NAME'); python3: $(in_root sh -c 'command -v python3 || echo none')"
in_root apt-get update -q > /dev/null
before=$(in_root dpkg-query -W -f '${Package}\n' | sort)

step "apt-get install ./$(basename "$DEB")"
started=$(date +%s)
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$DEB_IN_ROOT" \
  | tail -3
echo "installed in $(( $(date +%s) - started )) s; $(in_root dpkg-query -W -f '${Installed-Size}' photoseek) KiB"
added=$(comm -13 <(echo "$before") <(in_root dpkg-query -W -f '${Package}\n' | sort) | grep -vx photoseek || true)
echo "pulled in $(echo "$added" | grep -c . || true) distribution packages"

step "every bundled library resolves"
missing=$(in_root sh -c 'find /opt/photoseek -type f -name "*.so*" -exec ldd {} + 2>/dev/null | grep "not found" | sort -u' || true)
if [ -n "$missing" ]; then echo "$missing"; exit 1; fi
echo ok

step "photoseek --version and --self-test as an ordinary user"
in_root useradd --create-home tester
in_root su tester -c 'photoseek --version'
started=$(date +%s)
in_root su tester -c 'cd ~ && QT_QPA_PLATFORM=offscreen photoseek --self-test'
echo "self-test took $(( $(date +%s) - started )) s"
for dir in .local/share/photoseek .cache/photoseek .config/photoseek; do
  [ ! -e "$ROOT/home/tester/$dir" ] || { echo "the self-test wrote to the user's ~/$dir"; exit 1; }
done
echo "nothing written to the user's Photoseek folders"

step "apt-get remove --purge photoseek"
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -q photoseek | tail -1
leftovers=""
for path in /opt/photoseek /usr/bin/photoseek /usr/share/applications/io.github.photoseek.Photoseek.desktop \
            /usr/share/metainfo/io.github.photoseek.Photoseek.metainfo.xml /usr/share/doc/photoseek; do
  [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ] && leftovers="$leftovers $path"
done
if [ -d "$ROOT/usr/share/icons" ]; then
  leftovers="$leftovers $(cd "$ROOT" && find usr/share/icons -name 'io.github.photoseek.Photoseek*' | tr '\n' ' ')"
fi
if [ -n "${leftovers// /}" ]; then echo "left behind:$leftovers"; exit 1; fi
in_root dpkg-query -W photoseek >/dev/null 2>&1 && { echo "dpkg still lists photoseek"; exit 1; }
echo "removed cleanly: nothing of photoseek left"
step "PASSED"
