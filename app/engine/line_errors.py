"""One import line's failure versus the library's: what fails a line, and what must stop the import.

A bad value in one document (text that is not valid Unicode, nesting that no parser can walk) fails that
line alone, whatever exception it surfaces as. A database that cannot be written (a full disk, an I/O
error, a locked or damaged file) fails every line after it the same way: the import stops there instead
of trying, and failing, each remaining line.
"""

from __future__ import annotations

import sqlite3

from app.engine.errors import RequestMalformed, ServerError, TypesenseError
from app.engine.storage import StorageError

# Deeper than any real document, and shallow enough that every later step (JSON encoding for storage,
# echoing the line back) stays far from Python's recursion limit whatever thread runs it.
MAX_NESTING = 100


def check_document(doc: dict) -> None:
    """Raise RequestMalformed when ``doc`` holds something no later step can store: a lone surrogate
    (``"\\ud800"`` parses as JSON, but SQLite and the tokenizer need UTF-8) or absurd nesting."""
    stack: list[tuple[object, int, str]] = [(doc, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, (dict, list, tuple)):
            if depth >= MAX_NESTING:
                raise RequestMalformed(
                    f"The document is nested too deeply (more than {MAX_NESTING} levels{_at(where)})."
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    name = key if isinstance(key, str) else repr(key)
                    if isinstance(key, str):
                        _check_text(key, where)
                    stack.append((item, depth + 1, where or name))
            else:
                stack.extend((item, depth + 1, where) for item in value)


def _check_text(text: str, where: str) -> None:
    # isascii() runs in C without copying, so multi-megabyte base64 images cost next to nothing.
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise RequestMalformed(
            f"The document holds text that is not valid Unicode{_at(where)}: a lone surrogate "
            f"(\\u{ord(bad):04x}) at position {exc.start}."
        ) from None


def _at(where: str) -> str:
    return f" in field `{where}`" if where else ""


def line_error(exc: BaseException) -> TypesenseError:
    """Whatever reading, validating or embedding one line raised, as that line's error."""
    if isinstance(exc, TypesenseError):
        return exc
    if isinstance(exc, RecursionError):
        return RequestMalformed("Bad JSON: the document is nested too deeply.")
    if isinstance(exc, MemoryError):
        return RequestMalformed("The document is too large to import: not enough memory.")
    if isinstance(exc, UnicodeError):
        return RequestMalformed(f"The document holds text that is not valid Unicode: {exc}.")
    detail = str(exc) or type(exc).__name__
    return RequestMalformed(f"The document could not be imported ({type(exc).__name__}: {detail}).")


def is_store_failure(exc: BaseException) -> bool:
    """Whether ``exc`` from writing a batch means the library cannot be written at all, rather than one
    document being unstorable: every following write would fail the same way."""
    if isinstance(exc, TypesenseError):
        # A 4xx is about the documents written (each is tried alone then); a 5xx (a full disk's 507, a
        # busy library's 503) about the library.
        return exc.code >= 500
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.DataError)):
        return False  # about the values written, not the file
    return isinstance(exc, (StorageError, OSError, sqlite3.DatabaseError))


def store_error(exc: BaseException) -> TypesenseError:
    """The error every line that a store failure kept from being written reports."""
    if isinstance(exc, TypesenseError):
        return exc
    return ServerError(
        f"The library could not be written ({exc}); the import stopped here and nothing from this line "
        "on was stored. Free some disk space if it is full, then import again."
    )
