"""hnswlib's index file, checked before hnswlib reads it, and the engine's own temp files around it.

hnswlib trusts every number in a file it loads: a neighbour id past the end of its arrays, or an entry point
that is not an element, is a read outside memory (SIGSEGV) on the first search, and a checksum only proves
that the bytes are those that were written. Its save_index does not report write errors either: on a full
disk it leaves a short file. So the engine checks the file's structure itself, after every save and before
every load.
"""

from __future__ import annotations

import contextlib
import errno
import math
import mmap
import os
import re
import secrets
import struct
import time
import zlib
from pathlib import Path

import numpy as np

# What HierarchicalNSW::saveIndex writes first: offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, label_offset, offsetData (size_t), maxlevel (int), enterpoint_node (uint32),
# maxM, maxM0, M (size_t), mult (double), ef_construction (size_t).
HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_U32 = struct.Struct("<I")
# hnswlib's ids are 32-bit, and no graph the engine builds has more neighbours per node than this.
_MAX_ELEMENTS = 2**32 - 1
_MAX_M = 10_000
_MAX_EF_CONSTRUCTION = 100_000
_CRC_CHUNK = 8 * 1024 * 1024

# Temp files carry the writer's pid, so an opener removes only those whose writer is gone. Older versions
# named them <file>.<8 random chars>.tmp: those are removed once they are clearly abandoned.
_TEMP = re.compile(r"^.+\.hnsw(?:\.json)?\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.tmp$")
_ABANDONED_SECONDS = 3600.0
_PID_REUSE_SECONDS = 24 * 3600.0


def check_index_file(
    path: Path, dim: int, *, count: int | None = None, capacity: int | None = None
) -> str | None:
    """What is wrong with the hnswlib file at ``path`` for ``dim``-dimensional cosine vectors, or None.

    ``count`` (elements, deleted ones included) and ``capacity`` are checked when given. Reads the header and
    the graph's links only, through a memory map, so a big file costs a pass over its links, not a copy.
    """
    size = os.path.getsize(path)
    if size < HEADER.size:
        return f"it is {size} bytes long, shorter than hnswlib's header"
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return _check_mapped(mapped, size, dim, count, capacity)


def _check_mapped(
    data: mmap.mmap, size: int, dim: int, count: int | None, capacity: int | None
) -> str | None:
    (offset0, cap, n, per, label_off, data_off, maxlevel, entry, max_m, max_m0, m, mult, efc) = (
        HEADER.unpack_from(data, 0)
    )
    links0 = 4 + 4 * max_m0
    if offset0 != 0 or not 2 <= m <= _MAX_M or max_m != m or max_m0 != 2 * m:
        return "its header's graph parameters are not hnswlib's"
    if not math.isclose(mult, 1 / math.log(m), rel_tol=1e-9) or not 1 <= efc <= _MAX_EF_CONSTRUCTION:
        return "its header's construction parameters are out of range"
    if data_off != links0 or label_off != links0 + 4 * dim or per != label_off + 8:
        return f"its elements are not laid out for {dim}-dimensional vectors"
    if not n <= cap <= _MAX_ELEMENTS:
        return f"it claims {n} elements in room for {cap}"
    if count is not None and n != count:
        return f"it holds {n} elements where {count} were expected"
    if capacity is not None and cap != capacity:
        return f"it has room for {cap} elements where {capacity} were expected"
    level0_end = HEADER.size + n * per
    if level0_end > size:
        return f"it is {size} bytes long, too short for its {n} elements"
    if n == 0:
        return None if size == level0_end else "it has bytes after the end of an empty graph"
    if not 0 <= entry < n:
        return f"its entry point {entry} is not one of its {n} elements"
    # Level 0: every element's neighbour count and ids, read in one strided copy of the link columns.
    blocks = np.frombuffer(data, dtype=np.uint8, count=n * per, offset=HEADER.size).reshape(n, per)
    links = blocks[:, :links0].copy().view("<u4")
    del blocks
    counts = links[:, 0] & 0xFFFF
    if int(counts.max()) > max_m0:
        return "a level-0 node lists more neighbours than it has room for"
    used = np.arange(max_m0) < counts[:, None]
    if used.any() and int(links[:, 1:][used].max()) >= n:
        return "a level-0 neighbour id points past the last element"
    return _check_upper_levels(data, size, level0_end, n, m, maxlevel, entry)


def _check_upper_levels(
    data: mmap.mmap, size: int, pos: int, n: int, max_m: int, maxlevel: int, entry: int
) -> str | None:
    per_level = 4 + 4 * max_m
    levels = np.zeros(n, dtype=np.int64)
    chunks: list[bytes] = []
    for i in range(n):
        if pos + 4 > size:
            return "it ends inside its link lists"
        (length,) = _U32.unpack_from(data, pos)
        pos += 4
        if length:
            if length % per_level or length // per_level > max(maxlevel, 0) or pos + length > size:
                return f"element {i}'s upper-level link list has an impossible size"
            levels[i] = length // per_level
            chunks.append(data[pos : pos + length])
            pos += length
    if pos != size:
        return "it is longer than its link lists"
    if maxlevel != int(levels.max()) or levels[entry] != maxlevel:
        return "its top level does not match its entry point's"
    if not chunks:
        return None
    rows = np.frombuffer(b"".join(chunks), dtype="<u4").reshape(-1, 1 + max_m)
    # Each element's rows are its lists on levels 1, 2, ... in order.
    tall = levels[levels > 0]
    row_level = np.arange(len(rows)) - np.repeat(np.cumsum(tall) - tall, tall) + 1
    counts = rows[:, 0] & 0xFFFF
    if int(counts.max()) > max_m:
        return "an upper-level node lists more neighbours than it has room for"
    used = np.arange(max_m) < counts[:, None]
    ids = rows[:, 1:][used]
    if ids.size and int(ids.max()) >= n:
        return "an upper-level neighbour id points past the last element"
    if ids.size and (levels[ids] < np.broadcast_to(row_level[:, None], used.shape)[used]).any():
        return "an upper-level link leads to an element that is not on that level"
    return None


def checksum(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CRC_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; directories cannot be opened this way on Windows, where it is moot.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def new_temp(path: Path) -> Path:
    """A new, empty, owner-only file beside ``path``, named so that a later opener can tell it is stale."""
    while True:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        make_private(tmp)
        return tmp


def write_atomic(path: Path, data: bytes) -> None:
    tmp = new_temp(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if tmp.stat().st_size != len(data):
            raise OSError(errno.EIO, "the file written is shorter than its data", str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_private(path: Path, mode: int = 0o600) -> None:
    """Owner-only access, whatever the umask; left alone where permissions cannot be set (FAT, Windows)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        st = os.stat(path)
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != mode:
            os.chmod(path, mode)


def ensure_private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(directory, 0o700)


def sweep_temp_files(directory: Path) -> list[Path]:
    """Remove temp files that killed saves left in ``directory``; returns what was removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = match["pid"]
            if pid is None:
                stale = age > _ABANDONED_SECONDS
            else:
                stale = age > _PID_REUSE_SECONDS or not pid_alive(int(pid))
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no harmless probe there (os.kill would end the process): rely on age alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
