"""The vector indexes of one collection, one per vector field: loaded and caught up, or rebuilt, from SQLite;
kept in step with this engine's writes and with other processes'; saved when it pays, never at the cost of
a search.

A stored vector the index cannot take (written by an older version, or damaged on disk) is left out and
remembered with the reason (``skipped``, saved with the index), instead of failing the whole collection.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.engine.index import VectorIndex
from app.engine.index_file import ensure_private_dir, make_private, sweep_temp_files
from app.engine.storage import Database
from app.engine.vector_check import vector_problems

log = logging.getLogger(__name__)

# Saving a big index costs a second or so; do it when enough changed, or on close. A crash in between
# costs only a catch-up replay from SQLite on the next open. "Enough" grows with the index (a quarter of
# it), so a bulk import saves a number of times that grows with the log of its size, not linearly: at
# 100k vectors, 11 saves instead of 20, while a crash replays at most a quarter of what was saved.
SAVE_AFTER_CHANGES = 5000
SAVE_AFTER_SHARE = 0.25
SAVE_AFTER_SECONDS = 60.0
# After a failed save (a full disk), searches go on from memory and saving waits this long to try again.
RETRY_SAVE_SECONDS = 60.0


class FieldIndexes:
    def __init__(
        self,
        db: Database,
        index_dir: Path,
        collection_id: int,
        name: str,
        vector_fields: dict[str, int],
        capacity_hint: Callable[[], int],
    ) -> None:
        self.db = db
        self.index_dir = index_dir
        self.collection_id = collection_id
        self.name = name
        self.vector_fields = vector_fields
        self._capacity_hint = capacity_hint
        self._indexes: dict[str, VectorIndex] = {}
        self._unsaved: dict[str, int] = {}
        # The change sequence each loaded index reflects at least: replaying from there is always safe.
        self._synced: dict[str, int] = {}
        # field -> label -> why that document's vector is not in the index.
        self.skipped: dict[str, dict[int, str]] = {}
        self._peeked: dict[str, dict[int, str]] = {}  # what saved files record, for fields not loaded yet
        self._last_save = time.monotonic()
        self._retry_at = 0.0
        if index_dir.is_dir():
            make_private(index_dir, 0o700)
            for path in sweep_temp_files(index_dir):
                log.info("Removed %s, left by a save that did not finish", path.name)

    def path(self, fname: str) -> Path:
        """Named by the engine, never by the field: a field name may hold "../" or be 300 characters."""
        digest = hashlib.sha256(fname.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self.index_dir / f"c{self.collection_id}-{digest}.hnsw"

    def _legacy_path(self, fname: str) -> Path | None:
        # Before version 3 of the library the field name was part of the file name.
        name = f"c{self.collection_id}.{fname}.hnsw"
        unsafe = any(c in fname for c in "/\\\0") or fname in ("", ".", "..") or len(name.encode()) > 200
        return None if unsafe else self.index_dir / name

    def _take_over_legacy(self, fname: str) -> None:
        legacy = self._legacy_path(fname)
        if legacy is None or not legacy.exists():
            return
        new = self.path(fname)
        try:
            if new.exists():
                legacy.unlink()
                _sidecar(legacy).unlink(missing_ok=True)
            else:
                os.replace(legacy, new)
                if _sidecar(legacy).exists():
                    os.replace(_sidecar(legacy), _sidecar(new))
        except OSError as exc:
            log.warning("Could not rename the index file %s (%s); it will be rebuilt", legacy, exc)

    # -- loading ---------------------------------------------------------------------------------------

    def get(self, fname: str) -> VectorIndex:
        """The field's index, loaded from disk and caught up, or rebuilt from SQLite."""
        idx = self._indexes.get(fname)
        if idx is not None:
            return idx
        dims = self.vector_fields[fname]
        self._take_over_legacy(fname)
        floor = self.db.current_seq()
        loaded = VectorIndex.load(self.path(fname), dims)
        idx, changes = None, 0
        if loaded is not None:
            idx, changes = self._catch_up(fname, *loaded)
        if idx is None:
            if loaded is not None or self.path(fname).exists():
                log.info("Index for %s.%s is unusable; rebuilding from the database", self.name, fname)
            idx = VectorIndex(dims, capacity=max(1024, self._capacity_hint()))
            self.skipped[fname] = {}
            changes = self._replay(fname, idx, 0)
        idx.vector_source = lambda labels: self.db.vectors_of(labels, fname, dims)
        self._indexes[fname] = idx
        self._unsaved[fname] = changes
        self._synced[fname] = floor
        if changes:
            self.save(force=True)
        return idx

    def _catch_up(self, fname: str, idx: VectorIndex, meta: dict) -> tuple[VectorIndex | None, int]:
        """Replay what the database changed since ``idx`` was saved; None if it belongs to another state."""
        since = meta.get("seq")
        if meta.get("collection_id") != self.collection_id or not isinstance(since, int):
            return None, 0
        if meta.get("field", fname) != fname:
            return None, 0
        # An index ahead of the database (a database restored from a backup) holds labels the database
        # may hand out again for other documents: only a rebuild is safe.
        if since > self.db.current_seq():
            return None, 0
        skipped = _parse_skipped(meta.get("skipped", []))
        if skipped is None:
            return None, 0
        self.skipped[fname] = skipped
        changes = self._replay(fname, idx, since)
        expected = self.db.vector_labels(self.collection_id, fname)
        held = idx.labels()
        left_out = np.fromiter(sorted(skipped), dtype=np.int64, count=len(skipped))
        if len(held) + len(left_out) != len(expected) or not np.array_equal(
            np.union1d(held, left_out), expected
        ):
            return None, 0
        return idx, changes

    def _replay(self, fname: str, idx: VectorIndex, since: int) -> int:
        """Apply the database's changes after ``since`` to ``idx``; how many there were."""
        changes = 0
        if since > 0:  # a rebuild starts empty: the deletions of all time are nothing to it
            dead = self.db.tombstones_since(self.collection_id, since)
            self._remove(fname, idx, dead)
            changes += len(dead)
        for labels, vectors, bad in self.db.vectors_since(
            self.collection_id, fname, since, self.vector_fields[fname]
        ):
            changes += self._add(fname, idx, labels, vectors, bad)
        return changes

    def _add(
        self,
        fname: str,
        idx: VectorIndex,
        labels: np.ndarray,
        vectors: np.ndarray,
        bad: list[tuple[int, str]],
    ) -> int:
        skipped = self.skipped.setdefault(fname, {})
        problems = vector_problems(vectors)
        if problems:
            keep = np.ones(len(labels), dtype=bool)
            keep[list(problems)] = False
            bad = bad + [(int(labels[row]), f"its `{fname}` vector {why}") for row, why in problems.items()]
            labels, vectors = labels[keep], vectors[keep]
        if bad:
            ids = self.db.doc_ids([label for label, _ in bad])
            for label, why in bad:
                if skipped.get(label) != why:
                    log.warning(
                        "Document %r of %s is left out of its `%s` index: %s",
                        ids.get(label, label),
                        self.name,
                        fname,
                        why,
                    )
                skipped[label] = why
            # A document whose vector went bad must not be found by the vector it had before.
            idx.delete([label for label, _ in bad])
        if len(labels):
            idx.add(labels, vectors, num_threads=-1)
            if skipped:
                for label in labels.tolist():
                    skipped.pop(label, None)
        return len(labels) + len(bad)

    def _remove(self, fname: str, idx: VectorIndex, labels: list[int]) -> None:
        if labels:
            idx.delete(labels)
            skipped = self.skipped.get(fname)
            if skipped:
                for label in labels:
                    skipped.pop(label, None)

    # -- keeping in step -----------------------------------------------------------------------------

    def apply(self, written: list[tuple[int, dict[str, np.ndarray | None]]]) -> None:
        """Apply a committed batch: one bulk add per field (hnswlib adds in parallel)."""
        for fname in self.vector_fields:
            # A batch may write one document twice: only its last state counts.
            final = {label: vecs[fname] for label, vecs in written if fname in vecs}
            added = [(label, vec) for label, vec in final.items() if vec is not None]
            removed = [label for label, vec in final.items() if vec is None]
            if not added and not removed:
                continue
            idx = self.get(fname)
            self._remove(fname, idx, removed)
            if added:
                labels = np.asarray([label for label, _ in added], dtype=np.int64)
                self._add(fname, idx, labels, np.stack([vec for _, vec in added]), [])
            self._unsaved[fname] = self._unsaved.get(fname, 0) + len(added) + len(removed)

    def delete(self, labels: list[int]) -> None:
        for fname in self.vector_fields:
            self._remove(fname, self.get(fname), labels)
            self._unsaved[fname] = self._unsaved.get(fname, 0) + len(labels)

    def replay_foreign(self) -> None:
        """Another connection wrote: bring every loaded index up to the database (idempotent replay)."""
        for fname, idx in self._indexes.items():
            floor = self.db.current_seq()
            self._unsaved[fname] = self._unsaved.get(fname, 0) + self._replay(fname, idx, self._synced[fname])
            self._synced[fname] = floor

    def mark_synced(self) -> None:
        """Every change in the database is in the loaded indexes (no other connection wrote meanwhile)."""
        seq = self.db.current_seq()
        for fname in self._indexes:
            self._synced[fname] = seq

    def known_skipped(self, fname: str) -> dict[int, str]:
        """What the field's index leaves out: from memory once loaded, else what its saved file records."""
        if fname in self._indexes:
            return self.skipped.get(fname, {})
        if fname not in self._peeked:
            try:
                # The sidecar VectorIndex.save writes: {"meta": {...}, ...}; a damaged one says nothing.
                meta = json.loads(_sidecar(self.path(fname)).read_bytes())["meta"]
                self._peeked[fname] = _parse_skipped(meta.get("skipped", [])) or {}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self._peeked[fname] = {}
        return self._peeked[fname]

    # -- saving --------------------------------------------------------------------------------------

    def save(self, *, force: bool = False, final: bool = False) -> None:
        """Save indexes with enough unsaved changes (all, when ``force`` or due). A failure (a full disk) is
        logged, and the next try waits RETRY_SAVE_SECONDS unless ``final``: the indexes stay in memory."""
        now = time.monotonic()
        if now < self._retry_at and not final:
            return
        due = force or final or now - self._last_save > SAVE_AFTER_SECONDS
        for fname, idx in self._indexes.items():
            unsaved = self._unsaved.get(fname, 0)
            enough = max(SAVE_AFTER_CHANGES, int(SAVE_AFTER_SHARE * len(idx)))
            if not unsaved or not (due or unsaved >= enough):
                continue
            meta = {
                "collection_id": self.collection_id,
                "seq": self._synced[fname],
                "field": fname,
                "skipped": [[label, why] for label, why in sorted(self.skipped.get(fname, {}).items())],
            }
            try:
                ensure_private_dir(self.index_dir)
                idx.save(self.path(fname), meta=meta)
            except OSError as exc:
                log.warning(
                    "Could not save the index of %s.%s (%s); searches go on from memory and saving is "
                    "tried again later",
                    self.name,
                    fname,
                    exc,
                )
                self._retry_at = now + RETRY_SAVE_SECONDS
                return
            self._unsaved[fname] = 0
        if due:
            self._last_save = now

    def drop_files(self) -> None:
        self.unlink_files()
        self._indexes.clear()

    def unlink_files(self) -> None:
        """Remove the saved indexes but keep those in memory (saved again at the next save)."""
        for fname in self.vector_fields:
            for path in (self.path(fname), self._legacy_path(fname)):
                if path is not None:
                    path.unlink(missing_ok=True)
                    _sidecar(path).unlink(missing_ok=True)


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".hnsw.json")


def _parse_skipped(raw: object) -> dict[int, str] | None:
    if not isinstance(raw, list):
        return None
    out: dict[int, str] = {}
    for item in raw:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], int)
            and isinstance(item[1], str)
        ):
            return None
        out[item[0]] = item[1]
    return out
