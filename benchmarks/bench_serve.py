"""`photoseek serve` and a real Typesense 0.24.1, both over loopback HTTP through the official client, in
one run on the same vectors and queries.

    python3 benchmarks/bench_serve.py [--n 10000] [--queries 300]

Both servers start on free loopback ports in temporary folders and are stopped by their PIDs. Each gets the
same N clustered 512-d unit vectors (1,000 per import request) and answers the same raw-vector k=10
queries (multi_search, one search per request): printed are the import time, unfiltered p50/p95, p50
under a filter matching 5% of the documents, and recall@10 against exact cosine search. Helpers (data,
Typesense's process, the query loop) are shared with bench_typesense.py (Typesense vs the engine
in-process).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_typesense import (
    API_KEY,
    TypesenseServer,
    clustered_vectors,
    exact_top_k,
    measure,
    recall,
    run_queries,
    schema,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from serve_process import running_serve  # noqa: E402  (tests/ is not a package on the path)


def client_for(port: int):  # a typesense.Client
    import typesense

    node = {"host": "127.0.0.1", "port": str(port), "protocol": "http"}
    return typesense.Client({"nodes": [node], "api_key": API_KEY, "connection_timeout_seconds": 120})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}"


def run(client, vectors, queries, truth, truth_filtered) -> list[str]:
    client.collections.create(schema())
    docs = client.collections["bench"].documents

    def search(params: dict) -> dict:
        # multi_search, one search per request: a 512-d vector does not fit in Typesense's 4,000-character
        # query string (GET .../search answers 400), so this is how clients send vector queries.
        return client.multi_search.perform({"searches": [params]}, {"collection": "bench"})["results"][0]

    return measure(lambda batch: docs.import_(batch, {"action": "create"}), search, vectors, queries,
                   truth, truth_filtered)


def in_process(data_dir: Path, queries, truth, truth_filtered) -> list[str]:
    """The same library the server built, searched in-process: what the HTTP layer adds is the difference."""
    from app.engine import Engine

    with Engine(data_dir) as engine:
        def search(params: dict) -> dict:
            return engine.multi_search.perform({"searches": [params]}, {"collection": "bench"})["results"][0]

        run_queries(search, queries[:20], filtered=False)
        times, found = run_queries(search, queries, filtered=False)
        filtered_times, filtered_found = run_queries(search, queries, filtered=True)
    return ["-", "-", f"{np.percentile(times, 50):.2f}", f"{np.percentile(times, 95):.2f}",
            f"{recall(found, truth):.3f}", f"{np.percentile(filtered_times, 50):.2f}",
            f"{recall(filtered_found, truth_filtered):.3f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    vectors, queries = clustered_vectors(args.n, args.queries, seed=7)
    allowed = np.arange(args.n) % 20 == 0
    truth, truth_filtered = exact_top_k(vectors, queries, None), exact_top_k(vectors, queries, allowed)
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        with running_serve(folder / "photoseek", API_KEY) as port:
            rows.append(["photoseek serve (HTTP, loopback)",
                         *run(client_for(port), vectors, queries, truth, truth_filtered)])
        rows.append(["Photoseek engine in-process, same library",
                     *in_process(folder / "photoseek", queries, truth, truth_filtered)])
        typesense = TypesenseServer(folder / "typesense")
        try:
            rows.append(["Typesense 0.24.1 (HTTP, loopback)",
                         *run(typesense.client(), vectors, queries, truth, truth_filtered)])
        finally:
            typesense.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.n:,} vectors of 512-d, {args.queries} queries, k=10; {machine()}")
    print("| server | import | docs/s | p50 ms | p95 ms | recall@10 | filtered p50 ms | filtered recall@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
