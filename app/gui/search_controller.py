"""What the grid shows: the current query (words, an image, "similar to", or the whole library) and the
filter bar's ``filter_by``, turned into Typesense search parameters, debounced, paged and fed into the
results model.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.gui.bridge import LibraryBridge, Request
from app.gui.results_model import ResultsModel
from app.library.problems import EngineProblem
from app.library.service import SearchPage

DEBOUNCE_MS = 250
PER_PAGE = 250


@dataclass(frozen=True)
class Query:
    """What to search for: words, an image, or a stored photo ("similar to"); words may refine the image
    or the photo ("like this, at night"). At most one of image / similar_to; nothing set = the library."""

    text: str = ""
    image_base64: str | None = None
    image_label: str = ""
    similar_to: str | None = None  # document id
    similar_label: str = ""

    @property
    def is_library(self) -> bool:
        return not self.text and self.image_base64 is None and self.similar_to is None

    def describe(self) -> str:
        words = f"“{self.text}”" if self.text else ""
        if self.similar_to is not None:
            like = f"photos like {self.similar_label or self.similar_to}"
        elif self.image_base64 is not None:
            like = f"photos like {self.image_label or 'the image'}"
        else:
            return words or "all photos"
        return f"{like} and {words}" if words else like


def collection_fields(collection: dict | None) -> tuple[str | None, str | None]:
    """(embedding field, image field) of a collection's schema; None where it has no such field."""
    embedding = image = None
    for field in (collection or {}).get("fields", []):
        if embedding is None and field.get("embed"):
            embedding = str(field["name"])
        if image is None and field.get("type") == "image":
            image = str(field["name"])
    return embedding, image


