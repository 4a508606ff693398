"""Every case run on a real Typesense 0.24.1 and on Photoseek; the outcome lists must be equal (or differ
exactly as tests/conformance/differences.py lists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .differences import DIFFERENCES, expected_outcomes
from .harness import CASES, Outcome, describe_diff, run_case
from .report import record_diff

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated on v30:DeprecationWarning")


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_conformance(case_id: str, typesense_outcomes: Callable[[str], list[Outcome]], photoseek: Any,
                     request: pytest.FixtureRequest) -> None:
    # typesense_outcomes comes first: where no Typesense can run, the test skips before serve starts.
    typesense = typesense_outcomes(case_id)
    expected = expected_outcomes(case_id, typesense)
    ours = run_case(case_id, photoseek, case_id)
    if ours != expected:
        backend = request.node.callspec.params.get("photoseek", "?")
        record_diff(backend, case_id, typesense, ours)
        judge = "Typesense with its differences.py entry" if case_id in DIFFERENCES else "Typesense"
        pytest.fail(f"Photoseek ({backend}) differs from {judge} in {case_id}:\n\n"
                    f"{describe_diff(expected, ours)}", pytrace=False)
