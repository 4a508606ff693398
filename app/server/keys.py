"""Where `photoseek serve` gets its API key: a file, the environment, or one generated and kept private.

A key given on the command line is visible to every user of the computer (``ps``), so the flag exists for
quick experiments only and warns; the ways meant for use are ``--api-key-file`` and ``PHOTOSEEK_API_KEY``.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

API_KEY_ENV = "PHOTOSEEK_API_KEY"
GENERATED_KEY_NAME = "serve-api-key"


class ApiKeyError(ValueError):
    """The key source is unusable; the message names it and what is wrong."""


@dataclass(frozen=True)
class ApiKey:
    value: str
    source: str  # said at startup: where the key came from (never the key itself)
    warnings: tuple[str, ...] = ()


def _checked(value: str, where: str) -> str:
    key = value.strip()
    if not key:
        raise ApiKeyError(f"the API key in {where} is empty")
    # It travels in an HTTP header: printable ASCII only, no spaces.
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise ApiKeyError(f"the API key in {where} must be printable ASCII without spaces")
    return key


def resolve_api_key(
    data_dir: Path, key_file: str | None = None, flag_value: str | None = None
) -> ApiKey:
    """The key to require: --api-key-file, else $PHOTOSEEK_API_KEY, else --api-key (with a warning), else
    the key stored in the data folder (made on first use, readable by this user only)."""
    if key_file is not None:
        path = Path(key_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ApiKeyError(f"cannot read the API key file {path}: {reason}") from None
        warnings: tuple[str, ...] = ()
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings = (f"the API key file {path} can be read by other users: chmod 600 it",)
        return ApiKey(_checked(text, str(path)), f"the file {path}", warnings)
    env_value = os.environ.get(API_KEY_ENV)
    if env_value is not None:
        return ApiKey(_checked(env_value, f"${API_KEY_ENV}"), f"${API_KEY_ENV}")
    if flag_value is not None:
        warning = ("--api-key puts the key in the process list, where other users of this computer can "
                   f"read it: prefer --api-key-file or ${API_KEY_ENV}")
        return ApiKey(_checked(flag_value, "--api-key"), "--api-key", (warning,))
    return stored_key(data_dir)


def stored_key(data_dir: Path) -> ApiKey:
    """The key kept in ``data_dir`` (created 0600 on first use, so it stays the same across restarts)."""
    path = data_dir / GENERATED_KEY_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        try:
            # O_EXCL: never write through a file or link someone else put there first.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another `serve` made it a moment ago: use that one
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(key + "\n")
            return ApiKey(key, f"the file {path} (generated now)")
    if path.is_symlink() or not path.is_file():
        raise ApiKeyError(f"{path} is not a regular file: remove it, or give --api-key-file")
    return ApiKey(_checked(path.read_text(encoding="utf-8"), str(path)), f"the file {path}")
