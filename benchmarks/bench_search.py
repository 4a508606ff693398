"""Search speed at library scale, through the engine's Typesense-shaped API.

100k stored 512-d vectors, clustered like real CLIP embeddings (photos come in groups: trips, pets,
documents), not uniform random. Prints:
- `id:` query latency (p50/p95) and recall@10 of the HNSW answer against exact search;
- the overhead of a text search on top of encoding the text (ViT-B-32 architecture, random weights:
  the weights do not change the cost);
- the time to reopen the library and answer the first query (the index is loaded, not rebuilt);
- resident memory.

Usage: python benchmarks/bench_search.py [--n 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_memory import rss_mib  # benchmarks/ is on sys.path when a script runs

from app.engine import Engine

DIMS = 512
MODEL = {"model_name": "openclip/ViT-B-32/openai"}


def clustered(n: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIMS)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, clusters, size=n)
    vectors = centres[which] + rng.normal(scale=0.035, size=(n, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def build(data_dir: Path, vectors: np.ndarray) -> float:
    schema = {
        "name": "photos",
        "fields": [
            {"name": "name", "type": "string"},
            {"name": "image", "type": "image", "store": False, "optional": True},
            {"name": "embedding", "type": "float[]", "embed": {"from": ["image"], "model_config": MODEL}},
        ],
    }
    started = time.perf_counter()
    with Engine(data_dir, allow_random_weights=True) as engine:
        engine.collections.create(schema)
        docs = ({"id": str(i), "name": f"photo {i}", "embedding": v.tolist()} for i, v in enumerate(vectors))
        engine.collections["photos"].documents.import_(docs, {"batch_size": 2000})
        engine.multi_search.perform({"searches": [{"collection": "photos", "q": "*",
                                                   "vector_query": "embedding:([], id:0)"}]})
    return time.perf_counter() - started


_APP_PROCESS = """
import sys
from app.engine import Engine, compute
from bench_memory import rss_mib
compute.use_request(compute.parse_request(sys.argv[2]))
with Engine(sys.argv[1], allow_random_weights=True) as engine:
    docs = engine.collections["photos"].documents
    docs.search({"q": "*", "vector_query": "embedding:([], id:1)", "exclude_fields": "embedding"})
    docs.search({"q": "a dog on a beach", "query_by": "embedding", "exclude_fields": "embedding"})
    print(rss_mib())
"""


def app_rss_mib(data_dir: Path, device: str) -> float:
    """Resident memory of a process that only opens the library and searches it, as the app does."""
    root = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root.parent)])}
    out = subprocess.run(
        [sys.executable, "-c", _APP_PROCESS, str(data_dir), device],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="photoseek-bench-"))
    try:
        vectors = clustered(args.n, clusters=max(10, args.n // 100), seed=1)
        build_s = build(data_dir, vectors)
        print(f"library: {args.n} documents x {DIMS} dims, built in {build_s:.1f} s")

        started = time.perf_counter()
        engine = Engine(data_dir, allow_random_weights=True)
        first = engine.multi_search.perform(
            {"searches": [{"collection": "photos", "q": "*", "vector_query": "embedding:([], id:1)",
                           "exclude_fields": "embedding"}]}
        )
        reopen_s = time.perf_counter() - started
        assert first["results"][0]["found"] == 10, first
        print(f"reopen + first id: query: {reopen_s * 1000:.0f} ms (target < 2000 ms)")

        rng = np.random.default_rng(7)
        ids = rng.choice(args.n, size=args.queries, replace=False)
        latencies, recalls = [], []
        for doc_id in ids:
            t0 = time.perf_counter()
            result = engine.multi_search.perform(
                {"searches": [{"collection": "photos", "q": "*", "exclude_fields": "embedding",
                               "vector_query": f"embedding:([], id:{doc_id})"}]}
            )["results"][0]
            latencies.append((time.perf_counter() - t0) * 1000)
            got = {int(h["document"]["id"]) for h in result["hits"]}
            sims = vectors @ vectors[doc_id]
            sims[doc_id] = -np.inf
            exact = set(np.argpartition(-sims, 10)[:10].tolist())
            recalls.append(len(got & exact) / 10)
        print(f"id: query latency: p50 {pct(latencies, 50):.2f} ms, p95 {pct(latencies, 95):.2f} ms "
              f"(target p50 < 5 ms)")
        print(f"recall@10 vs exact search: {statistics.mean(recalls):.4f} (target >= 0.98)")

        coll = engine._collection("photos")
        embedder = coll.embedder("embedding")
        words = ["beach at sunset", "a dog in the snow", "birthday cake", "red car", "mountain lake"]
        embedder.embed_texts(["warm up"])
        encode_ms, total_ms = [], []
        for i in range(60):
            text = f"{words[i % len(words)]} {i}"
            t0 = time.perf_counter()
            embedder.embed_texts([text])
            encode_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            engine.multi_search.perform({"searches": [{"collection": "photos", "q": text + " ",
                                                       "query_by": "embedding",
                                                       "exclude_fields": "embedding"}]})
            total_ms.append((time.perf_counter() - t0) * 1000)
        overhead = pct(total_ms, 50) - pct(encode_ms, 50)
        print(f"text query: encode p50 {pct(encode_ms, 50):.1f} ms, "
              f"full search p50 {pct(total_ms, 50):.1f} ms, overhead {overhead:.1f} ms (target < 10 ms)")
        gc.collect()
        print(f"resident memory: {rss_mib():.0f} MiB (this process: it also built the library and holds "
              "the 205 MB of vectors for recall)")
        engine.close()
        for device in ("cpu:fp32", "auto"):
            print(f"resident memory of the app's share, {device}: {app_rss_mib(data_dir, device):.0f} MiB "
                  "(a fresh process: library opened, ViT-B-32 loaded, an id: and a text search answered)")
        index_files = list((data_dir / "indexes").glob("*.hnsw"))
        db_mib = (data_dir / "photoseek.db").stat().st_size / 2**20
        index_mib = sum(p.stat().st_size for p in index_files) / 2**20
        print(f"on disk: database {db_mib:.0f} MiB, index {index_mib:.0f} MiB")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
