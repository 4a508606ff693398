"""Running ``photoseek`` in this process for the CLI tests."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from app import cli


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``photoseek ARGV...`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def table_rows(text: str) -> list[list[str]]:
    """The rows of a ranked hit table as [rank, similarity, id, photo]."""
    lines = text.strip().splitlines()
    assert lines[0].split() == ["#", "similarity", "id", "photo"], text
    return [line.split(None, 3) for line in lines[1:] if line.strip()[:1].isdigit()]
