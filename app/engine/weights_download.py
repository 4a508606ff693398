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
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

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
    reasons = []
    for source in sources:
        try:
            return _fetch(spec, source, progress, cancel, timeout)
        except _Cancelled:
            raise ModelUnavailable(f"Downloading the weights for `{spec.name}` was cancelled.") from None
        except _FetchFailed as exc:
            reasons.append(str(exc))
            log.info("weights download from %s failed: %s", source.url, exc)
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
    pass


class _FetchFailed(Exception):
    pass


def _fetch(
    spec: ModelSpec,
    source: WeightsSource,
    progress: Progress | None,
    cancel: threading.Event | None,
    timeout: float,
) -> Path:
    paths.make_private_dirs(source.path.parent)
    request = urllib.request.Request(source.url, headers={"User-Agent": "photoseek"})
    fd, tmp_name = tempfile.mkstemp(prefix=source.path.name + ".", suffix=".part", dir=source.path.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                progress(0, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise _Cancelled()
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if total is not None and done != total:
            raise _FetchFailed(f"{source.url}: connection closed after {done} of {total} bytes")
        actual = digest.hexdigest()
        if source.sha256:
            if actual != source.sha256:
                raise _FetchFailed(f"{source.url}: sha256 mismatch (got {actual}, expected {source.sha256})")
        else:
            _check_unpinned(spec, source, tmp)
        os.replace(tmp, source.path)
        _write_sidecar(source.path, actual, source.url)
        return source.path
    except urllib.error.HTTPError as exc:
        raise _FetchFailed(f"{source.url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _FetchFailed(f"{source.url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise _FetchFailed(f"{source.url}: no answer within {timeout:g} s") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _FetchFailed(f"{source.url}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


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
