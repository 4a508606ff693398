#!/usr/bin/env bash
# Install the .deb into a clean Debian made with debootstrap, run it, uninstall, check it is gone.
#
#   sudo packaging/linux/test-deb-clean-root.sh [dist/photoseek_X_amd64.deb]
#
# Needs root (debootstrap, chroot, mounts) and a Debian mirror: the one this machine's apt uses, or
# $PHOTOSEEK_DEBIAN_MIRROR. The minimal root (no Python, no Qt, no X) is made once in
# $PHOTOSEEK_CLEAN_ROOT (default /tmp/photoseek-clean-root) and reused as a pristine copy.
# Checks: `apt-get install ./photoseek_*.deb` pulls in only distribution packages; every bundled library
# resolves (ldd); `photoseek --version` and `photoseek --self-test` pass as an ordinary user; the installed
# app opens its real window on Xvfb through Qt's xcb platform, using only libraries its Depends brought
# (screenshot: $PHOTOSEEK_SCREENSHOT, default docs/screenshots/deb-clean-root.png);
# `apt-get remove --purge` leaves nothing of the package behind. See docs/packaging.md for timings.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEB=$(realpath "${1:-$(ls -t dist/photoseek_*.deb | head -1)}")
BASE=${PHOTOSEEK_CLEAN_ROOT:-/tmp/photoseek-clean-root}
SUITE=${PHOTOSEEK_DEBIAN_SUITE:-bookworm}
SCREENSHOT=${PHOTOSEEK_SCREENSHOT:-docs/screenshots/deb-clean-root.png}
WINDOW_TIMEOUT=90   # seconds for the window to appear and draw; a cold start here takes well under that
ROOT="$BASE.run"

step() { printf '\n== %s\n' "$*"; }
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
packages() { in_root dpkg-query -W -f '${Package}\n' | sort; }

# "URI SUITE" for every `deb` source in apt's configuration, deb822 (*.sources) and one-line (*.list).
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Stanzas are separated by blank lines; a value may go on over lines that start with a space.
    awk 'BEGIN { RS = ""; FS = "\n" } {
      types = uris = suites = ""; enabled = 1; key = ""
      for (i = 1; i <= NF; i++) {
        line = $i
        if (line ~ /^#/) continue
        if (line ~ /^[^ \t#][^:]*:/) {
          key = tolower(substr(line, 1, index(line, ":") - 1)); line = substr(line, index(line, ":") + 1)
        }
        if (key == "types") types = types " " line
        else if (key == "uris") uris = uris " " line
        else if (key == "suites") suites = suites " " line
        else if (key == "enabled" && line ~ /no/) enabled = 0
      }
      if (!enabled || types !~ /(^|[ \t])deb([ \t]|$)/) next
      nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
      for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) if (u[a] != "" && s[b] != "") print u[a], s[b]
    }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { sub(/^[ \t]*deb[ \t]+/, ""); sub(/^\[[^]]*\][ \t]*/, ""); print $1, $2 }' "$f"
  done
}

# The machine's own mirror is the one known to be reachable here (a local mirror, a proxy, a snapshot).
# Prefer one that serves $SUITE, then any Debian archive (…/debian, it carries every suite).
debian_mirror() {
  local sources mirror
  sources=$(apt_sources | grep -E '^(https?|file):' || true)
  mirror=$(awk -v suite="$SUITE" '$2 == suite { print $1; exit }' <<< "$sources")
  [ -n "$mirror" ] || mirror=$(awk '$1 ~ /\/debian\/?$/ { print $1; exit }' <<< "$sources")
  echo "${mirror:-http://deb.debian.org/debian}"
}
MIRROR=${PHOTOSEEK_DEBIAN_MIRROR:-$(debian_mirror)}

for tool in debootstrap:debootstrap xwdtopnm:netpbm; do
  command -v "${tool%%:*}" >/dev/null || apt-get install -y -q "${tool#*:}"
done

