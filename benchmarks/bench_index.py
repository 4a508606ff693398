"""VectorIndex benchmark on CLIP-like data: build, query latency and recall, save/load, memory.

    python3 benchmarks/bench_index.py [--n 100000] [--dim 512] [--clusters 1000]

The vectors are clustered on the unit sphere around a shared direction (CLIP embeddings sit in a narrow
cone, so unrelated photos still have cosine ~0.3, near-duplicates ~0.9): uniform random vectors would be a
much easier and less honest test. Recall@10 is measured against exact brute force.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_memory import rss_mib  # benchmarks/ is on sys.path when a script runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engine import index as index_module
from app.engine.index import VectorIndex

K = 10


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


class ClipLikeData:
    """Clusters on the unit sphere around a shared direction, with CLIP-like low effective dimension.

    Real CLIP embeddings vary mostly along a few dozen directions (their covariance spectrum decays
    roughly as 1/i), so the noise here has variance 1/i along a random orthonormal basis: an effective
    dimension near 30. `flat_spectrum=True` gives isotropic noise instead, a much harder worst case where
    all points of a cluster are nearly equidistant from each other.
    """

    def __init__(
        self, n: int, dim: int, clusters: int, *, flat_spectrum: bool = False, seed: int = 0
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        variances = np.ones(dim) if flat_spectrum else 1.0 / np.arange(1, dim + 1)
        self.scales = np.sqrt(variances / variances.sum()).astype(np.float32)  # noise rows of norm ~1
        self.rotation = np.linalg.qr(self.rng.standard_normal((dim, dim)))[0].astype(np.float32)
        self.shared = unit(self.rng.standard_normal(dim))
        self.centres = unit(self.noise(clusters) + self.shared)
        # Uneven cluster sizes, as in a real photo library (many shots of a few subjects).
        weights = self.rng.dirichlet(np.full(clusters, 0.5))
        self.vectors = self.around(self.rng.choice(clusters, size=n, p=weights))

    def noise(self, count: int) -> np.ndarray:
        return (self.rng.standard_normal((count, self.dim), dtype=np.float32) * self.scales) @ self.rotation

    def around(self, centre_ids: np.ndarray, spread: float = 0.5) -> np.ndarray:
        out = np.empty((len(centre_ids), self.dim), dtype=np.float32)
        for start in range(0, len(centre_ids), 20000):
            ids = centre_ids[start : start + 20000]
            out[start : start + len(ids)] = unit(self.centres[ids] + spread * self.noise(len(ids)))
        return out

    def queries(self, count: int) -> dict[str, np.ndarray]:
        picks = self.rng.choice(len(self.vectors), size=count, replace=False)
        some_centres = self.centres[self.rng.choice(len(self.centres), size=count)]
        return {
            # "more like this photo": a near-duplicate of a stored vector
            "perturbed stored": unit(self.vectors[picks] + 0.2 * self.noise(count)),
            # a new photo of a known subject
            "fresh point": self.around(self.rng.choice(len(self.centres), size=count)),
            # text queries sit farther from the image cloud (the modality gap), so they are reported apart
            "text-like (far)": unit(some_centres + 1.5 * self.noise(count) + 0.8 * self.shared),
        }


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        sims = queries[start : start + 50] @ vectors.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        out[start : start + 50] = np.take_along_axis(top, order, axis=1)
    return out


def run_queries(
    index: VectorIndex, queries: np.ndarray, truth: np.ndarray, **kw: object
) -> tuple[float, list[float]]:
    found, times = 0, []
    for query, want in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        labels, _ = index.search(query, K, **kw)
        times.append(time.perf_counter() - t0)
        found += len(set(labels.tolist()) & set(want.tolist()))
    return found / (K * len(queries)), times


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


LOAD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[3])
from app.engine.index import VectorIndex
t1 = time.perf_counter()
loaded = VectorIndex.load(sys.argv[1], int(sys.argv[2]))
t2 = time.perf_counter()
index = loaded[0]
index.search(index.get(int(index.labels()[0])), 10)
t3 = time.perf_counter()
rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:')) / 1024
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first_search": t3 - t2, "rss": rss}))
"""


