"""The engine's vector path alone, at one or several library sizes: importing caller-supplied vectors,
k=10 `vector_query` searches with and without a filter, recall, and the engine's resident memory.

    python3 benchmarks/bench_vectors.py --n 100000                  # one size
    python3 benchmarks/bench_vectors.py --sizes 10000,100000,300000 # the growth table
    python3 benchmarks/bench_vectors.py --n 100000 --app-root /tmp/base   # another tree's engine ("before")

The data and queries are bench_typesense.py's (clustered 512-d unit vectors, a `group` field that the filter
`group:=0` matches on 5% of the documents), so the figures compare with that side-by-side table. Each size
runs in two fresh processes: one imports (1,000 documents per `import_` call, as bench_typesense does) and
closes the engine; the other reopens the library and queries it, so its resident memory is the engine's
(its share is RSS after the queries minus RSS before the engine was opened; the query vectors and the
exact answers are handed over in a small file, not recomputed from the whole data set there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_memory import rss_mib  # noqa: E402
from bench_typesense import (  # noqa: E402  (benchmarks/ first, then the engine's tree)
    BATCH,
    GROUPS,
    K,
    clustered_vectors,
    documents,
    exact_top_k,
    query_params,
    schema,
)


def use_tree(app_root: str) -> None:
    sys.path.insert(0, app_root)


def build(folder: Path, n: int, queries: int) -> dict:
    from app.engine import Engine

    vectors, query_vectors = clustered_vectors(n, queries, seed=1)
    allowed = np.arange(n) % GROUPS == 0
    truth = exact_top_k(vectors, query_vectors, None)
    truth_filtered = exact_top_k(vectors, query_vectors, allowed)
    np.savez(folder / "queries.npz", queries=query_vectors,
             truth=np.array([sorted(int(i) for i in t) for t in truth]),
             truth_filtered=np.array([sorted(int(i) for i in t) for t in truth_filtered]))
    engine = Engine(folder / "library")
    engine.collections.create(schema())
    docs = engine.collections["bench"].documents
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        results = docs.import_(documents(vectors, start, min(start + BATCH, n)), {"action": "create"})
        if not all(r.get("success") for r in results):
            raise SystemExit(f"import failed: {next(r for r in results if not r.get('success'))}")
    imported = time.perf_counter() - started
    engine.close()
    closed = time.perf_counter() - started
    return {"n": n, "import_s": imported, "docs_per_s": n / imported, "import_and_close_s": closed}


def query(folder: Path, efs: list[int]) -> dict:
    saved = np.load(folder / "queries.npz")
    query_vectors, truth, truth_filtered = saved["queries"], saved["truth"], saved["truth_filtered"]
    from app.engine import Engine

    before = rss_mib()
    started = time.perf_counter()
    engine = Engine(folder / "library")
    search = engine.collections["bench"].documents.search
    search(query_params(query_vectors[0], False))
    first_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    search(query_params(query_vectors[0], True))
    first_filtered_ms = (time.perf_counter() - started) * 1000
    out = {"reopen_first_query_ms": first_ms, "first_filtered_ms": first_filtered_ms}
    for name, filtered, want in (("unfiltered", False, truth), ("filtered", True, truth_filtered)):
        for q in query_vectors[:20]:  # warm-up
            search(query_params(q, filtered))
        times, hits = [], 0
        for q, expected in zip(query_vectors, want, strict=True):
            params = query_params(q, filtered)
            t0 = time.perf_counter()
            result = search(params)
            times.append((time.perf_counter() - t0) * 1000)
            hits += len({int(h["document"]["id"]) for h in result["hits"]} & set(expected.tolist()))
        out[f"{name}_p50_ms"] = float(np.percentile(times, 50))
        out[f"{name}_p95_ms"] = float(np.percentile(times, 95))
        out[f"{name}_recall"] = hits / (K * len(query_vectors))
    for ef in efs:
        times, hits = [], 0
        for q, expected in zip(query_vectors, truth, strict=True):
            params = query_params(q, False)
            params["vector_query"] = params["vector_query"][:-1] + f", ef:{ef})"
            t0 = time.perf_counter()
            result = search(params)
            times.append((time.perf_counter() - t0) * 1000)
            hits += len({int(h["document"]["id"]) for h in result["hits"]} & set(expected.tolist()))
        out[f"ef{ef}"] = {"p50_ms": float(np.percentile(times, 50)),
                          "recall": hits / (K * len(query_vectors))}
    # The same query without parsing 512 numbers out of a string: what a caller passing an `id:` pays.
    times = []
    for doc_id in range(0, 3000, 10):
        params = {"q": "*", "vector_query": f"vec:([], id:{doc_id}, k:{K})", "per_page": K,
                  "exclude_fields": "vec"}
        t0 = time.perf_counter()
        search(params)
        times.append((time.perf_counter() - t0) * 1000)
    out["id_p50_ms"] = float(np.percentile(times, 50))
    out["engine_rss_mib"] = rss_mib() - before
    out["process_rss_mib"] = rss_mib()
    engine.close()
    return out


def run_phase(phase: str, folder: Path, args: argparse.Namespace, n: int) -> dict:
    command = [sys.executable, __file__, "--phase", phase, "--folder", str(folder), "--n", str(n),
               "--queries", str(args.queries), "--app-root", args.app_root, "--efs", args.efs]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--sizes", default="", help="comma-separated sizes: the growth table")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--app-root", default=str(HERE.parent), help="the tree whose engine is measured")
    parser.add_argument("--efs", default="", help="also measure unfiltered queries at these `ef` values")
    parser.add_argument("--phase", choices=["build", "query"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    use_tree(args.app_root)
    if args.phase == "build":
        print(json.dumps(build(Path(args.folder), args.n, args.queries)))
        return
    if args.phase == "query":
        print(json.dumps(query(Path(args.folder), [int(e) for e in args.efs.split(",") if e])))
        return
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.n]
    print(f"engine from {args.app_root}; {os.cpu_count()} CPUs; {args.queries} queries, k={K}, "
          f"filter `group:=0` matches 5%", flush=True)
    rows = []
    for n in sizes:
        folder = Path(tempfile.mkdtemp(prefix="bench-vectors-"))
        try:
            row = run_phase("build", folder, args, n)
            row.update(run_phase("query", folder, args, n))
            db = folder / "library" / "photoseek.db"
            row["db_mib"] = db.stat().st_size / 2**20
            indexes = (folder / "library" / "indexes").glob("*.hnsw")
            row["index_mib"] = sum(p.stat().st_size for p in indexes) / 2**20
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| n | import docs/s | import+close s | reopen+1st ms | p50 ms | p95 ms | recall@10 | "
          "filtered 1st ms | filtered p50 ms | filtered recall | id: p50 ms | engine RSS MiB | db MiB | "
          "index MiB |")
    for r in rows:
        print(f"| {r['n']:,} | {r['docs_per_s']:,.0f} | {r['import_and_close_s']:.1f} | "
              f"{r['reopen_first_query_ms']:.0f} | {r['unfiltered_p50_ms']:.2f} | "
              f"{r['unfiltered_p95_ms']:.2f} | "
              f"{r['unfiltered_recall']:.3f} | {r['first_filtered_ms']:.1f} | {r['filtered_p50_ms']:.2f} | "
              f"{r['filtered_recall']:.3f} | {r['id_p50_ms']:.2f} | {r['engine_rss_mib']:.0f} | "
              f"{r['db_mib']:.0f} | {r['index_mib']:.0f} |")


if __name__ == "__main__":
    main()