if [ ! -x "$BASE/usr/bin/apt-get" ]; then
  step "debootstrap $SUITE (minbase) into $BASE from $MIRROR"
  started=$(date +%s)
  # A minbase root has no CA certificates, so its apt could not check an https mirror.
  include=()
  [[ $MIRROR == https:* ]] && include=(--include=ca-certificates)
  debootstrap --variant=minbase "${include[@]}" "$SUITE" "$BASE" "$MIRROR" > "$BASE.debootstrap.log" 2>&1 \
    || { tail -20 "$BASE.debootstrap.log"; exit 1; }
  echo "made in $(( $(date +%s) - started )) s"
fi

xvfb_pid="" app_pid=""
stop() {  # PID [NAME]: SIGTERM, up to 10 s to exit, then SIGKILL
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
  echo "${2:-$1} ignored SIGTERM; killing it"
  kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
  stop "$app_pid" photoseek
  stop "$xvfb_pid" Xvfb
  for mount in proc dev/pts dev; do umount "$ROOT/$mount" 2>/dev/null || true; done
}
trap cleanup EXIT
rm -rf "$ROOT"
cp -a "$BASE" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Written every run, so that the mirror chosen now applies to a root made earlier from another one.
echo "deb $MIRROR $SUITE main" > "$ROOT/etc/apt/sources.list"
cp "$DEB" "$ROOT/tmp/"
DEB_IN_ROOT=/tmp/$(basename "$DEB")

step "clean root: $(in_root sh -c '. /etc/os-release; echo $PRETTY_NAME'); python3: $(in_root sh -c 'command -v python3 || echo none'); mirror: $MIRROR"
in_root apt-get update -q > /dev/null
before=$(packages)

step "apt-get install ./$(basename "$DEB")"
started=$(date +%s)
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$DEB_IN_ROOT" \
  | tail -3
echo "installed in $(( $(date +%s) - started )) s; $(in_root dpkg-query -W -f '${Installed-Size}' photoseek) KiB"
with_app=$(packages)
added=$(comm -13 <(echo "$before") <(echo "$with_app") | grep -vx photoseek || true)
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

step "the installed app opens its window (Xvfb, Qt's xcb platform) as an ordinary user"
window_step=$(date +%s)
# Test tools only, and only now: the ldd check and the package count above saw the app's Depends alone.
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends xvfb x11-utils \
  > /dev/null
tool_packages=$(comm -13 <(echo "$with_app") <(packages))
echo "test tools xvfb and x11-utils added $(echo "$tool_packages" | grep -c .) packages"
mkdir -p "$ROOT/tmp/xvfb"
# A chroot shares the host's abstract X sockets, so a fixed :99 could meet an X server running out there
# (the GUI tests use one): -displayfd lets Xvfb take a free number and say which, once it accepts clients.
# -fbdir keeps the screen in an XWD file the host reads; -br makes the root black, so an undrawn window
# cannot pass for a drawn one; -nocursor keeps the pointer out of the screenshot.
# Every process here writes its own PID first: $! would be the subshell around chroot, not the process.
in_root sh -c 'echo $$ > /tmp/xvfb.pid; exec Xvfb -displayfd 3 -screen 0 1366x768x24 -fbdir /tmp/xvfb \
  -nolisten tcp -br -nocursor 3> /tmp/xvfb.display' > "$ROOT/tmp/xvfb.log" 2>&1 &
launcher=$!
deadline=$(( $(date +%s) + WINDOW_TIMEOUT ))
until [ -s "$ROOT/tmp/xvfb.display" ]; do
  kill -0 "$launcher" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ] \
    || { echo "Xvfb did not start:"; tail -20 "$ROOT/tmp/xvfb.log"; exit 1; }
  sleep 0.2
done
xvfb_pid=$(cat "$ROOT/tmp/xvfb.pid")
display=":$(cat "$ROOT/tmp/xvfb.display")"
started=$(date +%s)
# env -i in in_root leaves QT_QPA_PLATFORM unset: Qt picks xcb from DISPLAY, as on a desktop.
in_root su tester -c "cd ~ && echo \$\$ > /tmp/photoseek.pid && DISPLAY=$display exec photoseek" \
  > "$ROOT/tmp/photoseek.log" 2>&1 &
