#!/usr/bin/env bash
# Installs Photoseek with its test dependencies, lints, and runs the test suite.
# This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# torch/torchvision are pinned to the builds this project is tested with (they install from local disk on
# the project's build machines); open_clip needs torchvision.
"$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$PY" -m pip install -q -e ".[test]"
"$PY" -m ruff check app tests tools benchmarks
export QT_QPA_PLATFORM=offscreen
"$PY" -m pytest -q "$@"
