"""The list model behind the results grid: Typesense hits in rank order, thumbnails loaded lazily."""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPixmap

from app.gui.thumbnails import ThumbnailJob, ThumbnailLoader, ThumbnailState, job_key

_USER = Qt.ItemDataRole.UserRole.value

DEFAULT_THUMBNAIL_SIZE = 160

_Index = QModelIndex | QPersistentModelIndex


class ResultRole(IntEnum):
    """Custom roles. Qt.UserRole itself carries the document id."""

    PathRole = _USER + 1
    SimilarityRole = _USER + 2
    DocumentRole = _USER + 3
    ThumbnailStateRole = _USER + 4
    ThumbnailErrorRole = _USER + 5


PathRole = ResultRole.PathRole
SimilarityRole = ResultRole.SimilarityRole
DocumentRole = ResultRole.DocumentRole
ThumbnailStateRole = ResultRole.ThumbnailStateRole
ThumbnailErrorRole = ResultRole.ThumbnailErrorRole

_THUMBNAIL_ROLES = [Qt.ItemDataRole.DecorationRole.value, ThumbnailStateRole.value, ThumbnailErrorRole.value]


def _validated(hits: Iterable[dict], start: int = 0) -> list[dict]:
    checked = []
    for i, hit in enumerate(hits, start):
        if not isinstance(hit, dict):
            raise TypeError(f"result {i} is {type(hit).__name__}, expected a hit dict")
        doc = hit.get("document")
        if not isinstance(doc, dict):
            raise ValueError(f"result {i} has no 'document' dict")
        if doc.get("id") in (None, ""):
            raise ValueError(f"result {i}: document has no 'id'")
        checked.append(hit)
    return checked


