"""Where Photoseek differs from Typesense 0.24.1 on purpose (the lead engineer decides what goes here).

Two kinds: `deliberate` (Photoseek keeps its behaviour because it is better for a photo library) and
`newer-typesense` (current Typesense, as /work/shared/typesense-image-search.md documents it, changed
what 0.24.1 does, and Photoseek follows the current version).

An entry names a case and, for each step that differs, Photoseek's outcome there: either the outcome
itself (the tuple after the step's label: `("ok", value)` or `("error", code, message)`), or a function
from Typesense's outcome to Photoseek's. Every other step must still match Typesense, and a listed step
must really differ from Typesense's outcome, so an entry can fail both ways: Photoseek drifting further,
or Typesense's behaviour no longer differing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .data import VECTORS

Outcome = tuple[Any, ...]
Expected = Outcome | Callable[[Outcome], Outcome]
NEWER = "newer-typesense"
DELIBERATE = "deliberate"


@dataclass(frozen=True)
class Difference:
    reason: str
    kind: str = DELIBERATE
    photoseek: dict[str, Expected] = field(default_factory=dict)  # step label -> Photoseek's outcome
    # True where the entry loosens a comparison (StartsWith) rather than naming a different outcome.
    loosens: bool = False


class StartsWith(str):
    """A message compared by its beginning only (its end is a parser's own wording)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"StartsWith({str(self)!r})"


def _edit(outcome: Outcome, change: Callable[[Any], None]) -> Outcome:
    value = copy.deepcopy(outcome[1])
    change(value)
    return (outcome[0], value)


def _bad_json_line(outcome: Outcome) -> Outcome:
    def change(lines: list[dict]) -> None:
        lines[1]["error"] = StartsWith("Bad JSON: ")

    return _edit(outcome, change)


def _emplace_needs_required_fields(outcome: Outcome) -> Outcome:
    def change(lines: list[dict]) -> None:
        missing = "Field `author` has been declared in the schema, but is not found in the document."
        lines[2] = {"code": 400, "document": '{"id": "11", "rating": 2.0}', "success": False,
                    "error": missing}

    return _edit(outcome, change)


def _without_doc_11(outcome: Outcome) -> Outcome:
    return _edit(outcome, lambda docs: docs.remove(next(d for d in docs if d["id"] == "11")))


def _own_per_page_wins(outcome: Outcome) -> Outcome:
    def change(body: dict) -> None:
        result = body["results"][0]
        result["hits"] = result["hits"][:1]
        result["request_params"]["per_page"] = 1

    return _edit(outcome, change)


def _sorted_by_group(outcome: Outcome) -> Outcome:
    # Ties keep Typesense's usual tie-break for sort_by: the newest document first.
    order = {v["id"]: (v["group"], -i) for i, v in enumerate(VECTORS)}
    return _edit(outcome, lambda body: body["hits"].sort(key=lambda h: order[h[0]]))


_ALL_BUT_BOOK_2 = ("ok", {"found": 7, "ids": ["8", "6", "3", "1", "4", "7", "5"]})

DIFFERENCES: dict[str, Difference] = {
    "vec_nearest": Difference(
        "Typesense 0.24.1 returns every document ranked, ignoring `k`; current Typesense caps the hits at an "
        "explicit `k` (reference: 'an explicit `k` caps the hits').",
        kind=NEWER,
        photoseek={"k=3": ("ok", {"found": 3, "hits": [["a", 0.0], ["b", 0.0513], ["c", 0.2965]]})},
    ),
    "imp_bad_lines_do_not_stop_others": Difference(
        "An unparsable line's message starts `Bad JSON: ` like Typesense's; the detail after it is Python's "
        "JSON parser's, not nlohmann's.",
        photoseek={"import": _bad_json_line}, loosens=True,
    ),
    "doc_create_int64_range": Difference(
        "Photoseek rejects an int32 value out of range; 0.24.1 silently stores it (a bug that corrupts "
        "data).",
        photoseek={"int32 overflow": ("error", 400, "Field `year` must be an int32.")},
    ),
    "imp_emplace": Difference(
        "Emplacing a new document needs the schema's required fields; 0.24.1 stores a partial document "
        "that the schema says cannot exist.",
        photoseek={"emplace": _emplace_needs_required_fields, "all": _without_doc_11},
    ),
    "imp_unknown_action": Difference(
        "The message names the bad value and all four actions (0.24.1's omits emplace, which it accepts).",
        photoseek={"import": (
            "error", 400, "The action `replace` is invalid: use one of create, upsert, update, emplace.")},
    ),
    "multi_empty": Difference(
        "multi_search with no searches answers an empty result list; 0.24.1 answers 500 "
        "`Embedded params parsing error.`",
        photoseek={"multi": ("ok", {"results": []})},
    ),
    "schema_index_false_field": Difference(
        "A filter on a field declared `index: false` is a 400 that says why; 0.24.1 silently finds nothing "
        "(newer Typesense refuses it too, typesense/typesense#1993).",
        photoseek={"filter on it": (
            "error", 400, "Cannot filter on the field `code`: it is declared with `index: false`.")},
    ),
    "filter_int_ne": Difference(
        "Numeric `!=` filters work (newer Typesense supports them; 0.24.1 refuses).",
        kind=NEWER, photoseek={"filter_by year:!=1965": _ALL_BUT_BOOK_2},
    ),
    "filter_id_ne": Difference(
        "`id:!=` filters work (newer Typesense supports them; 0.24.1 refuses).",
        kind=NEWER, photoseek={"filter_by id:!=2": _ALL_BUT_BOOK_2},
    ),
    "vec_wrong_length": Difference(
        "The message gives both lengths, as the reference asks ('names both lengths').",
        kind=NEWER,
        photoseek={"search": ("error", 400,
                              "Query field `vec` must have 4 dimensions, but the query vector has 2.")},
    ),
    "multi_search_param_versus_common": Difference(
        "A search's own parameter wins over the common one (current Typesense docs; 0.24.1 lets the common "
        "one win).",
        kind=NEWER, photoseek={"multi": _own_per_page_wins},
    ),
    "vec_with_sort_by": Difference(
        "sort_by orders vector_query results (newer Typesense; 0.24.1 ignores it and keeps distance order).",
        kind=NEWER, photoseek={"sorted": _sorted_by_group},
    ),
}


def expected_outcomes(case_id: str, typesense: list[Outcome]) -> list[Outcome]:
    """Typesense's outcomes with the registered differences put in, for Photoseek to match."""
    entry = DIFFERENCES.get(case_id)
    if entry is None:
        return typesense
    missing = set(entry.photoseek) - {o[0] for o in typesense}
    if missing:
        raise AssertionError(f"differences.py: {case_id} names steps the case lacks: {sorted(missing)}")
    expected: list[Outcome] = []
    for outcome in typesense:
        want = entry.photoseek.get(outcome[0])
        if want is None:
            expected.append(outcome)
            continue
        ours = want(outcome[1:]) if callable(want) else want
        if ours == outcome[1:] and not entry.loosens:
            raise AssertionError(f"differences.py: {case_id} lists step `{outcome[0]}` as different, but "
                                 "Typesense answers that way now; remove it from the entry")
        expected.append((outcome[0], *ours))
    return expected
