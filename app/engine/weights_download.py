"""Fetching a model's weights into the cache, and keeping only what is a weights file.

A download is checked before it is moved into place, and its sha256 is recorded only then, because a
recorded file counts as the official one from then on and is never fetched again. Three things can arrive
with a 200 and still not be the weights: a page (a login wall, a proxy's notice, a mirror's error page), a
body cut short on a connection that sent no Content-Length, and a file for another model. A file whose
sha256 is pinned in advance (OpenAI's URLs carry it) is proven by its hash; any other one must be a
safetensors or torch zip file that loads strictly into the model's architecture.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import paths
from app.engine.errors import ModelUnavailable
from app.engine.models import (
    ModelSpec,
    WeightsSource,
    _sidecar,
    _write_sidecar,
    recorded_download_sha256,
    weights_path,
    weights_sources,
)

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
Progress = Callable[[int, "int | None"], None]


def download(
    spec: ModelSpec,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    timeout: float = 30,
    base_url: str | None = None,
) -> Path:
    """See ``models.download_weights``."""
    if spec.model_path is not None or spec.local_dir is not None:
        path = weights_path(spec)
        if path is None or not path.is_file():
            raise ModelUnavailable(f"The weights for `{spec.name}` are missing: `{path}` does not exist.")
        return path
    sources = weights_sources(spec, base_url)
    if not sources:
        raise ModelUnavailable(
            f"Model `{spec.name}` has no downloadable weights; set model_config.model_path to a weights file."
        )
    for source in sources:
        if source.path.is_file() and not _drop_bad_earlier_download(source.path):
            return source.path
    # An interrupted download continues where it stopped: its source goes first.
    sources = sorted(sources, key=lambda source: not _resumable_bytes(source))
    reasons = []
    for source in sources:
        try:
            return _fetch(spec, source, progress, cancel, timeout)
        except _Cancelled as stopped:
            more = f" The next download continues from {_mb(stopped.kept)}." if stopped.kept else ""
            stopped_text = f"Downloading the weights for `{spec.name}` was cancelled.{more}"
            raise ModelUnavailable(stopped_text) from None
        except _FetchFailed as exc:
            reasons.append(str(exc))
            log.info("weights download from %s failed: %s", source.url, exc)
            if exc.kept:
                break  # the next try continues this file rather than starting another one
    first = sources[0]
    failure = ModelUnavailable(
        f"Could not download the weights for `{spec.name}` ({'; '.join(reasons)}). To install them offline, "
        f"download {first.url} on another machine and set model_config.model_path to the file, "
        f"or copy it to {first.path}."
    )
    # The parts, for front ends that say this more briefly than a library's one long sentence.
    failure.model_name = spec.name
    failure.download_url = first.url
    failure.install_path = first.path
    failure.reasons = reasons
    raise failure


def _drop_bad_earlier_download(path: Path) -> bool:
    """Remove a file an earlier version downloaded and kept although it is no weights file (a page, a
    body cut short); True when it was removed. A file the user put there is theirs, and stays."""
    from app.engine.weights_check import download_problem

    if recorded_download_sha256(path) is None:
        return False
    problem = download_problem(path)
    if problem is None:
        return False
    log.warning("Removing %s, kept by an earlier download although %s", path, problem)
    path.unlink(missing_ok=True)
    _sidecar(path).unlink(missing_ok=True)
    return True


class _Cancelled(Exception):
    def __init__(self, kept: int) -> None:
        super().__init__(kept)
        self.kept = kept  # bytes left in the partial file for the next download to continue from


class _FetchFailed(Exception):
    def __init__(self, message: str, kept: int = 0) -> None:
        super().__init__(message)
        self.kept = kept


def partial_path(target: Path) -> Path:
    """Where an unfinished download of ``target`` waits to be continued."""
    return target.with_name(target.name + ".part")


def _url_record(part: Path) -> Path:
    return part.with_name(part.name + ".url")


def _resumable_bytes(source: WeightsSource) -> int:
    """Bytes of an earlier, interrupted download of this very URL; 0 (and nothing left) otherwise."""
    part = partial_path(source.path)
    try:
        same_url = _url_record(part).read_text(encoding="utf-8").strip() == source.url
        size = part.stat().st_size
    except (OSError, UnicodeDecodeError):
        same_url, size = False, 0
    if not same_url:
        _discard(part)
        return 0
    return size


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _url_record(part).unlink(missing_ok=True)


def _mb(count: int) -> str:
    return f"{count / 1_000_000:,.1f} MB"


def _fetch(
    spec: ModelSpec,
    source: WeightsSource,
    progress: Progress | None,
    cancel: threading.Event | None,
    timeout: float,
) -> Path:
    """Download ``source`` into its partial file (continuing an interrupted one with a Range request),
    check the whole file, then move it into place. A transfer that stops early (Stop, a cut connection)
    keeps the partial file for the next try; a file that fails its check is discarded."""
    paths.make_private_dirs(source.path.parent)
    part = partial_path(source.path)
    have = _resumable_bytes(source)
    done = have
    try:
        digest = _hash_part(part, have, cancel)
        headers = {"User-Agent": "photoseek"}
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(source.url, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            if response.status == 206:
                if _range_start(response) != have:
                    _discard(part)
                    raise _FetchFailed(f"{source.url}: the server sent another part of the file than asked")
                total = have + size if size is not None else None
            else:  # no range support (200): start again from the first byte
                done, digest = 0, hashlib.sha256()
                total = size
            _url_record(part).write_text(source.url + "\n", encoding="utf-8")
            with open(part, "ab" if done else "wb") as out:
                if progress:
                    progress(done, total)
                while True:
                    if cancel is not None and cancel.is_set():
                        raise _Cancelled(done)
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        if total is not None and done != total:
            raise _FetchFailed(
                f"{source.url}: connection closed after {done} of {total} bytes "
                f"(the next download continues from {_mb(done)})",
                done,
            )
        _check_whole_file(spec, source, part, digest.hexdigest())
        os.replace(part, source.path)
        _url_record(part).unlink(missing_ok=True)
        _write_sidecar(source.path, digest.hexdigest(), source.url)
        return source.path
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range asked for is past the file's end: the part is stale
            _discard(part)
        raise _FetchFailed(f"{source.url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _FetchFailed(f"{source.url}: {exc.reason}", _kept(part, done)) from exc
    except TimeoutError as exc:
        raise _FetchFailed(f"{source.url}: no answer within {timeout:g} s", _kept(part, done)) from exc
    except ModelUnavailable:
        raise  # the whole file's check said no: its own words (an OSError too, as the client's errors are)
    except (OSError, http.client.HTTPException) as exc:
        raise _FetchFailed(f"{source.url}: {exc}", _kept(part, done)) from exc
    finally:
        if part.is_file() and part.stat().st_size == 0:
            _discard(part)  # nothing arrived: nothing to continue


def _kept(part: Path, done: int) -> int:
    return done if part.is_file() else 0


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """The first byte a 206 answer carries (``Content-Range: bytes 100-999/1000``)."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    start = spec.split("-", 1)[0]
    return int(start) if unit.strip() == "bytes" and start.isdigit() else None


