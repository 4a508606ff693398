#!/usr/bin/env bash
# Installs Photoseek with its test dependencies, lints, and runs the test suite.
# This is the README's test command; CI (.ci/run) calls exactly this.
#
# The suite runs offscreen. Then the GUI tests run once more on a virtual X server (Xvfb, a 1366x768
# screen, Qt's xcb platform), where windows get real native sizes: tests/gui/test_fits_screen.py catches a
# window or dialog that does not fit such a screen, which offscreen hides. The Debian packages for that pass
# (tools/xcb-test-packages.txt) are installed with apt-get when missing. PHOTOSEEK_XCB_TESTS=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch/torchvision are pinned to the builds this project is tested with (they install from local disk on
# the project's build machines); open_clip needs torchvision.
"$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$PY" -m pip install -q -e ".[test]"
"$PY" -m ruff check app tests tools benchmarks
# Types of the Qt-free code (the engine, the library service, the CLI): the config is in pyproject.toml.
"$PY" -m mypy
export QT_QPA_PLATFORM=offscreen
"$PY" -m pytest -q "$@"

if [ "${PHOTOSEEK_XCB_TESTS:-1}" = "0" ]; then
    exit 0
fi

# -- the GUI tests on a virtual X server ------------------------------------------------------------------

install_xcb_packages() {
    local wanted missing=() package
    wanted=$(grep -v '^#' tools/xcb-test-packages.txt)
    for package in $wanted; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    echo "run-tests: installing ${missing[*]} for the GUI tests on Xvfb" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "run-tests: as root, run: apt-get install ${missing[*]}" >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
    install_xcb_packages
elif ! command -v Xvfb >/dev/null; then
    echo "run-tests: no Xvfb and no apt-get to install it; the GUI tests did not run on xcb" >&2
    exit 1
fi

XVFB_DIR=$(mktemp -d)
XVFB_PID=""
stop_xvfb() {
    if [ -n "$XVFB_PID" ]; then
        kill "$XVFB_PID" 2>/dev/null || true
        wait "$XVFB_PID" 2>/dev/null || true
    fi
    rm -rf "$XVFB_DIR"
}
trap stop_xvfb EXIT
# -displayfd: Xvfb takes the first free display number and writes it there once it accepts clients, so
# parallel runs on one machine never collide and nothing waits a guessed time.
mkfifo "$XVFB_DIR/display"
Xvfb -displayfd 3 -screen 0 1366x768x24 -nolisten tcp 3>"$XVFB_DIR/display" 2>"$XVFB_DIR/xvfb.log" &
XVFB_PID=$!
DISPLAY_NUMBER=""
read -r -t 60 DISPLAY_NUMBER <"$XVFB_DIR/display" || true
if [ -z "$DISPLAY_NUMBER" ]; then
    echo "run-tests: Xvfb did not start:" >&2
    cat "$XVFB_DIR/xvfb.log" >&2
    exit 1
fi
export DISPLAY=":$DISPLAY_NUMBER"
export QT_QPA_PLATFORM=xcb
# tests/conftest.py makes every test offscreen unless asked for this platform by name.
export PHOTOSEEK_TEST_QT_PLATFORM=xcb
if ! "$PY" -c "from PySide6.QtWidgets import QApplication; QApplication([])" 2>/dev/null; then
    echo "run-tests: Qt's xcb platform plugin does not load on $DISPLAY; what it misses:" >&2
    QT_DEBUG_PLUGINS=1 "$PY" -c "from PySide6.QtWidgets import QApplication; QApplication([])" 2>&1 |
        grep -iE 'cannot|could not|failed' >&2 || true
    exit 1
fi
echo "run-tests: the GUI tests once more, on Xvfb ($DISPLAY, 1366x768, xcb)" >&2
started=$SECONDS
"$PY" -m pytest -q -p no:cacheprovider tests/gui
echo "run-tests: the GUI tests on Xvfb took $((SECONDS - started)) s" >&2
