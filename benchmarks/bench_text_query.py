"""A typed query's whole time at library scale: encoding the text, searching, and shaping the hits.

    python3 benchmarks/bench_text_query.py [--n 100000] [--queries 60]

Measured in one run, ViT-B-32 architecture (random weights: the weights do not change the cost):
  before     open_clip's own encode_text in fp32 over the full 77-token context (what Photoseek ran until
             the text tower learnt to stop at the query's end)
  trimmed    the same fp32 model, run only up to the longest query's end-of-text token
  fast path  trimmed, on the compute path this computer measured fastest (compute_choice)
  search     documents.search with `q` on a library of --n documents: encode + HNSW + fetch + hits,
             through the engine's public API, on the fast path, asked as the app asks (30 hits, the
             embedding left out of them)
The "before" total is the search's time with the before encoding in place of the fast one (both measured
in this run); everything else in a search is the same code either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_search import build, clustered

from app.engine import Engine, compute
from app.engine.embedder import Embedder, clear_embedder_cache, load_embedder
from app.engine.models import resolve_model

MODEL_NAME = "openclip/ViT-B-32/openai"
QUERIES = [
    "a dog on the beach", "sunset", "birthday cake with candles", "two children playing in the snow",
    "receipt", "a red car parked in front of an old stone house", "mountains", "my cat asleep on the sofa",
    "wedding", "a plate of pasta", "city skyline at night with lights reflected in the river", "passport",
]


_runs = iter(range(10**9))


def run_number() -> int:
    return next(_runs)


def p50_ms(run: Callable[[str], object], count: int) -> float:
    times = []
    for i in range(count):
        # Numbered, so that no query is answered from the embedder's cache of recent texts.
        query = f"{QUERIES[i % len(QUERIES)]} {run_number()}"
        start = time.perf_counter()
        run(query)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def embedder_on(path: str) -> Embedder:
    compute.use_request(compute.parse_request(path))
    return load_embedder(resolve_model({"model_name": MODEL_NAME}), allow_random_weights=True)


def untrimmed_fp32(embedder: Embedder) -> Callable[[str], object]:
    import torch

    tokenizer = embedder._tokenizer  # the model's own tokenizer: the same tokens the engine encodes

    def run(query: str) -> object:
        with torch.inference_mode():
            features = embedder.model.encode_text(tokenizer([query]))
            return torch.nn.functional.normalize(features, dim=-1).numpy()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="documents in the library")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    print(f"CPU: {compute.cpu_name()}; native bf16: {compute.cpu_has_native_bf16()}; "
          f"GPU: {compute.gpu_name()}")

    fp32 = embedder_on("cpu:fp32")
    fast = embedder_on("auto")
    print(f"fast path: {fast.compute_choice.describe()}")
    before, trimmed = untrimmed_fp32(fp32), lambda q: fp32.embed_texts([q])
    for run in (before, trimmed, lambda q: fast.embed_texts([q])):
        run("warm up")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        build(Path(folder), clustered(args.n, max(args.n // 100, 1), seed=5))
        print(f"library of {args.n:,} documents built in {time.perf_counter() - started:.1f} s")
        with Engine(folder, allow_random_weights=True) as engine:
            documents = engine.collections["photos"].documents

            def search(query: str) -> object:
                # As the app asks: a page of 30, without the 512 numbers of each hit's embedding.
                result = documents.search(
                    {"q": query, "query_by": "embedding", "per_page": 30, "exclude_fields": "embedding"}
                )
                assert len(result["hits"]) == 30
                return result

            search("warm up")
            rows = {"before": [], "trimmed": [], "fast": [], "search": []}  # type: dict[str, list[float]]
            # Interleaved rounds, so each figure sees the same background load.
            for _ in range(3):
                rows["before"].append(p50_ms(before, args.queries // 3))
                rows["trimmed"].append(p50_ms(trimmed, args.queries // 3))
                rows["fast"].append(p50_ms(lambda q: fast.embed_texts([q]), args.queries // 3))
                rows["search"].append(p50_ms(search, args.queries // 3))
    med = {name: statistics.median(values) for name, values in rows.items()}
    rest = med["search"] - med["fast"]
    print(f"encode p50: before {med['before']:.1f} ms, trimmed fp32 {med['trimmed']:.1f} ms, "
          f"fast path ({fast.compute_path}) {med['fast']:.1f} ms")
    print(f"whole text search p50 at {args.n:,}: {med['search']:.1f} ms "
          f"(encode {med['fast']:.1f} + search and hits {rest:.1f}); before: {med['before'] + rest:.1f} ms; "
          f"{(med['before'] + rest) / med['search']:.1f}x faster")
    clear_embedder_cache()


if __name__ == "__main__":
    main()