def _hash_part(part: Path, have: int, cancel: threading.Event | None) -> Any:
    """The sha256 state after the bytes an interrupted download already has (the check covers them)."""
    digest = hashlib.sha256()
    if have:
        with open(part, "rb") as f:
            while chunk := f.read(_CHUNK):
                if cancel is not None and cancel.is_set():
                    raise _Cancelled(have)
                digest.update(chunk)
    return digest


def _check_whole_file(spec: ModelSpec, source: WeightsSource, part: Path, actual: str) -> None:
    """The pinned hash, or for an unpinned file a strict load; a file that fails is discarded."""
    try:
        if source.sha256:
            if actual != source.sha256:
                raise _FetchFailed(
                    f"{source.url}: sha256 mismatch (got {actual}, expected {source.sha256}); "
                    "the downloaded file was discarded"
                )
        else:
            _check_unpinned(spec, source, part)
    except _FetchFailed as exc:
        _discard(part)
        message = str(exc)
        if "discarded" not in message:
            message += "; the downloaded file was discarded"
        raise _FetchFailed(message) from None


def _check_unpinned(spec: ModelSpec, source: WeightsSource, tmp: Path) -> None:
    """Without a pinned hash, the bytes must be a whole weights file that loads strictly into the model."""
    from app.engine.weights_check import WeightsFileError, check_weights_file, download_problem

    problem = download_problem(tmp)
    if problem is not None:
        raise _FetchFailed(f"{source.url}: {problem}")
    try:
        check_weights_file(spec, tmp)
    except WeightsFileError as exc:
        # The message names the temporary file, which is gone by the time anyone reads it.
        raise _FetchFailed(f"{source.url}: {exc.message.replace(f' `{tmp}`', '')}") from exc
