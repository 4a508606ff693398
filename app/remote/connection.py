"""The official Typesense client for a list of node URLs, and its failures as the engine's errors.

The API key goes into the client's settings and nowhere else: no message made here contains it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from app.engine import errors
from app.engine.errors import RequestMalformed, ServiceUnavailable, TypesenseError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORTS = {"http": 80, "https": 443}
# The engine's class for each status the server answers with; anything else is a ServerError.
_BY_CODE: dict[int, type[TypesenseError]] = {
    400: errors.RequestMalformed,
    401: errors.RequestUnauthorized,
    403: errors.RequestForbidden,
    404: errors.ObjectNotFound,
    409: errors.ObjectAlreadyExists,
    422: errors.ObjectUnprocessable,
    503: errors.ServiceUnavailable,
}


def parse_node(url: str) -> dict[str, str]:
    """``http://host:8108`` -> the client's node dict; a clear error naming what is wrong with ``url``."""
    if not isinstance(url, str) or not url.strip():
        raise RequestMalformed("A Typesense node URL is empty: give one like `http://server:8108`.")
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RequestMalformed(f"`{url}` is not a Typesense node URL: give one like `http://server:8108`.")
    if parts.username or parts.password or parts.query:
        raise RequestMalformed(f"`{url}` carries credentials or a query: give the API key separately.")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise RequestMalformed(f"`{url}` has no valid port number.") from None
    node = {"host": parts.hostname, "port": str(port), "protocol": parts.scheme}
    if parts.path.strip("/"):
        node["path"] = parts.path.rstrip("/")
    return node


def node_url(node: dict[str, str]) -> str:
    return f"{node['protocol']}://{node['host']}:{node['port']}{node.get('path', '')}"


class Connection:
    """A ``typesense.Client`` over several nodes (its own retries, health checks and timeouts), with every
    call's failure translated: a status becomes the engine's error of that status, an unreachable cluster
    or a refused key a sentence naming the node URLs."""

    def __init__(
        self,
        nodes: Sequence[str],
        api_key: str,
        *,
        timeout_s: float = 10.0,
        num_retries: int = 3,
        retry_interval_s: float = 0.5,
        healthcheck_interval_s: float = 15.0,
    ) -> None:
        import typesense

        if isinstance(nodes, str):
            nodes = [nodes]
        if not nodes:
            raise RequestMalformed(
                "No Typesense node URL given: give at least one, like `http://server:8108`."
            )
        if not isinstance(api_key, str) or not api_key:
            raise RequestMalformed("No API key given for the Typesense server.")
        self.nodes = [parse_node(url) for url in nodes]
        self.urls = ", ".join(node_url(n) for n in self.nodes)
        self._secret = api_key
        settings: Any = {
            "nodes": self.nodes,
            "api_key": api_key,
            "connection_timeout_seconds": timeout_s,
            "num_retries": num_retries,
            "retry_interval_seconds": retry_interval_s,
            "healthcheck_interval_seconds": healthcheck_interval_s,
        }
        self.client = typesense.Client(settings)

    def call(self, action: Callable[[Any], T]) -> T:
        """``action(client)``, its failures as the engine's errors (see the class)."""
        from typesense.exceptions import TypesenseClientError

        try:
            return action(self.client)
        except TypesenseError:
            raise
        except TypesenseClientError as exc:
            raise self._translated(exc) from None
        except Exception as exc:  # the HTTP layer's own: refused connections, timeouts, DNS
            reason = self._scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            log.warning("Typesense at %s unreachable: %s", self.urls, reason)
            raise ServiceUnavailable(
                f"Cannot reach the Typesense server at {self.urls} ({reason})."
            ) from None

    def import_documents(self, collection: str, docs: list[dict], params: dict) -> list[dict]:
        return self.call(lambda c: c.collections[collection].documents.import_(docs, params))

    def document(self, collection: str, doc_id: str) -> dict:
        return self.call(lambda c: c.collections[collection].documents[doc_id].retrieve())

    def delete_document(self, collection: str, doc_id: str) -> dict:
        return self.call(lambda c: c.collections[collection].documents[doc_id].delete())

    def _translated(self, exc: Exception) -> TypesenseError:
        code, message = _status_and_message(exc)
        message = self._scrub(message)
        if code == 401:
            return errors.RequestUnauthorized(
                f"The Typesense server at {self.urls} refused the API key ({message}). Check the key."
            )
        if code is None:  # the client's own, e.g. "All nodes are unhealthy"
            return ServiceUnavailable(f"Cannot reach the Typesense server at {self.urls} ({message}).")
        cls = _BY_CODE.get(code, errors.ServerError)
        return cls(message, code) if cls is errors.ServerError else cls(message)

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text


def _status_and_message(exc: Exception) -> tuple[int | None, str]:
    args = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, str(args[0]) if args else type(exc).__name__


def raise_line_error(result: dict) -> dict:
    """A multi_search entry that is an error (``{"code", "error"}``) raised as the engine's error."""
    if "error" in result and "hits" not in result:
        code = result.get("code")
        cls = _BY_CODE.get(code, errors.ServerError) if isinstance(code, int) else errors.ServerError
        message = str(result["error"])
        raise cls(message, code) if cls is errors.ServerError and isinstance(code, int) else cls(message)
    return result