def load_in_fresh_process(path: Path, dim: int) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    command = [sys.executable, "-c", LOAD_SCRIPT, str(path), str(dim), root]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(times, q) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100, help="per query kind")
    parser.add_argument("--M", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--flat-spectrum", action="store_true", help="isotropic noise (hard worst case)")
    parser.add_argument("--efs", default="16,32,64,128,256", help="extra search ef values to try")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []

    def row(name: str, value: str) -> None:
        rows.append((name, value))
        print(f"  {name:<44} {value}", flush=True)

    spectrum = "flat (isotropic)" if args.flat_spectrum else "1/i (CLIP-like)"
    print(
        f"VectorIndex benchmark: n={args.n} dim={args.dim} clusters={args.clusters} noise spectrum "
        f"{spectrum}, cpus={os.cpu_count()}"
    )
    t0 = time.perf_counter()
    data = ClipLikeData(args.n, args.dim, args.clusters, flat_spectrum=args.flat_spectrum)
    queries = data.queries(args.queries)
    row("data generation", f"{time.perf_counter() - t0:.1f} s")
    rss_data = rss_mib()
    sample = data.vectors[np.random.default_rng(1).choice(args.n, 2000, replace=False)]
    sims = sample @ sample.T
    row("cosine, random pairs (median)", f"{np.median(sims[np.triu_indices(2000, 1)]):.2f}")

    t0 = time.perf_counter()
    truth = {name: exact_top_k(data.vectors, q, K) for name, q in queries.items()}
    row("exact top-10 per query (numpy)", f"{(time.perf_counter() - t0) / (3 * args.queries) * 1000:.1f} ms")

    labels = np.arange(args.n, dtype=np.int64)
    t0 = time.perf_counter()
    index = VectorIndex.build(args.dim, labels, data.vectors, M=args.M, ef_construction=args.ef_construction)
    build_s = time.perf_counter() - t0
    row(
        f"build (M={args.M}, ef_construction={args.ef_construction})",
        f"{build_s:.1f} s ({args.n / build_s:.0f} vectors/s on {os.cpu_count()} cores)",
    )
    row("RSS after build (index part)", f"{rss_mib() - rss_data:.0f} MiB (process {rss_mib():.0f} MiB)")

    main_kinds = ["perturbed stored", "fresh point"]
    both = np.concatenate([queries[k] for k in main_kinds])
    both_truth = np.concatenate([truth[k] for k in main_kinds])
    default_ef = index_module.DEFAULT_EF
    efs = [None, *sorted({int(e) for e in args.efs.split(",")} - {default_ef})]
    print()
    print(
        f"  {'ef':<12}{'recall@10 (200)':>16}{'perturbed':>11}{'fresh':>8}{'text-like':>11}"
        f"{'p50 ms':>9}{'p95 ms':>9}"
    )
    for ef in efs:
        recall, times = run_queries(index, both, both_truth, ef=ef)
        kinds = [*main_kinds, "text-like (far)"]
        per_kind = [run_queries(index, queries[k], truth[k], ef=ef)[0] for k in kinds]
        name = f"{default_ef} (default)" if ef is None else str(ef)
        print(
            f"  {name:<12}{recall:>16.4f}{per_kind[0]:>11.4f}{per_kind[1]:>8.4f}{per_kind[2]:>11.4f}"
            f"{percentile_ms(times, 50):>9.2f}{percentile_ms(times, 95):>9.2f}",
            flush=True,
        )
        if ef is None:
            default_recall = recall
            row_p50, row_p95 = percentile_ms(times, 50), percentile_ms(times, 95)
    print()
    row(
        "recall@10 at default ef (target >= 0.98)",
        f"{default_recall:.4f} {'OK' if default_recall >= 0.98 else 'BELOW TARGET'}",
    )
    row("query latency at default ef p50 / p95", f"{row_p50:.2f} / {row_p95:.2f} ms")

    # Filtered search: 1% of the library allowed (e.g. one album), predicate run inside the graph walk.
    allowed = set(np.random.default_rng(2).choice(args.n, args.n // 100, replace=False).tolist())
    mask = np.zeros(args.n, dtype=bool)
    mask[list(allowed)] = True
    sub_ids = np.flatnonzero(mask)
    sub_truth = sub_ids[exact_top_k(data.vectors[sub_ids], both[:50], K)]
    recall_f, times_f = run_queries(index, both[:50], sub_truth, allowed=allowed)
    row(
        "filtered 1% (set) recall@10 / p50 / p95",
        f"{recall_f:.4f} / {percentile_ms(times_f, 50):.1f} / {percentile_ms(times_f, 95):.1f} ms",
    )
    recall_c, times_c = run_queries(index, both[:50], sub_truth, allowed=allowed, flat_search_cutoff=2000)
    row(
        "filtered 1% with flat_search_cutoff=2000",
        f"{recall_c:.4f} / {percentile_ms(times_c, 50):.1f} / {percentile_ms(times_c, 95):.1f} ms",
    )
    _, times_x = run_queries(index, both[:50], both_truth[:50], exclude={int(labels[0])})
    row("exclude one label p50", f"{percentile_ms(times_x, 50):.2f} ms")

    with tempfile.TemporaryDirectory(prefix="bench_index.") as tmp:
        path = Path(tmp) / "images.embedding.hnsw"
        t0 = time.perf_counter()
        index.save(path, meta={"seq": 1})
        row("save (incl. fsync + crc32)", f"{time.perf_counter() - t0:.2f} s")
        row(
            "file size",
            f"{path.stat().st_size / 2**20:.0f} MiB (+ sidecar {Path(str(path) + '.json').stat().st_size} B)",
        )
        t0 = time.perf_counter()
        loaded = VectorIndex.load(path, args.dim)
        load_s = time.perf_counter() - t0
        assert loaded is not None and len(loaded[0]) == args.n
        row("load, same process (warm page cache)", f"{load_s:.2f} s")
        same = all(np.array_equal(loaded[0].search(q, K)[0], index.search(q, K)[0]) for q in both[:50])
        row("loaded index gives identical results", str(same))
        del loaded
        fresh = load_in_fresh_process(path, args.dim)
        row(
            "load, fresh process (import / load / 1st query)",
            f"{fresh['import']:.2f} s / {fresh['load']:.2f} s / {fresh['first_search'] * 1000:.1f} ms",
        )
        row("load target (< 2 s)", "OK" if fresh["load"] < 2.0 else "TOO SLOW")
        row("RSS of fresh process after load", f"{fresh['rss']:.0f} MiB")
    row("peak RSS of this process", f"{peak_rss_mib():.0f} MiB")

    print("\nSummary")
    for name, value in rows:
        print(f"  {name:<44} {value}")


if __name__ == "__main__":
    main()
