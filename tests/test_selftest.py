"""``photoseek --self-test``: passes on a working install, and says what broke when something is broken.

Run as a separate process through the bundle's entry point, the way the installed app runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.engine.models import tiny_model_dir

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "packaging" / "photoseek_entry.py"
TINY_MODEL = tiny_model_dir()  # tests/models/tiny-shapes unless PHOTOSEEK_TINY_MODEL_DIR says otherwise

pytestmark = pytest.mark.slow


def run_self_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PHOTOSEEK_TINY_MODEL_DIR": str(TINY_MODEL), **env}
    return subprocess.run(
        [sys.executable, str(ENTRY), "--self-test"],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300,
    )


def test_self_test_passes_and_leaves_the_users_library_alone(tmp_path: Path, photoseek_dirs: Path) -> None:
    result = run_self_test(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("resources", "search engine", "desktop (Qt offscreen)"):
        assert f"ok      {step}" in result.stdout
    assert "6 text, 1 id and 1 image query ranked right" in result.stdout
    assert result.stdout.rstrip().endswith("self-test passed")
    # PHOTOSEEK_DATA_DIR (the "user's library" here) was never created: the test used its own temp dir.
    assert not photoseek_dirs.exists()
    assert not any(tmp_path.iterdir()), "the self-test left files in the working directory"


def test_missing_model_fails_with_a_message_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()

    result = run_self_test(tmp_path, PHOTOSEEK_TINY_MODEL_DIR=str(empty))

    assert result.returncode == 1
    assert f"the tiny test model is not installed in {empty}" in result.stderr
    assert "self-test FAILED: 1 of 4 checks failed" in result.stderr
    assert "ok      desktop (Qt offscreen)" in result.stdout  # the other checks still ran


def test_a_model_that_ranks_wrongly_fails_the_ranking_check(tmp_path: Path) -> None:
    """A real but scrambled model: everything loads and runs, yet the best hits are the wrong pictures."""
    from safetensors.numpy import load_file, save_file

    broken = tmp_path / "scrambled-model"
    broken.mkdir()
    (broken / "open_clip_config.json").write_bytes((TINY_MODEL / "open_clip_config.json").read_bytes())
    rng = np.random.default_rng(0)
    weights = {
        name: rng.standard_normal(tensor.shape).astype(tensor.dtype) if tensor.ndim >= 2 else tensor
        for name, tensor in load_file(TINY_MODEL / "open_clip_model.safetensors").items()
    }
    save_file(weights, broken / "open_clip_model.safetensors")

    result = run_self_test(tmp_path, PHOTOSEEK_TINY_MODEL_DIR=str(broken))

    assert result.returncode == 1
    assert "FAILED  search engine" in result.stderr
    assert "picture(s) first, got" in result.stderr
