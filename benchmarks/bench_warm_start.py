"""The first search after start, with and without the warm-up the window runs as soon as it is shown.

    python3 benchmarks/bench_warm_start.py [--n 10000] [--runs 3]

Builds a library of ``n`` photos for the tiny model (photoseek/tiny-shapes, 128-d): real tiny-model
embeddings of generated shape pictures, jittered to ``n`` documents and imported with the vector in the
document (the schema's image is optional), so the build takes seconds; the index on disk, the SQLite file
and the model load are the real ones. The compute path is chosen (and remembered) while building, as on
any launch after the first.

Each measurement is a fresh process, as a launch is, through ``LibraryService`` (what the app's library
thread runs):
- cold: open the library, then the first text search at once, then five more;
- model only: open the library, load the model (what the warm-up did before), then the first search;
- warmed: open the library, ``warm_up(collection)`` (its time is printed: the window runs it in the
  background while the user looks at the grid), then the first text search.
A breakdown of what the cold first search waits for (torch import, model load, the first inference, the
index load, the search itself) is printed from one more process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

COLLECTION = "Photos"
TINY = "photoseek/tiny-shapes"
QUERIES = ["a red circle", "a blue square", "a green triangle", "a yellow star", "a purple ring", "a cross"]

_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from app.library.service import LibraryService
service = LibraryService(sys.argv[1])
service.open()
marks = {"open_ms": (time.perf_counter() - t0) * 1000}
queries = json.loads(sys.argv[3])
if sys.argv[2] == "warmed":
    t = time.perf_counter()
    service.warm_up("Photos")
    marks["warm_up_ms"] = (time.perf_counter() - t) * 1000
elif sys.argv[2] == "model only":  # the warm-up before this change: the model, and nothing else
    from app.engine.embedder import load_embedder
    from app.engine.models import resolve_model
    t = time.perf_counter()
    load_embedder(resolve_model({"model_name": "photoseek/tiny-shapes"}))
    marks["warm_up_ms"] = (time.perf_counter() - t) * 1000
times = []
for q in queries:
    t = time.perf_counter()
    page = service.search("Photos", {"q": q, "query_by": "embedding", "per_page": 50,
                                     "exclude_fields": "embedding"})
    times.append((time.perf_counter() - t) * 1000)
    assert page.found > 0, page.result
marks["first_ms"], marks["next_ms"] = times[0], times[1:]
service.close()
print(json.dumps(marks))
"""

_BREAKDOWN = r"""
import json, sys, time
marks = {}
def mark(name, t):
    marks[name] = round((time.perf_counter() - t) * 1000, 1)
t = time.perf_counter(); import torch; mark("import torch", t)
from app.library.service import LibraryService
t = time.perf_counter(); service = LibraryService(sys.argv[1]); service.open(); mark("open the library", t)
coll = service.client._collection("Photos")
t = time.perf_counter(); embedder = coll.embedder("embedding"); mark("load the model", t)
t = time.perf_counter(); embedder.embed_texts(["warm up"]); mark("first text embedding", t)
t = time.perf_counter(); embedder.embed_texts(["a red circle"]); mark("next text embedding", t)
t = time.perf_counter(); coll.index("embedding"); mark("load the hnswlib index", t)
t = time.perf_counter()
service.search("Photos", {"q": "a red circle", "query_by": "embedding", "per_page": 50,
                          "exclude_fields": "embedding"})
mark("first search after all that", t)
service.close()
print(json.dumps(marks))
"""


def build(data_dir: Path, n: int) -> float:
    import numpy as np

    from app.engine.embedder import load_embedder
    from app.engine.models import resolve_model
    from app.library.defaults import photo_schema
    from app.library.service import LibraryService
    from app.shapes import COLOURS, SHAPES, draw_shape, encode_image

    started = time.perf_counter()
    embedder = load_embedder(resolve_model({"model_name": TINY}))
    pictures = [
        encode_image(draw_shape(colour, shape, size=96, seed=seed), "PNG")
        for colour in COLOURS
        for shape in SHAPES
        for seed in range(2)
    ]
    base = np.array(embedder.embed_images(pictures), dtype=np.float32)
    rng = np.random.default_rng(1)
    vectors = base[rng.integers(0, len(base), size=n)] + rng.normal(scale=0.02, size=(n, base.shape[1]))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    schema = photo_schema(COLLECTION, TINY)
    for field in schema["fields"]:
        if field["type"] == "image":
            field["optional"] = True  # the vectors come with the documents
    service = LibraryService(data_dir)
    service.open()
    service.create_collection(schema)
    docs = service.client.collections[COLLECTION].documents
    rows = (
        {"id": str(i), "name": f"IMG_{i:05d}.jpg", "path": f"/photos/{i // 500}/IMG_{i:05d}.jpg",
         "embedding": vector.tolist()}
        for i, vector in enumerate(vectors.astype(np.float32))
    )
    docs.import_(rows, {"batch_size": 2000})
    service.search(COLLECTION, {"q": "a red circle", "query_by": "embedding"})  # index saved, path chosen
    service.close()
    return time.perf_counter() - started


def child(script: str, data_dir: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, str(data_dir), *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="photoseek-warm-") as tmp:
        os.environ["PHOTOSEEK_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ.pop("PHOTOSEEK_TINY_MODEL_DIR", None)
        data_dir = Path(tmp) / "library"
        print(f"library: {args.n:,} photos, tiny model; built in {build(data_dir, args.n):.1f} s")

        print("what a cold first search waits for (one process, step by step):")
        for step, ms in child(_BREAKDOWN, data_dir).items():
            print(f"  {step:32s} {ms:8.1f} ms")

        results: dict[str, list[dict]] = {"cold": [], "model only": [], "warmed": []}
        for _ in range(args.runs):
            for mode in results:  # interleaved: the shared machine's load hits both alike
                results[mode].append(child(_CHILD, data_dir, mode, json.dumps(QUERIES)))
        for mode, runs in results.items():
            first = statistics.median(r["first_ms"] for r in runs)
            later = statistics.median(ms for r in runs for ms in r["next_ms"])
            line = f"{mode:10s} first search {first:8.1f} ms, next searches {later:6.1f} ms (median)"
            if mode != "cold":
                warm = statistics.median(r["warm_up_ms"] for r in runs)
                line += f"; warm-up itself {warm:,.0f} ms (in the background)"
            opened = statistics.median(r["open_ms"] for r in runs)
            print(f"{line}; open {opened:,.0f} ms; {args.runs} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
