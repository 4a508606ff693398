"""Rescan benchmark: a followed folder of 20,000 photo files, rescanned unchanged and after small edits.

    python3 benchmarks/bench_rescan.py [--n 20000] [--file-kb 64]

The files are random bytes with a .jpg name (a rescan of unchanged files never opens them, which is the
point being measured), spread over folders of 200 like a camera's. The collection is filled through the
engine's import_ with explicit 512-d vectors and the fields a file import stores (path, size, mtime,
content hash), so no model is needed; the rescan itself is the engine's real folders.scan.

Figures printed:
- rescan of 20k unchanged files, and the same after 100 renames, 100 deletions and 100 touched files;
- for scale, reading and hashing every file once in the same run (what a rescan without the size/mtime
  check would cost at least, before any embedding): the ratio is what the check saves.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import Engine
from app.engine.files import file_doc_id

DIM = 512
PER_FOLDER = 200


def make_library(root: Path, n: int, file_bytes: int) -> list[Path]:
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, size=file_bytes + n, dtype=np.uint8).tobytes()
    paths = []
    for i in range(n):
        folder = root / f"{2000 + i // 5000}" / f"roll-{i // PER_FOLDER:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(block[i : i + file_bytes])  # every file's bytes differ
        paths.append(path)
    return paths


def fill_collection(engine: Engine, paths: list[Path]) -> None:
    engine.collections.create(
        {
            "name": "photos",
            "fields": [
                {"name": "path", "type": "string"},
                {"name": "embedding", "type": "float[]", "num_dim": DIM},
            ],
        }
    )
    rng = np.random.default_rng(1)
    docs = []
    for path in paths:
        st = path.stat()
        vec = rng.standard_normal(DIM).astype(np.float32)
        docs.append(
            {
                "id": file_doc_id(path),
                "path": str(path),
                "name": path.name,
                "folder": str(path.parent),
                "file_type": "jpg",
                "file_size": st.st_size,
                "file_mtime": st.st_mtime,
                "content_hash": hashlib.sha1(path.read_bytes()).hexdigest(),
                "embedding": (vec / np.linalg.norm(vec)).tolist(),
            }
        )
    results = engine.collections["photos"].documents.import_(docs, {"action": "create"}, batch_size=2000)
    assert all(r["success"] for r in results), results[:3]


def timed_scan(engine: Engine) -> tuple[float, dict]:
    started = time.perf_counter()
    (report,) = engine.collections["photos"].folders.scan()
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--file-kb", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "Pictures"
        started = time.perf_counter()
        paths = make_library(root, args.n, args.file_kb * 1024)
        print(
            f"library: {args.n} files of {args.file_kb} KiB in {args.n // PER_FOLDER} folders "
            f"({time.perf_counter() - started:.1f} s to write)"
        )
        with Engine(Path(tmp) / "data") as engine:
            fill_collection(engine, paths)
            engine.collections["photos"].folders.add(root)

            first, report = timed_scan(engine)
            assert report["unchanged"] == args.n and not report["to_import"], report["to_import"][:3]
            second, _ = timed_scan(engine)
            print(
                f"rescan, {args.n} unchanged: {first:.2f} s first, {second:.2f} s again "
                f"({args.n / second:,.0f} files/s)"
            )

            for path in paths[:100]:
                path.rename(path.with_name("renamed-" + path.name))
            for path in paths[100:200]:
                path.unlink()
            for path in paths[200:300]:
                os.utime(path, (1_600_000_000, 1_600_000_000))
            edited, report = timed_scan(engine)
            assert len(report["moved"]) == 100 and len(report["removed"]) == 100, report
            assert report["touched"] == 100 and not report["to_import"]
            print(
                f"rescan after 100 renames, 100 deletions, 100 touched: {edited:.2f} s "
                f"(moved {len(report['moved'])}, removed {len(report['removed'])}, "
                f"touched {report['touched']}, nothing re-embedded)"
            )

            started = time.perf_counter()
            for dirpath, _, names in os.walk(root):
                for name in names:
                    hashlib.sha1(Path(dirpath, name).read_bytes()).hexdigest()
            hash_all = time.perf_counter() - started
            print(
                f"for scale, reading + hashing every file once: {hash_all:.2f} s "
                f"(unchanged rescan is {hash_all / second:.1f}x faster)"
            )


if __name__ == "__main__":
    main()
