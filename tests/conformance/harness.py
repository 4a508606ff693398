"""The differential harness: a case is a sequence of calls on a client-like object; each call's outcome
is recorded, normalised, and the lists from Typesense and from Photoseek are compared.

An outcome is `(label, "ok", normalised_response)`, `(label, "error", http_code, message)` for an error
the server (or the engine) answered, or `(label, "crash", "TypeName: text")` for anything else (an
engine method that does not exist yet, a client-side failure).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import pprint
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

Outcome = tuple[Any, ...]
CaseFn = Callable[["Run"], None]

CASES: dict[str, CaseFn] = {}
AREAS: dict[str, str] = {}

# Values that change from one run to the next: compared for presence only.
VOLATILE_KEYS = frozenset({"search_time_ms", "created_at", "processing_time_ms", "search_cutoff"})
# Keys newer Typesense versions (and Photoseek, which follows them) add beside what 0.24.1 answers:
# dropped on both sides, so that the version gap does not hide real differences.
NEWER_VERSION_KEYS = frozenset({"stem", "store", "vec_dist", "first_q", "sampled", "range_index",
                                "voice_query", "stem_dictionary"})
# Text-relevance details whose numbers are Typesense's internals; one case (search_highlight_shape)
# compares the highlight shape, the others mask them.
TEXT_MATCH_KEYS = frozenset({"text_match", "text_match_info", "highlight", "highlights"})
MASK = "<masked>"
FLOAT_DIGITS = 4


def case(area: str) -> Callable[[CaseFn], CaseFn]:
    """Register a case under its function name; `area` says which engine helper a gap goes to."""

    def register(fn: CaseFn) -> CaseFn:
        if fn.__name__ in CASES:
            raise ValueError(f"two conformance cases are called {fn.__name__}")
        CASES[fn.__name__] = fn
        AREAS[fn.__name__] = area
        return fn

    return register


def add_case(name: str, area: str, fn: CaseFn) -> None:
    """Register a generated case (one per row of a table) under an explicit name."""
    fn.__name__ = name
    case(area)(fn)


@dataclass
class Options:
    """How one call's response is normalised."""

    text_match: bool = False  # compare highlight/text_match details instead of masking them
    jsonl: bool = False  # the response is JSONL text: compare its parsed lines
    sort_lines_by_id: bool = False  # JSONL whose line order Typesense does not document (export)


def _round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS)
    if isinstance(value, (list, tuple)):
        return [_round_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    return value


def _clean(value: Any, opts: Options) -> Any:
    if isinstance(value, list):
        return [_clean(v, opts) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in NEWER_VERSION_KEYS:
            continue
        if key in VOLATILE_KEYS or (key in TEXT_MATCH_KEYS and not opts.text_match):
            out[key] = MASK
            continue
        out[key] = _clean(item, opts)
    if isinstance(out.get("counts"), list):  # facet counts: ties have no documented order
        out["counts"] = sorted(out["counts"], key=lambda c: (-c.get("count", 0), str(c.get("value"))))
    return out


def normalise(value: Any, opts: Options) -> Any:
    if opts.jsonl:
        if not isinstance(value, str):
            return {"not JSONL text": _clean(_round_floats(value), opts)}
        lines = [json.loads(line) for line in value.split("\n") if line.strip()]
        if opts.sort_lines_by_id:
            lines.sort(key=lambda d: str(d.get("id")) if isinstance(d, dict) else "")
        value = lines
    return _clean(_round_floats(value), opts)


def error_outcome(label: str, exc: BaseException) -> Outcome:
    """An exception as (code, message): the engine's TypesenseError and the client's exceptions alike."""
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    if isinstance(code, int) and isinstance(message, str):  # app.engine.errors.TypesenseError
        return (label, "error", code, message)
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):  # typesense.exceptions.*
        return (label, "error", args[0], args[1])
    return (label, "crash", f"{type(exc).__name__}: {exc}")


@dataclass
class Run:
    """One backend's run of one case: its client, its collection name and the outcomes so far."""

    client: Any
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    collections: set[str] = field(default_factory=set)

    @property
    def coll(self) -> Any:
        return self.client.collections[self.name]

    @property
    def docs(self) -> Any:
        return self.coll.documents

    def schema(self, fields: Iterable[dict], **extra: Any) -> dict:
        return {"name": self.name, "fields": list(fields), **extra}

    def call(self, label: str, fn: Callable[[], Any], **options: Any) -> Any:
        """Run one call and record its outcome; returns the raw response (None where it raised)."""
        opts = Options(**options)
        try:
            result = fn()
        except Exception as exc:  # every failure is an outcome to compare
            self.outcomes.append(error_outcome(label, exc))
            return None
        self.outcomes.append((label, "ok", normalise(result, opts)))
        return result

    def create(self, schema: dict, label: str = "create collection") -> Any:
        self.collections.add(schema.get("name", self.name))
        return self.call(label, lambda: self.client.collections.create(schema))

    def search(self, label: str, params: dict, **options: Any) -> Any:
        return self.call(label, lambda: self.docs.search(params), **options)

    def ids(self, label: str, params: dict) -> Any:
        """A search recorded as (found, hit ids in order): for cases about which documents, not shapes."""
        try:
            result = self.docs.search(params)
        except Exception as exc:
            self.outcomes.append(error_outcome(label, exc))
            return None
        ids = [h["document"].get("id") for h in result.get("hits", [])]
        self.outcomes.append((label, "ok", {"found": result.get("found"), "ids": ids}))
        return result

    def cleanup(self) -> None:
        for name in self.collections | {self.name}:
            # Absent already (never made, or the case deleted it): nothing to clean.
            with contextlib.suppress(Exception):
                self.client.collections[name].delete()


def run_case(name: str, client: Any, collection: str) -> list[Outcome]:
    run = Run(client, collection)
    try:
        CASES[name](run)
    finally:
        run.cleanup()
    return run.outcomes


def _fmt(outcome: Outcome | None) -> str:
    return "(no such step)" if outcome is None else pprint.pformat(outcome[1:], width=110, sort_dicts=True)


def differing_paths(a: Any, b: Any, path: str = "", limit: int = 12) -> list[str]:
    """Where two normalised values differ, as `path: typesense != photoseek` lines (at most `limit`)."""
    if a == b:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in b:
                out.append(f"{path}.{key}: only Typesense has it ({a[key]!r:.120})")
            elif key not in a:
                out.append(f"{path}.{key}: only Photoseek has it ({b[key]!r:.120})")
            else:
                out += differing_paths(a[key], b[key], f"{path}.{key}", limit)
        return out[:limit]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += differing_paths(x, y, f"{path}[{i}]", limit)
        return out[:limit]
    return [f"{path or '.'}: {a!r:.300} != {b!r:.300}"]


def describe_diff(typesense: list[Outcome], photoseek: list[Outcome]) -> str:
    """Step by step, the outcomes that differ, with a line diff of each pair."""
    parts: list[str] = []
    for i in range(max(len(typesense), len(photoseek))):
        want = typesense[i] if i < len(typesense) else None
        got = photoseek[i] if i < len(photoseek) else None
        if want == got:
            continue
        label = (want or got or ("?",))[0]
        a, b = _fmt(want), _fmt(got)
        diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "typesense", "photoseek",
                                              lineterm="", n=2))
        where = "\n".join("    " + line for line in differing_paths(want, got))
        parts.append(f"step {i} `{label}` differs at (Typesense != Photoseek):\n{where}\n{diff}")
    return "\n\n".join(parts)
