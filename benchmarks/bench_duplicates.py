"""Near-duplicate finder benchmark: 20,000 CLIP-like 512-d vectors with planted groups of copies.

    python3 benchmarks/bench_duplicates.py [--n 20000] [--groups 500] [--threshold 0.05]

Background vectors come from bench_index's ClipLikeData (clusters in a narrow cone, like CLIP). Planted
groups are 2-4 copies of one vector with small noise (distance ~0.005-0.02, like a re-encoded or resized
photo). Everything goes through the engine (import_ with explicit vectors, batch_size 2000); the figure
that matters is how long find_duplicates takes and whether exactly the planted groups come back.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import ClipLikeData, unit

from app.engine import Engine

DIM = 512


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20000, help="total documents, planted copies included")
    parser.add_argument("--groups", type=int, default=500, help="planted near-duplicate groups")
    parser.add_argument("--threshold", type=float, default=0.05)
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 5, size=args.groups)
    planted_total = int(sizes.sum())
    data = ClipLikeData(args.n - planted_total, DIM, clusters=1000, seed=0)
    vectors = list(data.vectors)
    ids = [f"bg{i}" for i in range(len(vectors))]
    planted: list[frozenset[str]] = []
    originals = data.around(rng.choice(len(data.centres), size=args.groups))
    for g, (original, size) in enumerate(zip(originals, sizes, strict=True)):
        copies = unit(original + 0.1 * data.noise(int(size)))
        members = []
        for c, vec in enumerate(copies):
            ids.append(f"dup{g}-{c}")
            vectors.append(vec)
            members.append(f"dup{g}-{c}")
        planted.append(frozenset(members))
    order = rng.permutation(len(ids))  # planted copies must not sit next to each other in the index

    with tempfile.TemporaryDirectory() as tmp, Engine(tmp) as engine:
        engine.collections.create(
            {"name": "photos", "fields": [{"name": "vec", "type": "float[]", "num_dim": DIM}]}
        )
        documents = engine.collections["photos"].documents
        docs = [{"id": ids[i], "vec": vectors[i].tolist()} for i in order]
        start = time.perf_counter()
        results = documents.import_(docs, {"action": "create"}, batch_size=2000)
        assert all(r["success"] for r in results)
        print(f"import of {len(docs)} documents: {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        groups = documents.find_duplicates(threshold=args.threshold)
        elapsed = time.perf_counter() - start

    found = {frozenset(doc["id"] for doc in g["documents"]) for g in groups}
    exact = len(found & set(planted))
    spurious = [g for g in found if not any(doc_id.startswith("dup") for doc_id in g)]
    print(f"find_duplicates over {len(docs)} vectors (threshold {args.threshold}): {elapsed:.2f} s")
    print(f"groups found: {len(groups)}; planted: {len(planted)}; planted found exactly: {exact}")
    print(f"groups of background vectors only (natural near-duplicates): {len(spurious)}")
    if groups:
        print(
            f"largest group: {groups[0]['size']}; max_distance range: "
            f"{min(g['max_distance'] for g in groups):.4f}-{max(g['max_distance'] for g in groups):.4f}"
        )


if __name__ == "__main__":
    main()
