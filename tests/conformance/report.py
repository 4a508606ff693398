"""The counts printed at the end of a run: cases, identical, deliberately different, still differing.

Set CONFORMANCE_REPORT=path.json to also write every differing case's outcomes there (for the gap list).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .differences import DIFFERENCES, NEWER
from .harness import AREAS, Outcome

BACKENDS = ("engine", "serve")
_RESULTS: dict[tuple[str, str], str] = {}  # (backend, case id) -> passed/failed/skipped
_DIFFS: dict[str, Any] = {}


def record_result(report: pytest.TestReport) -> None:
    if "test_conformance[" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        first, second = report.nodeid.split("[", 1)[1].rstrip("]").split("-", 1)
        backend, case_id = (first, second) if first in BACKENDS else (second, first)
        _RESULTS[(backend, case_id)] = report.outcome


def record_diff(backend: str, case_id: str, typesense: list[Outcome], photoseek: list[Outcome]) -> None:
    _DIFFS[f"{backend}:{case_id}"] = {"typesense": typesense, "photoseek": photoseek}


def summarise(section: Callable[[str], None], write: Callable[[str], None]) -> None:
    if not _RESULTS:
        return
    section("Typesense conformance")
    for backend in sorted({b for b, _ in _RESULTS}):
        rows = {c: o for (b, c), o in _RESULTS.items() if b == backend}
        passed = [c for c, o in rows.items() if o == "passed"]
        deliberate = [c for c in passed if c in DIFFERENCES and DIFFERENCES[c].kind != NEWER]
        newer = [c for c in passed if c in DIFFERENCES and DIFFERENCES[c].kind == NEWER]
        failed = sorted(c for c, o in rows.items() if o == "failed")
        skipped = sum(o == "skipped" for o in rows.values())
        write(f"{backend}: {len(rows)} cases; {len(passed) - len(deliberate) - len(newer)} identical; "
              f"{len(deliberate)} deliberately different; {len(newer)} follow newer Typesense; "
              f"{len(failed)} differ; {skipped} skipped")
        for area in sorted({AREAS.get(c, "?") for c in failed}):
            write(f"  differ ({area}): {', '.join(c for c in failed if AREAS.get(c, '?') == area)}")
    path = os.environ.get("CONFORMANCE_REPORT")
    if path:
        Path(path).write_text(json.dumps(_DIFFS, indent=1, default=str), encoding="utf-8")
