"""What the window's boundary to the library costs, and how long a search waits while an import runs.

    python3 benchmarks/bench_bridge.py [--photos 20000] [--searches 200]

1. The same vector search (k=250, 512-d, a library of ``--photos`` random CLIP-like vectors) called on the
   library service directly, and through the bridge (``bridge.call("search", ...)`` on the GUI thread,
   run on the engine thread, answered by the Request's ``done`` signal). The difference is the boundary's
   cost per request: two thread hops and the request object.
2. A search asked for while the tiny model imports 192 pictures: from the call to its answer. The runner
   steps the import a chunk (about a second) at a time, so a search waits at most about one chunk.
Offscreen Qt, no display needed. Ratios are from one run on one machine; the absolute figures depend on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
DIMS = 512


def fill(service, photos: int) -> None:
    import numpy as np

    fields = [{"name": "title", "type": "string"}, {"name": "vec", "type": "float[]", "num_dim": DIMS}]
    service.create_collection({"name": "bench", "fields": fields})
    rng = np.random.default_rng(7)
    documents = service.client.collections["bench"].documents
    for start in range(0, photos, 2000):
        vectors = rng.standard_normal((min(2000, photos - start), DIMS)).astype(np.float32)
        batch = [{"id": str(start + i), "title": "photo", "vec": v.tolist()} for i, v in enumerate(vectors)]
        documents.import_(batch)


def median_ms(values: list[float]) -> str:
    p90 = sorted(values)[int(len(values) * 0.9)]
    return f"median {statistics.median(values) * 1000:.2f} ms (p90 {p90 * 1000:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop

    from app.gui.bridge import LibraryBridge
    from app.library import ImportProgress, LibraryService, photo_schema
    from app.shapes import write_shape_folder

    app = QCoreApplication([])
    query = ",".join(["0.01"] * DIMS)
    params = {"q": "*", "vector_query": f"vec:([{query}], k:250)", "per_page": 250, "exclude_fields": "vec"}

    def wait(request) -> object:
        loop = QEventLoop()
        answer: list[object] = []
        request.done.connect(lambda result: (answer.append(result), loop.quit()))
        request.failed.connect(lambda problem: (answer.append(problem), loop.quit()))
        if not request.finished:
            loop.exec()
        return answer[0]

    with tempfile.TemporaryDirectory(prefix="photoseek-bridge-") as tmp:
        os.environ["PHOTOSEEK_DATA_DIR"] = tmp
        direct_service = LibraryService(Path(tmp) / "direct")
        direct_service.open()
        fill(direct_service, args.photos)
        direct_service.search("bench", params)  # index loaded, caches warm
        direct = []
        for _ in range(args.searches):
            started = time.perf_counter()
            direct_service.search("bench", params)
            direct.append(time.perf_counter() - started)
        direct_service.close()

        bridge = LibraryBridge(LibraryService(Path(tmp) / "direct"))
        wait(bridge.start())
        wait(bridge.call("search", "bench", params))
        bridged = []
        for _ in range(args.searches):
            started = time.perf_counter()
            wait(bridge.call("search", "bench", params, supersede="search"))
            bridged.append(time.perf_counter() - started)

        photos = Path(tmp) / "pictures"
        write_shape_folder(photos, per_class=4, size=64, fmt="PNG")
        # The model loads first: loading it holds the engine thread once, which is not what is measured.
        wait(bridge.call("create_collection", photo_schema("Shapes", "photoseek/tiny-shapes")))
        wait(bridge.call("warm_up", "Shapes"))
        importing = bridge.call("import_paths", "Shapes", [str(photos)])
        during: list[float] = []
        chunks: list[float] = []
        last = [time.perf_counter()]

        def on_progress(progress: object) -> None:
            if isinstance(progress, ImportProgress) and progress.imported_ids:
                now = time.perf_counter()
                chunks.append(now - last[0])
                last[0] = now

        importing.progress.connect(on_progress)
        ended: list[object] = []
        importing.done.connect(ended.append)
        while not importing.finished:
            started = time.perf_counter()
            wait(bridge.call("search", "bench", params, supersede="search"))
            during.append(time.perf_counter() - started)
        summary = ended[0] if ended else wait(importing)
        bridge.shutdown()
    del app

    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")
    print(f"library: {args.photos:,} vectors of {DIMS} dims; {args.searches} searches of k=250 each way")
    print(f"search, service called directly:  {median_ms(direct)}")
    print(f"search, through the bridge:       {median_ms(bridged)}")
    overhead = statistics.median(bridged) - statistics.median(direct)
    ratio = statistics.median(bridged) / statistics.median(direct)
    print(f"bridge cost per request:          {overhead * 1000:.2f} ms ({ratio:.2f}x)")
    print(f"import of {summary.total} pictures (tiny model): {len(chunks)} chunks, {median_ms(chunks)}")
    longest = max(during) * 1000
    print(f"searches answered during it:      {len(during)}, wait {median_ms(during)}")
    print(f"longest wait:                     {longest:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
