"""Engine failures turned into something a person can read and act on.

The library's callers (the GUI's bridge, on the engine thread) turn every exception into an ``EngineProblem``
there, where the engine's error classes are importable without slowing GUI start-up; the window only ever
shows ``message``. The full technical text goes to the log, never into a dialog.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import urllib.error
from dataclasses import dataclass

log = logging.getLogger(__name__)

MODEL_MISSING = "model_missing"
OFFLINE = "offline"
REQUEST = "request"
NOT_FOUND = "not_found"
STORAGE = "storage"
INTERNAL = "internal"


@dataclass(frozen=True)
class EngineProblem:
    kind: str
    message: str
    detail: str = ""
    model: str | None = None


def _is_offline(exc: BaseException) -> bool:
    if isinstance(exc, (urllib.error.URLError, socket.gaierror, ConnectionError, TimeoutError)):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and _is_offline(cause)


def problem_from_exception(exc: BaseException, *, model: str | None = None) -> EngineProblem:
    """Classify ``exc``; ``model`` names the collection's model when the failing call embedded something."""
    from app.engine import errors  # the worker thread pays for this import, not start-up

    detail = f"{type(exc).__name__}: {exc}"
    if _is_offline(exc):
        return EngineProblem(
            OFFLINE,
            "Photoseek could not reach the internet to download the model. Connect to the internet and "
            "try again, or download the weights file on another computer and choose "
            "“Use a file I already have”.",
            detail,
            model,
        )
    if isinstance(exc, errors.ModelUnavailable):
        model = model or getattr(exc, "model_name", None)
        subject = f"The model “{model}”" if model else "This collection's model"
        return EngineProblem(
            MODEL_MISSING, f"{subject} is not on this computer yet. {exc.message}", detail, model
        )
    if isinstance(exc, errors.MissingCollection):  # the engine's message is Typesense's bare "Not Found"
        return EngineProblem(NOT_FOUND, f"The collection “{exc.collection}” is not in this library.", detail,
                             model)
    if isinstance(exc, errors.ObjectNotFound):
        return EngineProblem(NOT_FOUND, _sentence(exc.message), detail, model)
    if isinstance(exc, errors.TypesenseError):
        return EngineProblem(REQUEST, _sentence(exc.message), detail, model)
    if isinstance(exc, errors.ClientError):  # raised as the typesense client raises it, before any request
        return EngineProblem(REQUEST, _sentence(str(exc)), detail, model)
    if isinstance(exc, sqlite3.DatabaseError):
        log.error("library database error", exc_info=exc)
        return EngineProblem(
            STORAGE,
            f"The library database could not be used ({exc}). Your photos themselves are untouched.",
            detail,
            model,
        )
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return EngineProblem(
            STORAGE,
            f"Photoseek could not read or write a file{where}: {exc.strerror or exc}.",
            detail,
            model,
        )
    log.error("unexpected engine error", exc_info=exc)
    return EngineProblem(
        INTERNAL,
        f"Something went wrong inside Photoseek ({type(exc).__name__}: {exc}). "
        "The details were written to the log.",
        detail,
        model,
    )


def _sentence(text: str) -> str:
    text = (text or "").strip() or "The request failed."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
