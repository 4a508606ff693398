"""Reading photo files from disks that may hold anything: only regular files, and only so many bytes.

A named pipe called ``x.jpg`` blocks whoever opens it until a writer comes (for ever, and Cancel cannot
interrupt a blocked read); a link to ``/dev/zero`` called ``y.png`` reads without end. So a file is used
only when it is a regular file after following links, it is opened without blocking, checked again on the
open descriptor (it may have been swapped since it was listed), and read up to the size it had then.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

# Far above any photo, camera RAW included; a bigger "photo" is a disk image or a video renamed, and
# reading it whole would only cost the memory of the machine.
MAX_FILE_BYTES = 512 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def not_regular_reason(st: os.stat_result) -> str | None:
    """Why a file with this (link-following) stat must not be read, or None for a regular file."""
    if stat.S_ISREG(st.st_mode):
        return None
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "a special file")
    return f"This is not a regular file but {kind}: Photoseek only reads photo files."


def too_large_reason(size: int, limit: int) -> str | None:
    if size <= limit:
        return None
    return (
        f"The file is too large to be a photo: {size / 2**20:.0f} MB "
        f"(Photoseek reads files up to {limit // 2**20} MB)."
    )


class NotAPhotoFile(OSError):
    """A path that is not a regular file, or too large to read; ``strerror`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.strerror = reason


def _open_regular(path: Path | str) -> tuple[int, int]:
    """(descriptor, size) of a regular file, opened without ever blocking."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        reason = not_regular_reason(st)
        if reason is not None:
            raise NotAPhotoFile(reason)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def _check_size(size: int, limit: int) -> None:
    reason = too_large_reason(size, limit)
    if reason is not None:
        raise NotAPhotoFile(reason)


def _chunks(path: Path | str, limit: int, chunk: int) -> Iterator[bytes]:
    """The file's bytes in pieces: at most the size it has when opened, and nothing above ``limit``."""
    fd, size = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        _check_size(size, limit)
        left = size
        while left > 0:
            # A file that shrank while being read ends early; one that grew is read to its old size.
            part = f.read(min(left, chunk))
            if not part:
                break
            yield part
            left -= len(part)


def read_regular(path: Path | str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes: at most the size it has when opened, and nothing above ``limit``."""
    return b"".join(_chunks(path, limit, 1 << 24))


def hash_regular(path: Path | str, limit: int = MAX_FILE_BYTES) -> str:
    """sha1 of the file's bytes, read as ``read_regular`` reads them (without holding them all)."""
    digest = hashlib.sha1()
    for part in _chunks(path, limit, 1 << 20):
        digest.update(part)
    return digest.hexdigest()