class ResultsModel(QAbstractListModel):
    """Search hits (or a plain listing) in rank order.

    Paging is lazy: when the view scrolls near the end and ``found`` says more exist, ``moreRequested(page)``
    is emitted once; whoever runs the search answers with :meth:`append_results` (or
    :meth:`abandon_more_request` if the request failed).
    """

    moreRequested = Signal(int)

    def __init__(self, parent: QObject | None = None, *, loader: ThumbnailLoader | None = None) -> None:
        super().__init__(parent)
        self._hits: list[dict] = []
        self._found = 0
        self._image_field: str | None = None
        self._scored = False
        self._pages_loaded = 0
        self._more_pending = False
        self._exhausted = False
        self._thumbnail_size = DEFAULT_THUMBNAIL_SIZE
        self._row_by_id: dict[str, int] | None = None  # rebuilt lazily after structural changes
        self._ids_by_key: dict[str, set[str]] = {}  # thumbnail key -> documents waiting for it
        self._placeholder: QPixmap | None = None
        self._loader = loader if loader is not None else ThumbnailLoader(self)
        self._loader.thumbnailReady.connect(self._on_thumbnail_done)
        self._loader.thumbnailFailed.connect(self._on_thumbnail_done)

    # ----- contents ---------------------------------------------------------------------------------------

    def set_results(
        self, hits: list[dict], *, found: int, image_field: str | None = None, scored: bool = False
    ) -> None:
        """Replace everything with the first page of a search (``scored``) or listing."""
        checked = _validated(hits)
        if not isinstance(found, int) or isinstance(found, bool) or found < 0:
            raise ValueError(f"found must be a non-negative int, got {found!r}")
        self.beginResetModel()
        self._loader.cancel_pending()
        self._loader.forget_failures()  # a new search retries files that were missing (maybe restored)
        self._hits = checked
        self._drop_duplicate_ids()
        self._found = max(found, len(self._hits))
        self._image_field = image_field
        self._scored = scored
        self._pages_loaded = 1
        self._more_pending = False
        self._exhausted = not checked
        self._row_by_id = None
        self._ids_by_key.clear()
        self.endResetModel()

    def append_results(self, hits: list[dict], *, found: int | None = None) -> None:
        """Add the next page. Hits already shown (pages shift when documents change) are skipped.
        ``found`` replaces the count when the search learnt more (a filtered search paging on)."""
        if found is not None:
            self._found = max(found, len(self._hits))
        checked = _validated(hits, len(self._hits))
        self._more_pending = False
        self._pages_loaded += 1
        seen = set(self._ids())
        fresh = []
        for hit in checked:
            doc_id = str(hit["document"]["id"])
            if doc_id not in seen:
                seen.add(doc_id)
                fresh.append(hit)
        if not checked:
            self._exhausted = True  # the collection shrank since ``found`` was counted
        if not fresh:
            return
        first = len(self._hits)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._hits.extend(fresh)
        self._row_by_id = None
        self._found = max(self._found, len(self._hits))
        self.endInsertRows()

    def abandon_more_request(self) -> None:
        """The page asked for by ``moreRequested`` will not come; allow asking again later."""
        self._more_pending = False

    def clear(self) -> None:
        self.set_results([], found=0, image_field=None, scored=False)

    def remove_ids(self, ids: Iterable[str]) -> None:
        """Remove documents (deleted by the user), keeping the rest in order."""
        rows = sorted(set(self.rows_for_ids(ids)), reverse=True)
        # Remove contiguous blocks from the bottom so earlier row numbers stay valid.
        i = 0
        while i < len(rows):
            last = first = rows[i]
            while i + 1 < len(rows) and rows[i + 1] == first - 1:
                i += 1
                first = rows[i]
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._hits[first : last + 1]
            self._row_by_id = None
            self.endRemoveRows()
            i += 1
        self._found = max(len(self._hits), self._found - len(rows))

    def document(self, row: int) -> dict:
        return self._hits[self._checked_row(row)]["document"]

    def hit(self, row: int) -> dict:
        return self._hits[self._checked_row(row)]

    def doc_id(self, row: int) -> str:
        return str(self.document(row)["id"])

    def rows_for_ids(self, ids: Iterable[str]) -> list[int]:
        """Rows showing these document ids, ascending; ids not shown are ignored."""
        row_by_id = self._ids()
        return sorted({row_by_id[str(i)] for i in ids if str(i) in row_by_id})

    def found(self) -> int:
        return self._found

    def is_scored(self) -> bool:
        return self._scored

    def image_field(self) -> str | None:
        return self._image_field

    # ----- thumbnails -------------------------------------------------------------------------------------

    @property
    def loader(self) -> ThumbnailLoader:
        return self._loader

    def thumbnail_size(self) -> int:
        return self._thumbnail_size

    def set_thumbnail_size(self, pixels: int) -> None:
        """Size (device pixels) of requested thumbnails; the view sets this when zooming."""
        if pixels < 16 or pixels > 2048:
            raise ValueError(f"thumbnail size must be between 16 and 2048 pixels, got {pixels}")
        if pixels == self._thumbnail_size:
            return
        self._thumbnail_size = pixels
        self._loader.cancel_pending()
        self._ids_by_key.clear()
        if self._hits:
            self.dataChanged.emit(self.index(0), self.index(len(self._hits) - 1), _THUMBNAIL_ROLES)

    def prioritize_rows(self, rows: Iterable[int]) -> None:
        """Drop pending thumbnail requests except those for ``rows`` (what is on screen now)."""
        keys = set()
        for row in rows:
            if 0 <= row < len(self._hits):
                job = self._job(self._hits[row]["document"])
                if job is not None:
                    keys.add(job.key)
        self._loader.retain_pending(keys)
        # Rows whose request was dropped ask again when they are painted again.
        waiting = self._loader.is_waiting
        self._ids_by_key = {key: ids for key, ids in self._ids_by_key.items() if waiting(key)}

    def shutdown(self) -> None:
        self._loader.shutdown()

    # ----- Qt model API -----------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own signature
        return 0 if parent.isValid() else len(self._hits)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names[_USER] = QByteArray(b"documentId")
        for role in ResultRole:
            names[role.value] = QByteArray(role.name[0].lower().encode() + role.name[1:-4].encode())
        return names

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        doc = hit["document"]
        role = int(role)
        if role == Qt.ItemDataRole.DisplayRole.value:
            name = doc.get("name")
            return str(name) if name else str(doc["id"])
        if role == _USER:
            return str(doc["id"])
        if role == Qt.ItemDataRole.DecorationRole.value:
            return self._decoration(doc)
        if role == ThumbnailStateRole:
            job = self._job(doc)
            return ThumbnailState.MISSING if job is None else self._loader.state(job.key)
        if role == ThumbnailErrorRole:
            job = self._job(doc)
            return None if job is None else self._loader.error(job.key)
        if role == SimilarityRole:
            return self._similarity(hit)
        if role == PathRole:
            return self._path(doc)
        if role == DocumentRole:
            return doc
        if role == Qt.ItemDataRole.ToolTipRole.value:
            return self._tooltip(hit)
        return None

    def canFetchMore(self, parent: _Index) -> bool:
        if parent.isValid() or self._more_pending or self._exhausted:
            return False
        return self._found > len(self._hits) and bool(self._hits)

    def fetchMore(self, parent: _Index) -> None:
        if self.canFetchMore(parent):
            self._more_pending = True
            self.moreRequested.emit(self._pages_loaded + 1)

    # ----- internals --------------------------------------------------------------------------------------

    def _checked_row(self, row: int) -> int:
        if not 0 <= row < len(self._hits):
            raise IndexError(f"row {row} out of range (0..{len(self._hits) - 1})")
        return row

    def _ids(self) -> dict[str, int]:
        if self._row_by_id is None:
            self._row_by_id = {str(hit["document"]["id"]): row for row, hit in enumerate(self._hits)}
        return self._row_by_id

    def _drop_duplicate_ids(self) -> None:
        seen: set[str] = set()
        unique = []
        for hit in self._hits:
            doc_id = str(hit["document"]["id"])
            if doc_id not in seen:
                seen.add(doc_id)
                unique.append(hit)
        self._hits = unique

    @staticmethod
    def _path(doc: dict) -> str | None:
        path = doc.get("path")
        return path if isinstance(path, str) and path else None

    def _stored_image(self, doc: dict) -> str | None:
        if not self._image_field:
            return None
        value = doc.get(self._image_field)
        return value if isinstance(value, str) and value else None

    def _job(self, doc: dict) -> ThumbnailJob | None:
        path = self._path(doc)
        stored = self._stored_image(doc)
        if path is None and stored is None:
            return None
        size = self._thumbnail_size
        key = job_key(size=size, path=path, doc_id=str(doc["id"]), image_base64=stored)
        return ThumbnailJob(key=key, size=size, path=path, image_base64=stored)

    def _decoration(self, doc: dict) -> QPixmap:
        job = self._job(doc)
        if job is not None:
            pix = self._loader.pixmap(job.key)
            if pix is not None:
                return pix
            if self._loader.state(job.key) == ThumbnailState.LOADING:
                # Painting is what asks for thumbnails, so only rows on screen cost a decode.
                self._ids_by_key.setdefault(job.key, set()).add(str(doc["id"]))
                self._loader.request(job)
        return self._placeholder_pixmap()

    def _placeholder_pixmap(self) -> QPixmap:
        if self._placeholder is None:
            self._placeholder = QPixmap(16, 16)
            self._placeholder.fill(QColor(0, 0, 0, 0))
        return self._placeholder

    def _similarity(self, hit: dict) -> float | None:
        if not self._scored:
            return None
        distance = hit.get("vector_distance")
        if not isinstance(distance, int | float):
            return None
        return 1.0 - float(distance)

    def _tooltip(self, hit: dict) -> str:
        doc = hit["document"]
        path = self._path(doc)
        lines = [path if path else f"{doc.get('name') or doc['id']} (imported image, no file on disk)"]
        similarity = self._similarity(hit)
        if similarity is not None:
            lines.append(f"Match: {similarity_percent(similarity)}% (similarity {similarity:.3f})")
        job = self._job(doc)
        if job is None:
            lines.append("The image itself is not stored, so there is no preview.")
        else:
            state = self._loader.state(job.key)
            if state == ThumbnailState.MISSING:
                lines.append("The file is missing (moved or deleted?).")
            elif state == ThumbnailState.ERROR:
                lines.append(f"The image could not be read: {self._loader.error(job.key)}")
        return "\n".join(lines)

    def _on_thumbnail_done(self, key: str, _state: str = "") -> None:
        ids = self._ids_by_key.pop(key, None)
        if not ids:
            return
        row_by_id = self._ids()
        for doc_id in ids:
            row = row_by_id.get(doc_id)
            if row is not None:
                index = self.index(row)
                self.dataChanged.emit(index, index, _THUMBNAIL_ROLES)


def similarity_percent(similarity: float) -> int:
    """A similarity in [-1, 1] as a whole percentage a person can read, clamped to 0..100."""
    return max(0, min(100, round(similarity * 100)))
