"""The "Find duplicates" window's state, plain Python: groups with the engine's verdicts, the photo kept,
what is marked for the trash, what failed and why; and the texts that sum it up.

Kept apart from the widgets so the dialog's bookkeeping does not depend on which rows happen to be built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.sizes import human_size


def doc_number(doc: dict, name: str) -> int | None:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def plain_reason(error: str) -> str:
    """The engine's error without its "Could not move to the trash:" lead, which the window already says."""
    lead = "Could not move to the trash:"
    reason = error[len(lead) :].strip() if error.startswith(lead) else error.strip()
    return reason.rstrip(".")  # sentences around it bring their own full stop


def file_size(doc: dict) -> int:
    return doc_number(doc, "file_size") or 0


def unjudged(doc: dict) -> dict:
    """The verdict of a photo the engine said nothing about: never a confirmed copy."""
    return {"kind": "unchecked", "confirmed": False, "reason": "Not confirmed: no second check was made"}


@dataclass(eq=False)  # identity: two groups are never "equal" just because their contents match
class DuplicateGroup:
    """One group as the engine found it (documents best first), plus the user's choices about it.

    Verdicts are the engine's: a confirmed copy names the photo it copies (``copy_of``), which is never
    marked. Choosing another photo to keep re-marks the group: if the new keeper is a confirmed copy,
    the photo it copies is marked in its place (they are the same picture); marks set by hand stay.
    """

    documents: list[dict]
    max_distance: float = 0.0
    keep_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # id -> why it could not be moved to the trash
    busy: bool = False  # a trash request for it is under way
    verdicts: dict[str, dict] = field(default_factory=dict)  # id -> the engine's verdict
    marked: set[str] = field(default_factory=set)  # ids the user is about to move to the trash
    reference_id: str = ""

    def __post_init__(self) -> None:
        if self.documents:
            self.reference_id = self.reference_id or str(self.documents[0]["id"])
            self.keep_id = self.keep_id or self.reference_id
        for doc_id in self.ids():
            self.verdicts.setdefault(doc_id, unjudged({}))
        self.marked = self.default_marks()

    @classmethod
    def from_engine(cls, group: dict) -> DuplicateGroup:
        raw = group.get("documents", [])
        verdicts = group.get("verdicts") if isinstance(group.get("verdicts"), list) else []
        docs, judged = [], {}
        for i, doc in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(doc, dict) and doc.get("id") is not None:
                docs.append(doc)
                verdict = verdicts[i] if i < len(verdicts) and isinstance(verdicts[i], dict) else None
                if verdict is not None:
                    judged[str(doc["id"])] = verdict
        return cls(docs, float(group.get("max_distance", 0.0)), verdicts=judged)

    def ids(self) -> list[str]:
        return [str(d["id"]) for d in self.documents]

    def confirmed(self, doc_id: str) -> bool:
        return bool(self.verdicts.get(doc_id, {}).get("confirmed"))

    def default_marks(self) -> set[str]:
        """What starts marked for the trash: confirmed copies, never the kept photo."""
        marks = {doc_id for doc_id in self.ids() if self.confirmed(doc_id)}
        twin = self.verdicts.get(self.keep_id, {}).get("copy_of") or self.reference_id
        if self.confirmed(self.keep_id) and twin in self.ids():
            marks.add(str(twin))
        marks.discard(self.keep_id)
        return marks

    def choose(self, doc_id: str) -> None:
        """Keep ``doc_id``; marks the user changed by hand stay as they set them."""
        before = self.default_marks()
        added, removed = self.marked - before, before - self.marked
        self.keep_id = doc_id
        self.marked = (self.default_marks() | added) - removed - {doc_id}

    def set_marked(self, doc_id: str, marked: bool) -> None:
        if marked and doc_id != self.keep_id and doc_id in self.ids():
            self.marked.add(doc_id)
        else:
            self.marked.discard(doc_id)

    def others(self) -> list[dict]:
        """The photos that would go to the trash: those marked, never the one kept."""
        return [d for d in self.documents if str(d["id"]) in self.marked and str(d["id"]) != self.keep_id]

    def counts(self) -> dict[str, int]:
        """How many photos of each verdict kind, the kept one left out."""
        found: dict[str, int] = {}
        for doc_id in self.ids():
            if doc_id != self.keep_id:
                kind = str(self.verdicts.get(doc_id, {}).get("kind", "unchecked"))
                kind = "copy" if self.confirmed(doc_id) else kind
                found[kind] = found.get(kind, 0) + 1
        return found

    def removable_bytes(self) -> int:
        return sum(file_size(d) for d in self.others())

    def remove(self, ids: set[str]) -> bool:
        """Drop these documents; True if any was here. The keep choice survives unless it went too."""
        before = len(self.documents)
        self.documents = [d for d in self.documents if str(d["id"]) not in ids]
        for doc_id in ids:
            self.errors.pop(doc_id, None)
        self.marked -= ids
        if self.keep_id in ids and self.documents:
            self.choose(str(self.documents[0]["id"]))
        return len(self.documents) != before

    @property
    def alive(self) -> bool:
        return len(self.documents) >= 2


def summary_text(groups: list[DuplicateGroup]) -> str:
    """E.g. "12 groups, 31 photos, 19 marked for the trash, 84 MB"."""
    photos = sum(len(g.documents) for g in groups)
    removable = sum(len(g.others()) for g in groups)
    size = sum(g.removable_bytes() for g in groups)
    plural = "s" if len(groups) != 1 else ""
    counts = f"{len(groups):,} group{plural}, {photos:,} photos, {removable:,} marked for the trash"
    return f"{counts}, {human_size(size)}"


def group_verdict_text(group: DuplicateGroup) -> str:
    """E.g. "2 confirmed copies, 1 similar, not a copy" for a group's header."""
    counts = group.counts()
    parts = []
    if counts.get("copy"):
        parts.append(f"{counts['copy']} confirmed cop{'y' if counts['copy'] == 1 else 'ies'}")
    if counts.get("similar"):
        parts.append(f"{counts['similar']} similar, not a copy")
    unchecked = counts.get("unchecked", 0) + counts.get("reference", 0)
    if unchecked:
        parts.append(f"{unchecked} not confirmed")
    return ", ".join(parts) or "nothing to compare"
