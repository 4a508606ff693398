"""SVG icons from ``icons/ui``, tinted to the palette's text colour so they read in light and dark mode.

The files draw with ``currentColor``; each request substitutes a concrete colour and renders the result
at a few sizes. Icons are cached per (name, colour) because menus ask for them repeatedly.
"""

from __future__ import annotations

import importlib.resources
import logging
import weakref
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QAbstractButton

from app import paths

log = logging.getLogger(__name__)

ICON_SIZES = (16, 20, 24, 32, 48)


def icons_dir() -> Path:
    """``icons/ui`` in a checkout or bundle; the ``app._icons`` package in an installed wheel."""
    checkout = paths.repo_root() / "icons" / "ui"
    if checkout.is_dir():
        return checkout
    try:
        return Path(str(importlib.resources.files("app._icons")))
    except ModuleNotFoundError:
        return checkout


@cache
def _svg_text(name: str) -> str:
    path = icons_dir() / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("icon %s is missing", path)
        return ""


def _text_colour() -> str:
    app = QGuiApplication.instance()
    palette = app.palette() if isinstance(app, QGuiApplication) else QPalette()
    return palette.color(QPalette.ColorRole.WindowText).name()


def svg_pixmap(name: str, size: int, colour: str | None = None, ratio: float = 1.0) -> QPixmap:
    """Render ``icons/ui/<name>.svg`` at ``size`` logical pixels, drawing ``currentColor`` as ``colour``."""
    text = _svg_text(name).replace("currentColor", colour or _text_colour())
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
    if renderer.isValid():
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
        painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


@cache
def _icon(name: str, colour: str, disabled_colour: str) -> QIcon:
    icon = QIcon()
    app = QGuiApplication.instance()
    ratio = app.devicePixelRatio() if isinstance(app, QGuiApplication) else 1.0
    for size in ICON_SIZES:
        icon.addPixmap(svg_pixmap(name, size, colour, ratio), QIcon.Mode.Normal)
        icon.addPixmap(svg_pixmap(name, size, disabled_colour, ratio), QIcon.Mode.Disabled)
    return icon


def icon(name: str) -> QIcon:
    """The named UI icon in the current palette's colours (re-request after a palette change)."""
    app = QGuiApplication.instance()
    palette = app.palette() if isinstance(app, QGuiApplication) else QPalette()
    colour = palette.color(QPalette.ColorRole.WindowText)
    background = palette.color(QPalette.ColorRole.Window)
    # SVG colours are opaque, so "faded" is a mix towards the background rather than an alpha.
    disabled = QColor(
        round(colour.red() * 0.35 + background.red() * 0.65),
        round(colour.green() * 0.35 + background.green() * 0.65),
        round(colour.blue() * 0.35 + background.blue() * 0.65),
    )
    return _icon(name, colour.name(), disabled.name())


_themed: list[tuple[weakref.ref, str]] = []


def set_themed_icon(target: QAction | QAbstractButton, name: str) -> None:
    """Give ``target`` the named icon and re-tint it whenever the palette changes (see ``retint_all``)."""
    target.setIcon(icon(name))
    _themed.append((weakref.ref(target), name))


def retint_all() -> None:
    """Re-render every themed icon in the current palette's colours (light/dark switch)."""
    alive = []
    for ref, name in _themed:
        target = ref()
        if target is None:
            continue
        try:
            target.setIcon(icon(name))
        except RuntimeError:  # its C++ object was deleted
            continue
        alive.append((ref, name))
    _themed[:] = alive


def app_icon() -> QIcon:
    """The application icon (full colour, not tinted)."""
    path = paths.repo_root() / "icons" / "app" / "photoseek.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
