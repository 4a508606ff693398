#!/usr/bin/env bash
# Build the one-folder bundle dist/photoseek/ with PyInstaller (about 10 minutes on 2 cores).
#
#   packaging/build-bundle.sh        # creates build/pkgvenv first if it is missing (packaging/build-env.sh)
#
# The bundle freezes the photoseek *wheel* built from this checkout, so it holds exactly what the wheel
# ships. It ends by running the bundle's own --version and --self-test.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
VENV=${PHOTOSEEK_BUILD_VENV:-build/pkgvenv}
# Absolute, because PyInstaller runs from build/pyinstaller. Made by string, not by `cd`: on a fresh clone
# build/ does not exist yet, and the venv is created below.
case "$VENV" in /*) ;; *) VENV=$REPO/$VENV ;; esac
export PHOTOSEEK_TINY_MODEL_DIR=${PHOTOSEEK_TINY_MODEL_DIR:-$REPO/tests/models/tiny-shapes}
[ -x "$VENV/bin/python" ] || PHOTOSEEK_BUILD_VENV=$VENV bash packaging/build-env.sh

started=$(date +%s)
rm -rf build/wheel
"$VENV/bin/python" -m pip wheel --quiet --no-deps --no-build-isolation -w build/wheel .
"$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall build/wheel/photoseek-*.whl

# Run from build/, never the repository root: there `app` would resolve to the checkout, not the wheel.
mkdir -p build/pyinstaller
(cd build/pyinstaller && "$VENV/bin/pyinstaller" --noconfirm --log-level WARN \
    --distpath "$REPO/dist" --workpath "$REPO/build/pyinstaller/work" "$REPO/packaging/photoseek.spec")
echo "bundle built in $(( $(date +%s) - started )) s: dist/photoseek ($(du -sh dist/photoseek | cut -f1))"

dist/photoseek/photoseek --version
env -u PHOTOSEEK_TINY_MODEL_DIR dist/photoseek/photoseek --self-test
