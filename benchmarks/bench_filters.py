"""Filters and facets at library scale: vector searches with filter_by, and the filter bar's facet request.

    python3 benchmarks/bench_filters.py [--n 100000]

Documents carry the fields a file import stores (folder, file_type, captured_at, ...) and a random 128-d
vector, imported through the engine. Printed, in milliseconds: an unfiltered k=250 vector search, the same
search with a selective filter (one folder of 200) and a broad one (a type and a date), each the first
time (the filter is checked against every document) and again (the collection did not change, so the
matching documents are remembered); then a facet request over folder, type and date.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import Engine

DIM = 128
FOLDERS = 200


def documents(n: int) -> list[dict]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        {
            "id": str(i),
            "path": f"/photos/{i % FOLDERS}/IMG_{i}.jpg",
            "folder": f"/photos/{i % FOLDERS}",
            "file_type": "jpg" if i % 3 else "png",
            "width": 4000,
            "height": 3000,
            "captured_at": 1_600_000_000 + i * 60,
            "file_size": 3_000_000,
            "embedding": vectors[i].tolist(),
        }
        for i in range(n)
    ]


def ms(search, params: dict) -> tuple[float, int]:
    started = time.perf_counter()
    result = search(params)
    return (time.perf_counter() - started) * 1000, result["found"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Engine(Path(tmp)) as engine:
        engine.collections.create(
            {
                "name": "photos",
                "fields": [
                    {"name": "path", "type": "string"},
                    {"name": "embedding", "type": "float[]", "num_dim": DIM},
                ],
            }
        )
        started = time.perf_counter()
        engine.collections["photos"].documents.import_(
            documents(args.n), {"action": "create"}, batch_size=5000
        )
        print(f"{args.n:,} documents imported in {time.perf_counter() - started:.1f} s")
        search = engine.collections["photos"].documents.search
        query = np.random.default_rng(1).standard_normal(DIM)
        vq = "embedding:([" + ", ".join(f"{x:.5f}" for x in query) + "], k:250)"
        base = {"q": "*", "vector_query": vq, "per_page": 250}
        took, _ = ms(search, base)  # loads the index
        took, found = ms(search, base)
        print(f"vector search, no filter: {took:.1f} ms ({found} hits)")
        for label, filter_by in (
            ("one folder (0.5% of photos)", "folder:=/photos/7"),
            (
                "PNG taken after a date (~33%)",
                f"file_type:=png && captured_at:>{1_600_000_000 + args.n * 30}",
            ),
        ):
            first, found = ms(search, {**base, "filter_by": filter_by})
            again, _ = ms(search, {**base, "filter_by": filter_by})
            print(f"vector search, {label}: {first:.0f} ms first, {again:.1f} ms again ({found} hits)")
        facets = {
            "q": "*",
            "per_page": 0,
            "facet_by": "folder,file_type,captured_at",
            "max_facet_values": 500,
        }
        took, _ = ms(search, facets)
        print(f"facets over folder, type and date: {took:.0f} ms")


if __name__ == "__main__":
    main()