launcher=$!
app_fail() { echo "$1; its output:"; tail -30 "$ROOT/tmp/photoseek.log"; exit 1; }
until [ -s "$ROOT/tmp/photoseek.pid" ]; do
  kill -0 "$launcher" 2>/dev/null || app_fail "su tester did not start photoseek"
  sleep 0.2
done
app_pid=$(cat "$ROOT/tmp/photoseek.pid")
until in_root xwininfo -display "$display" -name Photoseek 2>/dev/null | grep -q 'Map State: IsViewable'; do
  kill -0 "$app_pid" 2>/dev/null || app_fail "photoseek exited before its window appeared"
  [ "$(date +%s)" -lt "$deadline" ] || app_fail "no window titled Photoseek after $WINDOW_TIMEOUT s"
  sleep 1
done
echo "window mapped $(( $(date +%s) - started )) s after the start, on Xvfb $display"
geometry=$(in_root xwininfo -display "$display" -name Photoseek)
field() { awk -F: -v name="$1" '$1 ~ name { gsub(/ /, "", $2); print $2 }' <<< "$geometry"; }
x=$(field 'Absolute upper-left X') y=$(field 'Absolute upper-left Y') w=$(field 'Width') h=$(field 'Height')
echo "window: ${w}x${h} at +$x+$y on a 1366x768 screen"

# Mapped is not yet drawn: poll until the window's part of the screen holds more than a few colours
# (text, icons, frames), where an undrawn one is a single flat colour.
shot=$ROOT/tmp/window.ppm   # beside the rest of this run, for a look when it fails
colours=0
while :; do
  xwdtopnm "$ROOT/tmp/xvfb/Xvfb_screen0" 2>/dev/null \
    | pamcut -left "$x" -top "$y" -width "$w" -height "$h" -pad > "$shot"
  colours=$(ppmhist -noheader "$shot" | grep -c .)
  [ "$colours" -le 16 ] || break
  kill -0 "$app_pid" 2>/dev/null || app_fail "photoseek exited before it drew its window"
  [ "$(date +%s)" -lt "$deadline" ] \
    || app_fail "the window is still blank ($colours colours) after $WINDOW_TIMEOUT s"
  sleep 1
done
mkdir -p "$(dirname "$SCREENSHOT")"
pnmtopng -compression 9 "$shot" > "$SCREENSHOT" 2>/dev/null
echo "window drawn $(( $(date +%s) - started )) s after the start ($colours colours): screenshot $SCREENSHOT"

# The tools above brought libraries of their own. Every system library the running window mapped must
# belong to a package that was already there with the app alone, else Depends is short of it.
libs=$(in_root sh -c "awk '{ print \$6 }' /proc/$app_pid/maps | grep '\.so' | grep -v '^/opt/photoseek/'" \
  | sort -u)
grep -q '/libxcb\.so' <<< "$libs" || { echo "PID $app_pid has no libxcb mapped: not the app?"; exit 1; }
# By file name: with merged /usr the process maps /usr/lib/..., where dpkg may have recorded /lib/...
mapfile -t patterns < <(for lib in $libs; do echo "*/${lib##*/}"; done)
owners=$(in_root dpkg-query -S "${patterns[@]}" 2>/dev/null | grep -v '^diversion' | cut -d: -f1 \
  | tr ', ' '\n\n' | grep . | sort -u)
borrowed=$(comm -12 <(echo "$owners") <(echo "$tool_packages"))
if [ -n "$borrowed" ]; then
  echo "the window used libraries that only the test tools installed, from: $(echo $borrowed)"  # one line
  echo "(the .deb's Depends lacks them)"
  exit 1
fi
echo "its $(echo "$libs" | grep -c .) system libraries come from $(echo "$owners" | grep -c .) packages," \
     "all there before the test tools"
stop "$app_pid" photoseek
stop "$xvfb_pid" Xvfb
wait 2>/dev/null || true
app_pid="" xvfb_pid=""
echo "window step took $(( $(date +%s) - window_step )) s"

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
