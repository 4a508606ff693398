"""Resident memory of the running process, for the benchmarks (Linux /proc; NaN elsewhere).

Kept apart from the benchmarks that import the engine: bench_vectors.py must choose which tree's `app`
it measures before anything imports it."""

from __future__ import annotations


def rss_mib() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
