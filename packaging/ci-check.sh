#!/usr/bin/env bash
# CI's packaging check (.ci/run calls it): about 5 minutes on 2 shared cores (30 s without the bundle), plus
# 1-2 minutes the first time to create the build venv (build/pkgvenv). Fails on the first problem. Run it with
# the Python that has Photoseek's dependencies ($PYTHON, default python3: an activated venv's works).
#
#   bash packaging/ci-check.sh           # icons, resources, installed wheel + self-test, frozen bundle + self-test
#   PHOTOSEEK_CI_BUNDLE=0 bash packaging/ci-check.sh   # skip the bundle (most of the time)
#
# 1. the generated icons match their SVG masters; the desktop entry and metainfo validate (when the
#    freedesktop validators are installed);
# 2. the wheel built from this checkout, installed into a fresh virtual environment, finds its resources
#    through importlib.resources and passes the self-test (torch etc. come from $PY's site-packages);
# 3. the PyInstaller spec analyses and freezes the app with a CPU torch, and the frozen
#    `photoseek --version` and `photoseek --self-test` pass (packaging/build-bundle.sh).
# The .deb build and its clean-root install test are separate, slower commands: docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3}
export PHOTOSEEK_TINY_MODEL_DIR=${PHOTOSEEK_TINY_MODEL_DIR:-$REPO/tests/models/tiny-shapes}
export QT_QPA_PLATFORM=offscreen
started=$(date +%s)
step() { printf '\n== packaging check: %s (%d s)\n' "$*" "$(( $(date +%s) - started ))"; }

step "icons, desktop entry, metainfo"
"$PY" tools/make_icons.py --check
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate resources/io.github.photoseek.Photoseek.desktop
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net resources/io.github.photoseek.Photoseek.metainfo.xml
fi

step "wheel installed in a clean virtual environment"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w "$work/wheel" .
# The dependencies (torch etc.) come from $PY's own site-packages, whether $PY is a virtual environment or
# the system Python: `venv --system-site-packages` would reach only the *base* interpreter's. They are
# listed as plain paths in a .pth file, so the .pth files in those folders are not run, and an editable
# install of this checkout there cannot shadow the wheel.
"$PY" -m venv "$work/venv"
venv_site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
"$PY" - > "$venv_site/photoseek-ci-deps.pth" <<'PY'
import os, sys
for path in sys.path:
    if os.path.basename(path) in ("site-packages", "dist-packages") and os.path.isdir(path):
        print(path)
PY
"$work/venv/bin/python" -m pip install --quiet --no-deps "$work"/wheel/photoseek-*.whl
(
  cd "$work"   # not the checkout: `app` must come from the installed wheel
  "$work/venv/bin/python" - <<'PY'
import sys
from pathlib import Path
import app
from app import resources
installed = Path(sys.prefix)
assert installed in Path(app.__file__).resolve().parents, f"app imported from {app.__file__}"
root = Path(str(resources.resource_root()))
assert installed in root.resolve().parents, f"resources read from {root}"
print(f"app and its resources come from the wheel: {root}")
PY
  "$work/venv/bin/photoseek" --version
  "$work/venv/bin/python" -c "import sys; from app.selftest import run_self_test; sys.exit(run_self_test())"
)

if [ "${PHOTOSEEK_CI_BUNDLE:-1}" != 0 ]; then
  step "frozen bundle (PyInstaller) and its self-test"
  bash packaging/build-bundle.sh
fi
step "passed"
