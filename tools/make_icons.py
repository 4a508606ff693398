"""Render the app icon's PNG sizes, .ico and .icns from the SVG masters in icons/app/.

    python3 tools/make_icons.py              # (re)write icons/app/png/*.png, photoseek.ico, photoseek.icns
    python3 tools/make_icons.py --check      # exit 1 if the committed files no longer match the SVGs
    python3 tools/make_icons.py --preview sheet.png   # every size on light and dark backgrounds, to look at

Sizes up to 32 px come from ``photoseek-small.svg``, a simplified drawing that stays legible at 16 px;
larger ones from ``photoseek.svg``. Rendering uses QtSvg (the renderer the app itself uses), offscreen.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

REPO_ROOT = Path(__file__).resolve().parent.parent
ICON_DIR = REPO_ROOT / "icons" / "app"
MASTER_SVG = ICON_DIR / "photoseek.svg"
SMALL_SVG = ICON_DIR / "photoseek-small.svg"
PNG_DIR = ICON_DIR / "png"
ICO_FILE = ICON_DIR / "photoseek.ico"
ICNS_FILE = ICON_DIR / "photoseek.icns"

SMALL_MAX = 32  # sizes up to this use the simplified drawing
# The hicolor theme's usual app sizes (22 for old panels), which also cover Windows and macOS needs.
PNG_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # Windows: 256 is the largest an .ico holds
# macOS: 1024 is the 512@2x Retina image. Pillow writes no 16@1x entry; macOS scales the 32 (16@2x) down,
# and the macOS recipe (packaging/macos/) builds its .icns with iconutil, which has every slot.
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)
# --check tolerance: Qt versions may anti-alias an edge differently, a changed drawing moves far more.
MAX_MEAN_DIFFERENCE = 2.0


def png_path(size: int) -> Path:
    return PNG_DIR / f"photoseek-{size}.png"


def _qt_app() -> object:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() or QGuiApplication([sys.argv[0]])


def render(svg: Path, size: int) -> Image.Image:
    """Draw ``svg`` into a ``size`` x ``size`` RGBA image."""
    _qt_app()
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg.read_bytes()))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGBA")


def icon_image(size: int) -> Image.Image:
    return render(SMALL_SVG if size <= SMALL_MAX else MASTER_SVG, size)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)  # Pillow writes no timestamp: same input, same bytes
    return buffer.getvalue()


def write_all() -> list[Path]:
    images = {size: icon_image(size) for size in sorted({*PNG_SIZES, *ICO_SIZES, *ICNS_SIZES})}
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for size in PNG_SIZES:
        png_path(size).write_bytes(_png_bytes(images[size]))
        written.append(png_path(size))
    largest_ico = images[max(ICO_SIZES)]
    # append_images hands over each hand-drawn size; otherwise Pillow would shrink the largest one.
    largest_ico.save(
        ICO_FILE,
        format="ICO",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    written.append(ICO_FILE)
    images[max(ICNS_SIZES)].save(
        ICNS_FILE, format="ICNS", append_images=[images[s] for s in ICNS_SIZES if s != max(ICNS_SIZES)]
    )
    written.append(ICNS_FILE)
    return written


def _difference(a: Image.Image, b: Image.Image) -> float:
    if a.size != b.size:
        return float("inf")
    return max(ImageStat.Stat(ImageChops.difference(a.convert("RGBA"), b.convert("RGBA"))).mean)


def stale_files() -> list[str]:
    """What no longer matches the SVG masters (missing, wrong size, or drawn differently)."""
    problems = []
    for size in PNG_SIZES:
        path = png_path(size)
        if not path.is_file():
            problems.append(f"{path.relative_to(REPO_ROOT)} is missing")
            continue
        diff = _difference(Image.open(path), icon_image(size))
        if diff > MAX_MEAN_DIFFERENCE:
            name = path.relative_to(REPO_ROOT)
            problems.append(f"{name} differs from the SVG (mean difference {diff:.1f})")
    for path, sizes in ((ICO_FILE, ICO_SIZES), (ICNS_FILE, ICNS_SIZES)):
        if not path.is_file():
            problems.append(f"{path.relative_to(REPO_ROOT)} is missing")
            continue
        with Image.open(path) as container:
            # .icns lists (side, side, scale): its 64 px image is the Retina 32 (32, 32, 2).
            held = {s[0] * (s[2] if len(s) == 3 else 1) for s in container.info.get("sizes", ())}
        missing = sorted(set(sizes) - held)
        if missing:
            problems.append(f"{path.relative_to(REPO_ROOT)} lacks sizes {missing}")
    return problems


def preview(out: Path) -> None:
    """A sheet of every PNG size on a light and a dark strip, at 1:1 and (for <= 32 px) enlarged 4x."""
    sizes = [s for s in PNG_SIZES if s <= 256]
    gap = 16
    width = sum(sizes) + gap * (len(sizes) + 1) + 4 * (16 + 32) + 2 * gap
    strip = max(sizes) + 2 * gap
    sheet = Image.new("RGB", (width, 2 * strip), "white")
    for row, background in enumerate(("#f6f6f6", "#1e1e1e")):
        y0 = row * strip
        sheet.paste(Image.new("RGB", (width, strip), background), (0, y0))
        x = gap
        for size in sizes:
            img = icon_image(size)
            sheet.paste(img, (x, y0 + gap), img)
            x += size + gap
        for size in (16, 32):
            big = icon_image(size).resize((size * 4, size * 4), Image.Resampling.NEAREST)
            sheet.paste(big, (x, y0 + gap), big)
            x += size * 4 + gap
    sheet.save(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument("--preview", type=Path, metavar="PNG", help="also write a preview sheet")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        for problem in problems:
            print(f"make_icons: {problem}", file=sys.stderr)
        if problems:
            print("make_icons: run `python3 tools/make_icons.py` and commit the result", file=sys.stderr)
        return 1 if problems else 0
    for path in write_all():
        print(f"wrote {path.relative_to(REPO_ROOT)} ({path.stat().st_size:,} bytes)")
    if args.preview:
        preview(args.preview)
        print(f"wrote {args.preview}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
