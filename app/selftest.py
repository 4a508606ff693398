"""``photoseek --self-test``: prove that an installed Photoseek works, end to end, without a screen.

Written for the packaged app (a .deb, a frozen bundle), where a missing library, Qt plugin or data file
shows up only when a user hits it. In a temporary library, never the user's, it

1. reads the packaged resources (schema, desktop entry, stylesheet);
2. creates a collection with the default schema and the tiny test model ``photoseek/tiny-shapes``;
3. imports generated pictures of coloured shapes (two of each class);
4. runs a text, an id and an image query and checks that the right pictures rank first;
5. starts Qt offscreen, decodes images with Qt's plugins, renders SVG and opens the main window.

Each step prints ``ok`` or what went wrong; the exit status is 0 only when every step passed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

from app import __version__

if TYPE_CHECKING:
    from app.engine import Engine

TINY_MODEL = "photoseek/tiny-shapes"
COLLECTION = "selftest"
# Classes far apart in both colour and shape, so the checks test the install, not the tiny model's limits.
CLASSES: tuple[tuple[str, str], ...] = (
    ("red", "circle"),
    ("blue", "square"),
    ("green", "triangle"),
    ("yellow", "star"),
    ("purple", "cross"),
    ("orange", "ring"),
)
PER_CLASS = 2
IMAGE_SIZE = 96
QUERY_SEED = 7001  # the image query's picture is one the collection does not hold
GUI_SETTLE_SECONDS = 1.0


class SelfTestFailure(Exception):
    """One check did not hold; the message says what was expected and what happened."""


def run_self_test(verbose: bool = True) -> int:
    """Run every check; print progress (``verbose``) and failures; return 0 if all passed, else 1."""
    out = _Reporter(verbose)
    out.line(f"Photoseek {__version__} self-test ({_runtime_description()})")
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="photoseek-selftest-") as tmp, _private_library(Path(tmp)):
        root = Path(tmp)
        steps: list[tuple[str, Callable[[], str]]] = [
            ("resources", _check_resources),
            ("image formats", _check_formats),
            ("search engine", lambda: _check_engine(root / "library")),
            ("desktop (Qt offscreen)", lambda: _check_qt(root / "gui-library")),
        ]
        for name, step in steps:
            started = time.perf_counter()
            try:
                detail = step()
            except SelfTestFailure as exc:
                failures.append(f"{name}: {exc}")
                out.failed(name, str(exc))
            except Exception as exc:  # anything else is a broken install: say where it broke
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                out.failed(name, "".join(traceback.format_exception(exc)).rstrip())
            else:
                out.passed(name, f"{detail} ({time.perf_counter() - started:.1f} s)")
    if failures:
        print(f"self-test FAILED: {len(failures)} of {len(steps)} checks failed", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure.splitlines()[0]}", file=sys.stderr)
        return 1
    out.line("self-test passed")
    return 0


# -- reporting and environment ----------------------------------------------------------------------------


class _Reporter:
    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose

    def line(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    def passed(self, name: str, detail: str) -> None:
        self.line(f"  ok      {name}: {detail}")

    def failed(self, name: str, detail: str) -> None:
        print(f"  FAILED  {name}: {detail}", file=sys.stderr, flush=True)


def _runtime_description() -> str:
    where = "frozen bundle" if getattr(sys, "frozen", False) else f"Python {platform.python_version()}"
    return f"{where}, {platform.system()} {platform.machine()}"


@contextlib.contextmanager
def _private_library(root: Path) -> Iterator[None]:
    """Point every Photoseek directory into ``root`` and Qt at the offscreen platform, then restore."""
    wanted = {
        "PHOTOSEEK_DATA_DIR": str(root / "data"),
        "PHOTOSEEK_CACHE_DIR": str(root / "cache"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SelfTestFailure(message)


# -- the checks -------------------------------------------------------------------------------------------


def _check_resources() -> str:
    from app import resources

    schema = resources.default_collection_schema(TINY_MODEL)
    embed = next((f for f in schema["fields"] if "embed" in f), None)
    if embed is None:
        raise SelfTestFailure("the default collection schema has no embedding field")
    model = embed["embed"]["model_config"]["model_name"]
    _expect(model == TINY_MODEL, f"the schema's model is {model!r}, expected {TINY_MODEL!r}")
    entry = resources.resource_text(resources.DESKTOP_ENTRY)
    _expect("MimeType=image/jpeg;" in entry, "the desktop entry does not offer to open JPEG images")
    _expect(resources.stylesheet().strip() != "", "the stylesheet is empty")
    return f"read from {resources.resource_root()}"


def _check_formats() -> str:
    """HEIC through pillow-heif's native libraries, and the trash module: what a frozen build could lose."""
    import io

    import pillow_heif
    from PIL import Image

    from app.engine.images import load_image
    from app.shapes import draw_shape

    buffer = io.BytesIO()
    pillow_heif.from_pillow(draw_shape("red", "circle", size=IMAGE_SIZE, seed=0)).save(buffer, quality=90)
    decoded = load_image(buffer.getvalue())
    _expect(isinstance(decoded, Image.Image) and decoded.width > 0, "a HEIC image did not decode")
    # Pillow types a pixel for every mode; an RGB image's pixels are 3-tuples.
    centre = (decoded.width // 2, decoded.height // 2)
    red, green, _ = cast("tuple[int, int, int]", decoded.convert("RGB").getpixel(centre))
    _expect(red > 150 and green < 100, f"a red HEIC picture decoded as RGB {red}, {green}, ...")
    import send2trash  # noqa: F401  (moving duplicates to the trash needs it)

    return f"HEIC (libheif {pillow_heif.libheif_version()}), trash"


def _class_of(doc_id: str) -> tuple[str, str]:
    colour, shape, _index = doc_id.split("-")
    return colour, shape


def _shape_base64(colour: str, shape: str, seed: int, fmt: str) -> str:
    from app.shapes import draw_shape, encode_image

    picture = draw_shape(colour, shape, size=IMAGE_SIZE, seed=seed)
    return base64.b64encode(encode_image(picture, fmt)).decode("ascii")


def _check_engine(data_dir: Path) -> str:
    from app.engine import Engine
    from app.engine.models import tiny_model_dir
    from app.resources import default_collection_schema

    model_dir = tiny_model_dir()
    _expect(
        (model_dir / "open_clip_config.json").is_file(),
        f"the tiny test model is not installed in {model_dir} (PHOTOSEEK_TINY_MODEL_DIR points elsewhere?)",
    )
    engine = Engine(data_dir)
    try:
        engine.collections.create(default_collection_schema(TINY_MODEL, name=COLLECTION))
        documents = [
            {
                "id": f"{colour}-{shape}-{index}",
                "name": f"{colour}_{shape}_{index}.png",
                "path": str(data_dir / f"{colour}_{shape}_{index}.png"),
                # Both a lossless and a lossy format go through the image decoder.
                "image": _shape_base64(colour, shape, seed=index, fmt="PNG" if index == 0 else "JPEG"),
            }
            for colour, shape in CLASSES
            for index in range(PER_CLASS)
        ]
        results = engine.collections[COLLECTION].documents.import_(documents, {"action": "create"})
        failed = [r for r in results if not r.get("success")]
        _expect(not failed, f"{len(failed)} of {len(documents)} pictures failed to import: {failed[:2]}")
        count = engine.collections[COLLECTION].retrieve()["num_documents"]
        _expect(count == len(documents), f"the collection holds {count} documents, expected {len(documents)}")

        for colour, shape in CLASSES:
            _check_ranking(engine, f"text query “a {colour} {shape}”", (colour, shape),
                           {"q": f"a {colour} {shape}"})
        probe = f"{CLASSES[0][0]}-{CLASSES[0][1]}-0"
        hits = _check_ranking(engine, f"id query {probe}", CLASSES[0],
                              {"q": "*", "vector_query": f"embedding:([], id: {probe})"})
        _expect(probe not in hits, f"the id query {probe} returned the document itself")
        colour, shape = CLASSES[1]
        image = _shape_base64(colour, shape, seed=QUERY_SEED, fmt="JPEG")
        _check_ranking(engine, f"image query (a new {colour} {shape})", (colour, shape),
                       {"q": "*", "vector_query": f"embedding:([], image: {image})"})
    finally:
        engine.close()
    return f"{len(documents)} pictures imported; {len(CLASSES)} text, 1 id and 1 image query ranked right"


def _check_ranking(engine: Engine, label: str, wanted: tuple[str, str], params: dict) -> list[str]:
    """Run one search; the pictures of class ``wanted`` must be the best hits. Returns the hit ids."""
    search = {"collection": COLLECTION, "query_by": "embedding", "per_page": 5,
              "exclude_fields": "embedding", **params}
    result = engine.multi_search.perform({"searches": [search]}, {})["results"][0]
    _expect("error" not in result, f"{label} failed: {result.get('error')}")
    hits = [hit["document"]["id"] for hit in result["hits"]]
    _expect(bool(hits), f"{label} found nothing")
    distances = [hit["vector_distance"] for hit in result["hits"]]
    _expect(distances == sorted(distances), f"{label}: hits are not sorted by distance: {distances}")
    expected = PER_CLASS - (1 if "id:" in params.get("vector_query", "") else 0)
    leaders = [_class_of(doc_id) for doc_id in hits[:expected]]
    _expect(
        all(found == wanted for found in leaders),
        f"{label}: expected {expected} {' '.join(wanted)} picture(s) first, got {hits}",
    )
    return hits


def _check_qt(data_dir: Path) -> str:
    from PySide6.QtCore import qInstallMessageHandler

    # Qt's own warnings (the offscreen platform's "does not support propagateSizeHints()") are noise when
    # all is well and the best clue when it is not: held back, and shown only if this check fails.
    messages: list[str] = []
    previous = qInstallMessageHandler(lambda _mode, _context, text: messages.append(text))
    try:
        return _exercise_qt(data_dir)
    except BaseException:
        for message in messages:
            print(f"  Qt: {message}", file=sys.stderr)
        raise
    finally:
        qInstallMessageHandler(previous)


def _exercise_qt(data_dir: Path) -> str:
    from PIL import Image
    from PySide6.QtCore import QByteArray, QCoreApplication, QRectF, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    from app.gui.app import create_application
    from app.shapes import COLOUR_RGB, encode_image

    app = create_application([sys.argv[0] if sys.argv else "photoseek"])
    platform_name = QGuiApplication.platformName()
    _expect(platform_name == "offscreen", f"Qt started the {platform_name!r} platform, not offscreen")

    # Qt's image plugins (the GUI's thumbnails) must be in the install, not just Pillow's decoders.
    picture = Image.new("RGB", (64, 48), COLOUR_RGB["red"])
    for fmt in ("JPEG", "PNG", "WEBP", "GIF", "TIFF"):
        image = QImage.fromData(QByteArray(encode_image(picture, fmt)))
        _expect(not image.isNull(), f"Qt cannot decode {fmt} (its image plugin is missing?)")
        _expect((image.width(), image.height()) == (64, 48), f"Qt decoded {fmt} at the wrong size")
        red = image.pixelColor(32, 24)
        _expect(red.red() > 150 and red.green() < 110, f"Qt decoded {fmt} wrongly: a pixel is {red.name()}")

    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
           b'<rect width="8" height="8" fill="#00f"/></svg>')
    renderer = QSvgRenderer(QByteArray(svg))
    _expect(renderer.isValid(), "QtSvg cannot parse a plain SVG")
    canvas = QImage(8, 8, QImage.Format.Format_ARGB32)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    renderer.render(painter, QRectF(0, 0, 8, 8))
    painter.end()
    _expect(canvas.pixelColor(4, 4).blue() > 200, "QtSvg rendered nothing")

    from app.gui.main_window import MainWindow

    window = MainWindow(data_dir)
    try:
        window.show()
        deadline = time.monotonic() + GUI_SETTLE_SECONDS
        while time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.02)
        shot = window.grab()
        _expect(not shot.isNull() and shot.width() > 100, "the main window did not render")
    finally:
        window.shutdown()
        window.close()
        window.deleteLater()
        QCoreApplication.processEvents()
    del app
    return f"platform offscreen, Qt {_qt_version()}, image plugins and SVG ok, main window opened"


def _qt_version() -> str:
    from PySide6.QtCore import qVersion

    return qVersion()
