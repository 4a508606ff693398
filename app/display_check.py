"""Can the desktop app open a window here? Asked before Qt starts, because Qt cannot answer it gracefully.

On Linux, Qt's xcb platform aborts the whole process (exit status 134, a core dump on some systems) when
there is no X display, when the display refuses the connection, or when a library the xcb plugin needs is
not installed. A user who typed ``photoseek`` over SSH or on a server deserves a sentence instead, and a
documented exit status. Only the xcb route is checked: Wayland, macOS, Windows and an explicit
``QT_QPA_PLATFORM`` (offscreen, vnc, ...) are left to Qt, which handles them without aborting or where we
cannot tell better than Qt.

Qt-free on purpose: importing PySide6 is what this must come before.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_HINT = "the command line works without one: photoseek --help"


def display_problem(environ: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why the window cannot open on this system, in one sentence; None when it can (or we cannot tell)."""
    env = os.environ if environ is None else environ
    if not (platform or sys.platform).startswith("linux"):
        return None
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        # "xcb", "xcb:option", or a fallback list "wayland;xcb": only a plain xcb request is ours to check.
        if requested.split(";")[0].split(":")[0] != "xcb" or ";" in requested:
            return None
    elif env.get("WAYLAND_DISPLAY"):
        return None  # Qt tries Wayland first there, and falls back to X by itself
    display = env.get("DISPLAY", "").strip()
    if not display:
        return f"no display found (DISPLAY is not set), so the window cannot open; {CLI_HINT}"
    missing = xcb_plugin_problem()
    if missing:
        return missing
    if not x_display_accepts(display):
        return (f"cannot connect to the display {display} (is the X server running, and may this user "
                f"use it?); {CLI_HINT}")
    return None


def xcb_plugin_problem(plugin: Path | None = None) -> str | None:
    """The missing system library that stops Qt's xcb plugin from loading, as a sentence; None if it loads.

    The plugin is loaded here the way Qt would load it: the dynamic linker names the first library it
    cannot find. Loading it early costs nothing, since Qt would load the same file a moment later.
    """
    path = plugin or _bundled_xcb_plugin()
    if path is None or not path.is_file():
        return None  # a Qt without its own xcb plugin (a distribution's PySide6): let Qt decide
    try:
        ctypes.CDLL(str(path), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as exc:
        detail = str(exc)
        library = detail.split(":", 1)[0].strip() if ": cannot open shared object file" in detail else ""
        named = f"the system library {library} is missing" if library else detail
        return (f"the window cannot open: Qt's X11 support needs libraries this system lacks ({named}). "
                "On Debian or Ubuntu: sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 "
                f"libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0; {CLI_HINT}")
    return None


def x_display_accepts(display: str) -> bool:
    """Whether the X server named by ``display`` accepts a connection from this user (libxcb's answer)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # no libxcb: xcb_plugin_problem has said what is missing, or Qt will
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        # xcb_connect never returns NULL: a failed connection is an object in an error state.
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)


def _bundled_xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "Qt" / "plugins" / "platforms" / "libqxcb.so"
