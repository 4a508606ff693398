"""QApplication setup: names, icon, a light or dark palette that follows the system, and ``run_gui``."""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.gui.icons import app_icon, retint_all
from app.resources import APP_ID, stylesheet

log = logging.getLogger(__name__)

# PHOTOSEEK_COLOR_SCHEME=dark|light overrides the system (screenshots, or a system that reports nothing).
SCHEME_ENV = "PHOTOSEEK_COLOR_SCHEME"


def wanted_scheme(app: QGuiApplication) -> Qt.ColorScheme:
    override = os.environ.get(SCHEME_ENV, "").strip().lower()
    if override == "dark":
        return Qt.ColorScheme.Dark
    if override == "light":
        return Qt.ColorScheme.Light
    return app.styleHints().colorScheme()


def dark_palette() -> QPalette:
    """A calm dark palette for styles (and systems) that do not supply one."""
    palette = QPalette()
    roles = QPalette.ColorRole
    colours = {
        roles.Window: "#232428",
        roles.WindowText: "#e6e6e9",
        roles.Base: "#1b1c1f",
        roles.AlternateBase: "#26272b",
        roles.ToolTipBase: "#2e2f34",
        roles.ToolTipText: "#e6e6e9",
        roles.PlaceholderText: "#8d8e95",
        roles.Text: "#e6e6e9",
        roles.Button: "#2d2e33",
        roles.ButtonText: "#e6e6e9",
        roles.BrightText: "#ffffff",
        roles.Highlight: "#3d7be0",
        roles.HighlightedText: "#ffffff",
        roles.Link: "#7aa7ff",
        roles.LinkVisited: "#b59cff",
        roles.Light: "#3a3b41",
        roles.Midlight: "#323338",
        roles.Mid: "#26272b",
        roles.Dark: "#151518",
        roles.Shadow: "#000000",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor("#6c6d73"))
    palette.setColor(disabled, roles.Highlight, QColor("#3a3b41"))
    return palette


def _is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def apply_palette(app: QApplication) -> None:
    """Use the style's own palette when it matches the system's scheme; supply a dark one when it does not
    (e.g. Fusion on a desktop that says "dark" but provides no dark palette)."""
    scheme = wanted_scheme(app)
    standard = app.style().standardPalette()
    if scheme == Qt.ColorScheme.Dark and not _is_dark(standard):
        app.setPalette(dark_palette())
    elif scheme == Qt.ColorScheme.Light and _is_dark(standard):
        app.setPalette(QPalette(QColor("#efeff1")))
    else:
        app.setPalette(standard)
    retint_all()


def create_application(argv: list[str]) -> QApplication:
    """The QApplication with Photoseek's names, icon and palette (reuses one that already exists)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QCoreApplication.setApplicationName("Photoseek")
    QCoreApplication.setOrganizationName("Photoseek")
    # Wayland matches the window to the installed desktop entry (and its icon) by this name.
    QGuiApplication.setDesktopFileName(APP_ID)
    app = QApplication(argv)
    app.setWindowIcon(app_icon())
    apply_palette(app)
    try:
        app.setStyleSheet(stylesheet())
    except FileNotFoundError as exc:  # a broken install still gets a working, if plainer, window
        log.warning("%s", exc)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_palette(app))
    return app


def configure_logging() -> None:
    """Photoseek's own notes at INFO; other libraries' (open_clip announces every model it loads) only
    when something is wrong."""
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("app").setLevel(logging.INFO)


def run_gui(argv: list[str] | None = None, open_paths: list[str] | None = None) -> int:
    """Open the main window and run until it is closed; returns the exit status.

    ``open_paths`` (from "Open with Photoseek" or ``photoseek FILE...``) are imported as if dropped.
    """
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        argv = ["photoseek"]
    configure_logging()
    app = create_application(argv)
    from app.gui.main_window import MainWindow  # after QApplication: widgets need it

    window = MainWindow()
    window.show()
    if open_paths:
        window.import_paths(open_paths)  # deferred by the window until its engine is open
    # Closing the window shuts the engine down; quitting by other means (Ctrl+Q, session end) too.
    app.aboutToQuit.connect(window.shutdown)
    return app.exec()