class SearchController(QObject):
    """Owns the debounce timer and the current query; asks the engine and fills ``model``."""

    searchCompleted = Signal(object, float, int)  # Query, milliseconds, found
    searchFailed = Signal(object, object)  # Query, EngineProblem
    countUpdated = Signal(object, int)  # Query, found: a later page refined the count (more_possible)
    collectionUpdated = Signal(object)  # the current collection's dict (None: none) when set or re-counted

    def __init__(self, bridge: LibraryBridge, model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._model = model
        self._collection: dict | None = None
        self._query = Query()
        self._min_similarity = 0.0  # 0: no threshold
        self._filter = ""  # Typesense filter_by added to every search ("" = none)
        self._shown: tuple[str, Query, str] | None = None  # what the grid holds now
        self._request: Request | None = None  # the newest search's first page
        self.more_possible = False  # the last search's found is a lower bound ("250+ found")
        self._pages_answered: set[int] = set()  # pages of the newest search already in the grid
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_now)
        model.moreRequested.connect(self._on_more_requested)

    @property
    def query(self) -> Query:
        return self._query

    @property
    def min_similarity(self) -> float:
        return self._min_similarity

    def set_min_similarity(self, similarity: float, *, rerun: bool = True) -> None:
        """Hide matches less similar than ``similarity`` (0 = show all); a shown search re-runs after the
        same pause as typing, so dragging the control does not queue a search per step."""
        if not 0.0 <= similarity < 1.0:
            raise ValueError(f"minimum similarity must be in [0, 1), got {similarity!r}")
        if similarity == self._min_similarity:
            return
        self._min_similarity = similarity
        if rerun and not self._query.is_library:
            self._shown = None
            self._timer.start()

    def _threshold_clause(self) -> str:
        # Typesense's distance is cosine distance = 1 - similarity.
        if self._min_similarity <= 0.0:
            return ""
        return f", distance_threshold:{1.0 - self._min_similarity:.4f}"

    @property
    def collection_name(self) -> str | None:
        return (self._collection or {}).get("name")

    def set_collection(self, collection: dict | None, *, keep_query: bool = False) -> None:
        """Switch collections (None: no collection): the grid shows the new one's library at once, or
        with ``keep_query`` the current query's results in it."""
        same = collection is not None and collection.get("name") == self.collection_name
        self._collection = collection
        if not same:
            if not keep_query:
                self._query = Query()
            self._filter = ""  # folders and dates belong to the collection they were chosen in
            self.run_now()
        self.collectionUpdated.emit(collection)

    def update_collection(self, collection: dict) -> None:
        """New counts/schema for the current collection, without re-running anything."""
        if collection.get("name") == self.collection_name:
            self._collection = collection
            self.collectionUpdated.emit(collection)

    @property
    def filter_by(self) -> str:
        return self._filter

    def set_filter(self, filter_by: str) -> None:
        """Show only photos matching ``filter_by`` (Typesense syntax; "" = all) in every kind of search;
        the current query runs again at once."""
        filter_by = filter_by.strip()
        if filter_by == self._filter:
            return
        self._filter = filter_by
        self._shown = None
        self.run_now()

    # -- query changes -----------------------------------------------------------------------------

    def set_text(self, text: str, *, refine: bool = False) -> None:
        """The user typed: search after a short pause (typing never waits for the engine). With
        ``refine`` the words refine the current image or photo search instead of replacing it."""
        self._query = self._with_text(text, refine)
        self._timer.start()

    def submit_text(self, text: str, *, refine: bool = False) -> None:
        """Enter: search now."""
        self._query = self._with_text(text, refine)
        self.run_now()

    def _with_text(self, text: str, refine: bool) -> Query:
        anchored = self._query.image_base64 is not None or self._query.similar_to is not None
        if refine and anchored:
            return replace(self._query, text=text.strip())
        return Query(text=text.strip())

    def drop_image(self) -> None:
        """The image or photo was taken out of the query: what was typed stays the search."""
        self._query = Query(text=self._query.text)
        self.run_now()

    def search_image(self, data: bytes, label: str) -> None:
        self._query = Query(image_base64=base64.b64encode(data).decode("ascii"), image_label=label)
        self.run_now()

    def find_similar(self, doc_id: str, label: str = "") -> None:
        self._query = Query(similar_to=doc_id, similar_label=label)
        self.run_now()

    def clear(self) -> None:
        self._query = Query()
        self.run_now()

    def stop(self) -> None:
        """No more searches (the window is closing)."""
        self._timer.stop()

    def refresh(self) -> None:
        """Run the current query again (the library changed under it)."""
        self._shown = None
        self.run_now()

    # -- running -----------------------------------------------------------------------------------

    def params(self, page: int) -> dict | None:
        embedding, image = collection_fields(self._collection)
        query = self._query
        params: dict = {"q": "*", "per_page": PER_PAGE, "page": page}
        if self._filter:
            params["filter_by"] = self._filter
        # The grid thumbnails photos from their files; stored image copies would make every page huge.
        params["exclude_fields"] = ",".join(f for f in (embedding, image) if f)
        if query.is_library:
            return params
        if embedding is None:
            return None  # a collection without embeddings can only be listed
        threshold = self._threshold_clause()
        if query.similar_to is not None or query.image_base64 is not None:
            anchor = (
                f"id:{query.similar_to}" if query.similar_to is not None else f"image:{query.image_base64}"
            )
            if query.text:
                # Imported here: app.engine (numpy, hnswlib) loads on the engine thread, not with the window.
                from app.engine.query_text import refining_query_params

                # CLIP's photo-to-photo similarities spread far wider than word-to-photo ones: at equal
                # weight the photo would drown the words, so each word term counts double.
                anchor += ", " + ", ".join(refining_query_params(query.text, anchor_weight=0.5))
            params["vector_query"] = f"{embedding}:([], {anchor}{threshold})"
        else:
            # Imported here: app.engine (numpy, hnswlib) loads on the engine thread, not with the window.
            from app.engine.query_text import combined_vector_query

            try:
                combined = combined_vector_query(embedding, query.text)
            except ValueError:
                # Half-typed ("beach - "): search the words as typed rather than flash an error mid-word.
                combined = None
            if combined is not None:
                # "beach + sunset - people"; q stays "*". The clause goes inside its closing parenthesis.
                params["vector_query"] = combined[:-1] + threshold + ")"
            else:
                params["q"] = query.text
                params["query_by"] = embedding
                if threshold:
                    # Empty values and no id/image: the engine embeds q, as it does for query_by alone.
                    params["vector_query"] = f"{embedding}:([]{threshold})"
        return params

    @Slot()
    def run_now(self) -> None:
        self._timer.stop()
        name = self.collection_name
        if name is None:
            self._request = None
            self._shown = None
            self._model.clear()
            return
        if self._shown == (name, self._query, self._filter):
            return  # e.g. Enter after the debounce already ran this exact search
        params = self.params(1)
        if params is None:
            return
        self._shown = (name, self._query, self._filter)
        self._pages_answered = set()
        self._request = self._ask(name, params, 1)

    @Slot(int)
    def _on_more_requested(self, page: int) -> None:
        name = self.collection_name
        params = self.params(page)
        # Until page 1 of the newest search is in, the grid still shows the previous one: its "more"
        # would fetch a page of the new search into the old grid.
        first_page_missing = 1 not in self._pages_answered
        if name is None or params is None or self._request is None or first_page_missing:
            self._model.abandon_more_request()
            return
        self._ask(name, params, page)

    def _ask(self, name: str, params: dict, page: int) -> Request:
        # Every page shares one supersession key: a new search makes pending pages of the old one stale.
        request = self._bridge.call("search", name, params, supersede="search")
        first = self._request if page > 1 else request
        request.done.connect(lambda answer: self._on_finished(first, answer))
        request.failed.connect(lambda problem: self._on_failed(first, page, problem))
        return request

    def _on_finished(self, search: Request | None, answer: SearchPage) -> None:
        if search is not self._request:
            return
        result = answer.result
        hits = result.get("hits", [])
        page = answer.page
        if page in self._pages_answered:
            return  # asked twice (the grid re-asked after a reset): appending it again would skip a page
        self._pages_answered.add(page)
        found = int(result.get("found", len(hits)))
        model_found = found
        if not self._query.is_library and found >= page * PER_PAGE:
            if self._min_similarity <= 0.0 and not self._filter:
                # A vector search finds only as many as it was asked for (k = page x per_page); the rest
                # of the library is still there in rank order, so let the grid keep paging into it.
                everything = int(result.get("out_of", found))
                if self._query.similar_to is not None:
                    everything -= 1  # the photo itself is never among its similar ones
                model_found = found = max(found, everything)
            else:
                # Under a threshold or a filter the rest is not the whole library: how many more pass is
                # known only by asking for the next page, so the grid pages on while pages come back full.
                model_found = page * PER_PAGE + 1
        self.more_possible = model_found > found
        if page <= 1:
            _, image = collection_fields(self._collection)
            scored = not self._query.is_library
            self._model.set_results(hits, found=model_found, image_field=image, scored=scored)
            self.searchCompleted.emit(self._query, answer.elapsed_ms, found)
        else:
            self._model.append_results(hits, found=model_found)
            self.countUpdated.emit(self._query, found)

    def _on_failed(self, search: Request | None, page: int, problem: EngineProblem) -> None:
        if search is not self._request:
            return
        if page > 1:
            self._model.abandon_more_request()
        else:
            self._shown = None  # let the same query be retried
            self._model.clear()
        self.searchFailed.emit(self._query, problem)
