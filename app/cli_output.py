"""Human-readable output for the ``photoseek`` command line: tables, the progress line, summaries.

Kept apart from app/cli.py so that argument handling and what the user reads can change separately.
Nothing here imports the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from app.engine.errors import ModelUnavailable

# A terminal gets a redraw at most this often; more would only burn the CPU the import needs.
TTY_REFRESH_S = 0.1
# Logs and pipes get one line per interval, so a long import neither floods a log nor looks hung.
PLAIN_INTERVAL_S = 5.0


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right_align: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell; columns listed in ``right_align`` (by index) align right.

    The last column is not padded, so long paths do not leave trailing blanks.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if i == len(cells) - 1 and i not in right_align:
                out.append(cell)
            elif i in right_align:
                out.append(cell.rjust(widths[i]))
            else:
                out.append(cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def similarity(hit: dict) -> float | None:
    """Cosine similarity of a hit (1 - vector_distance), or None for a hit without a vector distance."""
    distance = hit.get("vector_distance")
    return None if distance is None else 1.0 - float(distance)


def document_label(doc: dict) -> str:
    """What to show for a document: its path, else its name, else its first string field."""
    for key in ("path", "name"):
        value = doc.get(key)
        if isinstance(value, str) and value:
            return value
    for key, value in doc.items():
        if key != "id" and isinstance(value, str) and value:
            return value
    return ""


def format_hits(result: dict) -> str:
    """A ranked table of a search result's hits: rank, similarity (cosine, -1..1), id, path or name."""
    hits = result.get("hits") or []
    if not hits:
        if result.get("out_of", 0) == 0:
            return "No matches: the collection has no photos yet."
        return "No matches."
    rows = []
    for rank, hit in enumerate(hits, start=1):
        doc = hit.get("document") or {}
        score = similarity(hit)
        rows.append([
            str(rank),
            "-" if score is None else f"{score:.3f}",
            str(doc.get("id", "")),
            document_label(doc),
        ])
    table = format_table(["#", "similarity", "id", "photo"], rows, right_align=(0, 1))
    return f"{table}\n(similarity: cosine similarity of the embeddings, 1.000 = the same picture)"


def index_summary(results: list[dict], *, cancelled: bool, found: int) -> dict:
    """Counts of an import_files run (``found``: files walked) and its per-file results, as --json prints."""
    return {
        "imported": sum(1 for r in results if r["success"] and not r.get("unchanged")),
        "unchanged": sum(1 for r in results if r.get("unchanged")),
        "skipped": sum(1 for r in results if r.get("skipped")),
        "failed": sum(1 for r in results if not r["success"] and not r.get("skipped")),
        "cancelled": cancelled,
        "not_started": max(0, found - len(results)) if cancelled else 0,
        "results": results,
    }


def format_index_report(summary: dict, verbose: bool) -> str:
    """The summary line, then failed files with their reasons (and, when verbose, the non-images)."""
    lines = []
    if summary["cancelled"]:
        lines.append(f"Cancelled: {summary['imported']} photos were imported and are kept; "
                     f"{summary['not_started']} not reached (run the same command again to go on).")
    lines.append(f"Indexed {summary['imported']} photos ({summary['unchanged']} unchanged, "
                 f"{summary['skipped']} skipped: not images, {summary['failed']} failed)")
    results = summary["results"]
    if summary["failed"]:
        lines.append("Failed:")
        lines += [f"  {r['path']}: {r.get('error', 'unknown error')}"
                  for r in results if not r["success"] and not r.get("skipped")]
    if summary["skipped"] and verbose:
        lines.append("Skipped (not images):")
        lines += [f"  {r['path']}" for r in results if r.get("skipped")]
    return "\n".join(lines)


def format_import_report(results: list[dict], line_numbers: list[int], *, cancelled: bool) -> str:
    """Each failed line by its number in the file, then a summary. ``line_numbers[i]`` is result i's line."""
    lines = [f"line {n}: {r.get('error', 'unknown error')}"
             for n, r in zip(line_numbers, results, strict=False) if not r.get("success")]
    failed = len(lines)
    if cancelled:
        lines.append(f"Cancelled after {len(results)} of {len(line_numbers)} documents; those are kept.")
    lines.append(f"Imported {len(results) - failed} documents ({failed} failed)")
    return "\n".join(lines)


