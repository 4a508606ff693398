#!/usr/bin/env bash
# Create the virtual environment the bundle is frozen from (default build/pkgvenv, or $PHOTOSEEK_BUILD_VENV).
#
#   packaging/build-env.sh           # torch: the best CPU build this machine can install (see below)
#   packaging/build-env.sh --release # torch + torchvision CPU builds from PyTorch's CPU index (release machines)
#
# Installers carry a CPU-only torch: ~190 MB of wheel instead of ~3.5 GB of CUDA libraries users without
# an NVIDIA GPU could not use. With --release both torch and torchvision come from PyTorch's CPU index and
# match. Without it (machines that reach only PyPI), torch is the local 2.13.0+cpu wheel and torchvision
# PyPI's 0.28.0, whose compiled ops need CUDA torch: the spec then leaves those ops out (see
# packaging/hooks/rthook_torchvision_ops.py). open_clip uses only torchvision's Python image transforms.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PHOTOSEEK_BUILD_VENV:-build/pkgvenv}
PY=${PYTHON:-python3}
TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

mode=local
case "${1:-}" in
  --release) mode=release ;;
  "") ;;
  *) echo "usage: $0 [--release]" >&2; exit 2 ;;
esac

"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ "$mode" = release ]; then
  # PyTorch's own instructions: --index-url, the index mirrors torch's dependencies. Linux and Windows
  # wheels there are tagged +cpu; macOS wheels (CPU and Apple GPU) carry no tag.
  "${PIP[@]}" --index-url "$CPU_INDEX" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
else
  "${PIP[@]}" "torch==$TORCH_VERSION+cpu"
  # --no-deps: PyPI's torchvision asks for torch==2.13.0, which the +cpu build already is, but pip would
  # otherwise consider PyPI's CUDA torch too.
  "${PIP[@]}" --no-deps "torchvision==$TORCHVISION_VERSION"
fi
# The constraint keeps every later install from swapping torch/torchvision for another build.
constraints="$VENV/photoseek-torch-constraints.txt"
printf 'torch==%s\ntorchvision==%s\n' "$TORCH_VERSION" "$TORCHVISION_VERSION" > "$constraints"
"${PIP[@]}" -c "$constraints" -r packaging/requirements-bundle.txt
"$VENV/bin/python" - <<'PY'
import importlib.util, pathlib
version = (pathlib.Path(importlib.util.find_spec("torch").origin).parent / "version.py").read_text()
assert "cuda: Optional[str] = None" in version or "cuda = None" in version, "torch is not a CPU build"
print("build environment ready: CPU torch", version.split("__version__ = ")[1].split()[0])
PY
