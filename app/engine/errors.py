"""Exceptions carrying Typesense's HTTP-style status codes and messages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class TypesenseError(Exception):
    """An error a Typesense server would answer with ``{"message": ...}`` and an HTTP status."""

    code = 500

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict:
        """The shape multi_search puts inside ``results`` for a failed search."""
        return {"code": self.code, "error": self.message}

    def __str__(self) -> str:
        return f"[Errno {self.code}] {self.message}"


class RequestMalformed(TypesenseError):
    code = 400


class ObjectNotFound(TypesenseError):
    code = 404


class ObjectAlreadyExists(TypesenseError):
    code = 409


class ObjectUnprocessable(TypesenseError):
    code = 422


class ModelUnavailable(TypesenseError):
    """The model's weights are not on this machine and cannot be fetched (offline, cancelled, bad file)."""

    code = 400
    model_name: str | None = None  # the model whose weights are missing, where known
    # Set when a download failed: where the weights come from, where they go, and why each source failed.
    download_url: str | None = None
    install_path: Path | None = None
    reasons: Sequence[str] = ()


class WrongThread(TypesenseError):
    """An Engine called from a thread other than the one that opened it (its SQLite connection, indexes
    and model belong to that thread). A mistake in the calling program, not in the request."""

    code = 500


_BY_CODE = {400: RequestMalformed, 404: ObjectNotFound, 409: ObjectAlreadyExists, 422: ObjectUnprocessable}


def error_for(code: int, message: str) -> TypesenseError:
    """The exception class a Typesense client raises for ``code``."""
    return _BY_CODE.get(code, TypesenseError)(message, code)
