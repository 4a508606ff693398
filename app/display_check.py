"""Can the desktop app open a window here? Asked before Qt starts, because Qt cannot answer it gracefully.

On Linux, Qt's xcb platform aborts the whole process (exit status 134, a core dump on some systems) when
there is no X display, when the display refuses the connection, or when a library the xcb plugin needs is
not installed. A user who typed ``photoseek`` over SSH or on a server deserves a sentence instead, and a
documented exit status. The routes Qt takes on Linux are checked, Wayland (does the compositor answer?)
and X11 (is a display named, do the xcb plugin's libraries load, does the server accept us?), in Qt's
order; macOS, Windows and other explicit ``QT_QPA_PLATFORM`` values (offscreen, vnc, ...) are left to Qt.

Qt-free on purpose: importing PySide6 is what this must come before.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import socket
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
        # "xcb", "xcb:option", or a list Qt tries in order, "wayland;xcb".
        tried = [name.split(":")[0].strip() for name in requested.split(";") if name.strip()]
    else:
        # What Qt does by itself on Linux: Wayland when a compositor is named, then X.
        tried = ["wayland", "xcb"] if env.get("WAYLAND_DISPLAY") else ["xcb"]
    if any(name not in ("wayland", "xcb") for name in tried):
        return None  # offscreen, vnc, eglfs, ...: the user chose, and Qt reports on those by itself
    problem = None
    for name in tried:
        problem = wayland_problem(env) if name == "wayland" else x11_problem(env)
        if problem is None:
            return None
    return problem


def wayland_problem(env: Mapping[str, str]) -> str | None:
    """Whether the Wayland compositor named by WAYLAND_DISPLAY answers (a stale name, left over from
    another session or carried through sudo, names a socket nobody listens on)."""
    display = env.get("WAYLAND_DISPLAY", "").strip()
    if not display:
        return f"no display found (WAYLAND_DISPLAY is not set), so the window cannot open; {CLI_HINT}"
    path = display if display.startswith("/") else os.path.join(env.get("XDG_RUNTIME_DIR", ""), display)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(path)
        except OSError:
            return f"cannot connect to the Wayland display {display}; {CLI_HINT}"
    return None


def x11_problem(env: Mapping[str, str]) -> str | None:
    """Why Qt's X11 route (xcb) would abort: no display named, the plugin's libraries, the server."""
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
