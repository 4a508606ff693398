"""Deleting many documents: Typesense's delete by filter against deleting them one id at a time.

    python3 benchmarks/bench_delete_by_filter.py [--n 10000] [--dims 512] [--one-by-one 1000]

A temporary library gets N documents with caller-supplied vectors (no model). Printed: deleting all N with
`documents.delete({"filter_by": ...})` (one transaction, one pass over the vector index), then, after a
fresh import, deleting `--one-by-one` of them with `documents[id].delete()` and the time per document, so
the two can be compared per document.
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


def fill(engine: Engine, n: int, dims: int) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dims)).astype(np.float32)
    docs = engine.collections["bench"].documents
    for start in range(0, n, 1000):
        batch = [
            {"id": str(i), "title": f"doc {i}", "group": i % 2, "vec": vectors[i].tolist()}
            for i in range(start, min(n, start + 1000))
        ]
        results = docs.import_(batch, {"action": "create", "batch_size": 1000})
        assert all(r["success"] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--one-by-one", type=int, default=1000)
    args = parser.parse_args()
    schema = {
        "name": "bench",
        "fields": [
            {"name": "title", "type": "string"},
            {"name": "group", "type": "int32"},
            {"name": "vec", "type": "float[]", "num_dim": args.dims},
        ],
    }
    with tempfile.TemporaryDirectory() as tmp, Engine(Path(tmp) / "lib") as engine:
        engine.collections.create(schema)
        fill(engine, args.n, args.dims)
        docs = engine.collections["bench"].documents
        started = time.perf_counter()
        result = docs.delete({"filter_by": "group:[0,1]"})
        by_filter = time.perf_counter() - started
        assert result == {"num_deleted": args.n}, result
        print(f"delete by filter: {args.n} documents in {by_filter:.2f} s "
              f"({1e6 * by_filter / args.n:.0f} µs per document)")

        fill(engine, args.one_by_one, args.dims)
        started = time.perf_counter()
        for i in range(args.one_by_one):
            docs[str(i)].delete()
        single = time.perf_counter() - started
        print(f"one by one:       {args.one_by_one} documents in {single:.2f} s "
              f"({1e6 * single / args.one_by_one:.0f} µs per document)")


if __name__ == "__main__":
    main()
