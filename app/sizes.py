"""Byte counts as people read them, in the decimal units file managers and download pages use."""

from __future__ import annotations


def human_size(size: int | float | None, *, fine: bool = False) -> str:
    """``84 MB``, ``3.4 GB``; ``fine`` keeps one decimal at any size (a download's progress moves)."""
    if not isinstance(size, (int, float)) or isinstance(size, bool) or size < 0:
        return "size unknown"
    if size < 1000:
        return f"{int(size)} byte{'s' if size != 1 else ''}"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}" if fine or value < 10 else f"{value:.0f} {unit}"
