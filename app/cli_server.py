"""``photoseek ... --server URL[,URL...]``: the command works on a library kept on a Typesense server or
cluster (app.remote) instead of the local one. CLIP still runs here; the server gets vectors only.

The API key never travels on the command line (every user of the computer sees it in ``ps``): it comes
from ``$PHOTOSEEK_SERVER_API_KEY``, else from the system keyring (service ``photoseek``, the first node's
URL as the user name) where the ``keyring`` package is installed.
"""

from __future__ import annotations

import os
from typing import Any

from app.cli_common import CliError

API_KEY_ENV = "PHOTOSEEK_SERVER_API_KEY"
KEYRING_SERVICE = "photoseek"


def server_urls(value: str) -> list[str]:
    urls = [part.strip() for part in value.split(",") if part.strip()]
    if not urls:
        raise CliError("--server needs at least one node URL, like http://server:8108")
    return urls


def api_key_for(urls: list[str]) -> str:
    key = os.environ.get(API_KEY_ENV, "").strip()
    if key:
        return key
    stored = _keyring_password(urls[0])
    if stored:
        return stored
    raise CliError(f"no API key for {urls[0]}: set ${API_KEY_ENV}, or keep it in the system keyring "
                   f"(service `{KEYRING_SERVICE}`, user `{urls[0]}`); never on the command line")


def _keyring_password(url: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, url)
    except (KeyringError, RuntimeError):  # no usable keyring on this computer: the variable is the way
        return None


def open_server_library(value: str) -> Any:
    """A RemoteLibrary on the nodes ``value`` lists; checks the nodes and the key at once (an error names
    the nodes, never the key)."""
    from app.remote.client import RemoteLibrary

    urls = server_urls(value)
    return RemoteLibrary(urls, api_key_for(urls))
