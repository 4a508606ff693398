"""Exceptions carrying Typesense's HTTP-style status codes and messages.

Each is also the official ``typesense`` client's exception for its status (``TypesenseError`` is a
``typesense.exceptions.TypesenseClientError``, ``ObjectNotFound`` a ``typesense.exceptions.ObjectNotFound``
...), built as the client builds them (``args == (status, message)``), so that a script written against a
Typesense server catches the engine's errors unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typesense import exceptions as client
else:  # the same module, without importing the client and its HTTP stack (half a second)
    from app.engine.client_exceptions import load

    client = load()


class TypesenseError(client.TypesenseClientError):
    """An error a Typesense server would answer with ``{"message": ...}`` and an HTTP status.

    The client's exceptions are OSErrors made as ``Error(status, message)``: ``errno`` is the status and
    ``strerror`` the message, as there. ``code``/``status_code`` and ``message`` say the same by name.
    """

    code = 500

    def __init__(self, message: str, code: int | None = None) -> None:
        if code is not None:
            self.code = code
        super().__init__(self.code, message)
        self.message = message

    @property
    def status_code(self) -> int:
        return self.code

    def __reduce__(self) -> tuple:
        # OSError pickles as cls(*args), which would hand (status, message) to (message, code).
        return (_rebuild, (type(self), self.message, self.code, dict(self.__dict__)))

    def to_dict(self) -> dict:
        """The shape multi_search puts inside ``results`` for a failed search."""
        return {"code": self.code, "error": self.message}

    def __str__(self) -> str:
        return f"[Errno {self.code}] {self.message}"


def _rebuild(cls: type[TypesenseError], message: str, code: int, state: dict) -> TypesenseError:
    exc = cls.__new__(cls)
    TypesenseError.__init__(exc, message, code)
    exc.__dict__.update(state)
    return exc


class RequestMalformed(TypesenseError, client.RequestMalformed):
    code = 400


class ObjectNotFound(TypesenseError, client.ObjectNotFound):
    code = 404


class MissingCollection(ObjectNotFound):
    """No collection of that name. The message is Typesense's for the route (often a bare "Not Found"),
    so ``collection`` names it for the CLI and the app, which say which one."""

    def __init__(self, message: str, collection: str) -> None:
        super().__init__(message)
        self.collection = collection


class ObjectAlreadyExists(TypesenseError, client.ObjectAlreadyExists):
    code = 409


class ObjectUnprocessable(TypesenseError, client.ObjectUnprocessable):
    code = 422


class RequestUnauthorized(TypesenseError, client.RequestUnauthorized):
    code = 401


class RequestForbidden(TypesenseError, client.RequestForbidden):
    code = 403


class ServerError(TypesenseError, client.ServerError):
    code = 500


class ServiceUnavailable(TypesenseError, client.ServiceUnavailable):
    code = 503


class ModelUnavailable(TypesenseError, client.RequestMalformed):
    """The model's weights are not on this machine and cannot be fetched (offline, cancelled, bad file)."""

    code = 400
    model_name: str | None = None  # the model whose weights are missing, where known
    # Set when a download failed: where the weights come from, where they go, and why each source failed.
    download_url: str | None = None
    install_path: Path | None = None
    reasons: Sequence[str] = ()


class WrongThread(TypesenseError, client.ServerError):
    """An Engine called from a thread other than the one that opened it (its SQLite connection, indexes
    and model belong to that thread). A mistake in the calling program, not in the request."""

    code = 500


# What the official client raises itself, before any request (so without a status): an empty import list.
ClientError = client.TypesenseClientError

_BY_CODE: dict[int, type[TypesenseError]] = {
    400: RequestMalformed,
    401: RequestUnauthorized,
    403: RequestForbidden,
    404: ObjectNotFound,
    409: ObjectAlreadyExists,
    422: ObjectUnprocessable,
    500: ServerError,
    503: ServiceUnavailable,
}


def error_for(code: int, message: str) -> TypesenseError:
    """The exception class a Typesense client raises for ``code`` (any other 5xx is a ServerError)."""
    cls = _BY_CODE.get(code) or (ServerError if 500 <= code <= 599 else TypesenseError)
    return cls(message, code)
