"""What the client object model (app.engine.client) checks before it acts: the calling thread, and each
argument.

A Typesense server only ever sees JSON and URL text; a Python caller can pass anything. Each check turns a
value of the wrong kind into a 400 naming the parameter, so that a ``None`` or a bare string never
reaches code that would iterate it, hand it to SQLite or take it for the current directory.
"""

from __future__ import annotations

import functools
import os
import reprlib
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from app.engine.errors import RequestMalformed, WrongThread

_Method = TypeVar("_Method", bound=Callable[..., Any])


def check_thread(owner: threading.Thread) -> None:
    current = threading.current_thread()
    if current is not owner:
        raise WrongThread(
            f"This Engine belongs to thread `{owner.name}` but was called from thread `{current.name}`. "
            "An Engine (its database connection, indexes and model) is used by the thread that opened it "
            "only: pass the call to that thread, or open an Engine in this one."
        )


def owned(method: _Method) -> _Method:
    """Refuse a call from any thread but the engine's own (``self._engine._owner``), before it reaches
    SQLite, whose own refusal is a bare ProgrammingError, or an index that thread may be writing."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        check_thread(self._engine._owner)
        return method(self, *args, **kwargs)

    return cast(_Method, guarded)


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, str):
        return "empty" if not value else "blank"
    article = "an" if type(value).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(value).__name__}"


def path_arg(value: Any, param: str, what: str, *, listed: bool = False) -> str:
    """A non-empty path a file system can hold; ``what`` is "folder" or "file" for the message, and
    ``listed`` says the value is one item of the list ``param``.

    An empty string would otherwise mean the current directory (Path("") is "."), whatever that is.
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, str) or not value.strip():
        if listed:
            raise RequestMalformed(
                f"Parameter `{param}` holds {reprlib.repr(value)}: every {what} path must be a non-empty "
                "string."
            )
        raise RequestMalformed(f"Parameter `{param}` is {_kind(value)}: a {what} path is required.")
    if "\0" in value:
        raise RequestMalformed(f"Parameter `{param}` holds a NUL character, which no {what} path can hold.")
    try:
        os.fsencode(value)
    except UnicodeError:
        raise RequestMalformed(
            f"Parameter `{param}` holds characters this system cannot use in a {what} path."
        ) from None
    return value


def _listed(value: Any, param: str, what: str) -> list[Any]:
    # A str is iterable too: without this, "abc" would be three one-letter items.
    if isinstance(value, (str, bytes, os.PathLike, Mapping)) or not isinstance(value, Iterable):
        raise RequestMalformed(f"Parameter `{param}` must be a list of {what}, got {type(value).__name__}.")
    return list(value)


def paths_arg(value: Any, param: str, what: str) -> list[str]:
    """A list of non-empty paths (see ``path_arg``)."""
    return [path_arg(item, param, what, listed=True) for item in _listed(value, param, f"{what} paths")]


def ids_arg(value: Any, param: str = "ids") -> list[str]:
    ids = _listed(value, param, "document ids")
    for item in ids:
        if not isinstance(item, str):
            raise RequestMalformed(
                f"Parameter `{param}` holds {reprlib.repr(item)}: every document id must be a string."
            )
    return ids


def name_arg(value: Any, what: str) -> str:
    """A collection name or document id as it goes into a Typesense URL: a string, or an int printed."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise RequestMalformed(f"A {what} must be a string, got {type(value).__name__}.")


def params_arg(value: Any, what: str) -> dict:
    """Optional parameters: None or an object. ``what`` names them ("The import parameters")."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RequestMalformed(f"{what} must be an object, got {type(value).__name__}.")
    return value


def batch_size_arg(value: Any) -> Any:
    """Digits as Typesense's HTTP API sends them become a number; True is not a batch size of 1."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    if isinstance(value, bool):
        raise RequestMalformed("Parameter `batch_size` must be a positive integer.")
    return value


def callbacks_arg(progress: Any = None, cancel: Any = None) -> None:
    """Checked before any work: a wrong one would otherwise fail only at its first use, mid-import."""
    if progress is not None and not callable(progress):
        raise RequestMalformed(
            f"Parameter `progress` must be a function taking (done, total), got {type(progress).__name__}."
        )
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise RequestMalformed(f"Parameter `cancel` must be a threading.Event, got {type(cancel).__name__}.")


def import_body_kind(documents: Any) -> str:
    """"text" for JSONL (str or bytes-like), "items" for a list or stream of documents; else a 400."""
    if isinstance(documents, (str, bytes, bytearray, memoryview)):
        return "text"
    if isinstance(documents, (Mapping, os.PathLike)) or not isinstance(documents, Iterable):
        raise RequestMalformed(
            f"The import body must be JSONL text or a list of documents, got {type(documents).__name__}."
        )
    return "items"