def format_collections(collections: list[dict]) -> str:
    if not collections:
        return "No collections yet. Index a folder with: photoseek index PATH"
    rows = []
    for coll in collections:
        fields = coll.get("fields") or []
        models = sorted({
            f["embed"]["model_config"].get("model_name", "?")
            for f in fields
            if isinstance(f.get("embed"), dict) and isinstance(f["embed"].get("model_config"), dict)
        })
        rows.append([
            coll["name"],
            str(coll.get("num_documents", 0)),
            ", ".join(models) or "-",
            ", ".join(f"{f['name']}:{f['type']}" for f in fields),
        ])
    return format_table(["name", "documents", "model", "fields"], rows, right_align=(1,))


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressReporter:
    """The ``progress(done, total)`` callback of an import, drawn on ``stream`` (stderr).

    On a terminal: one line redrawn in place with count, rate and ETA. Elsewhere (logs, pipes): a plain
    line every PLAIN_INTERVAL_S and one at the end. The rate counts only work done since the first report,
    so files skipped up front (unchanged, not images) do not inflate it.
    """

    def __init__(
        self,
        stream: TextIO,
        verb: str = "Indexing",
        noun: str = "photos",
        *,
        interactive: bool | None = None,
        unit: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.verb = verb
        self.noun = noun
        self.unit = unit  # e.g. 1e6 with noun "MB" to count bytes in megabytes
        self.interactive = _isatty(stream) if interactive is None else interactive
        self.clock = clock
        self._start: float | None = None
        self._base = 0
        self._last_draw = float("-inf")
        self._drawn = False
        self.done = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        now = self.clock()
        if self._start is None:
            self._start, self._base = now, done
        self.done, self.total = done, total
        finished = total is not None and done >= total
        interval = TTY_REFRESH_S if self.interactive else PLAIN_INTERVAL_S
        if not finished and now - self._last_draw < interval:
            return
        self._last_draw = now
        text = self.describe(now)
        if self.interactive:
            # \r + erase-line: the next draw replaces this one instead of scrolling the terminal.
            self.stream.write(f"\r\x1b[K{text}")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def describe(self, now: float) -> str:
        count = self._amount(self.done)
        if self.total is not None:
            count += f"/{self._amount(self.total)}"
        parts = [f"{self.verb}: {count} {self.noun}"]
        elapsed = now - (self._start if self._start is not None else now)
        processed = self.done - self._base
        if elapsed > 0 and processed > 0:
            rate = processed / elapsed
            parts.append(f"{rate / self.unit:.1f} {self.noun}/s")
            if self.total is not None and self.done < self.total:
                parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        return ", ".join(parts)

    def _amount(self, value: int) -> str:
        return str(value) if self.unit == 1 else f"{value / self.unit:.1f}"

    def finish(self) -> None:
        """End the redrawn line so whatever is printed next starts on a clean line."""
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        self._drawn = False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def model_unavailable_text(error: ModelUnavailable, *, verbose: bool = False) -> str:
    """What the command line says when a model's weights are missing: after a failed download, the reason
    in a few words and the offline route (one address, then `photoseek model install`); the library's
    long sentence otherwise."""
    from app.resources import default_model

    url = error.download_url
    if not url:
        return error.message
    reasons = list(error.reasons)
    # Each reason is "URL: why"; offline, every source fails for the same why.
    whys = list(dict.fromkeys(reason.split(": ", 1)[-1] for reason in reasons)) or ["unknown reason"]
    model = error.model_name
    # Without --model, `model install` picks the library's model: usually the default one.
    model_option = f"--model {model} " if model and model != default_model() else ""
    lines = [
        f"cannot download the weights of {f'`{model}`' if model else 'the model'}: {'; '.join(whys)}.",
        *offline_route(url, model_option),
    ]
    if verbose:
        lines += ["  Every address tried:", *(f"    {reason}" for reason in reasons)]
    return "\n".join(lines)


def offline_route(url: str, model_option: str = "") -> list[str]:
    """How weights reach a computer without internet, as indented lines: the address to download
    elsewhere, then the command that installs the file here (``model_option``: "--model NAME " or "")."""
    return [
        "  Without internet here, download this file on a computer that has it:",
        f"    {url}",
        f"  then copy it here and run: photoseek model install {model_option}{url.rsplit('/', 1)[-1]}",
    ]
