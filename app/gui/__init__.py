"""Qt (PySide6) user interface. Only this package imports Qt.

Importing the package first works around a binding bug, see :func:`_protect_singletons_from_pyside`.
"""

from __future__ import annotations

import ctypes
import sys


def _pyside_leaks_singletons() -> bool:
    """True when PySide6 hands out None/True without taking a reference for them.

    PySide6/shiboken6 6.12 on Python < 3.12 does this (those objects are immortal from 3.12, where the bug
    is harmless): every void call such as ``painter.setPen(...)`` lowers None's reference count by one, and
    every ``signal.emit(...)`` lowers True's. After a few thousand calls the interpreter aborts with
    "Fatal Python error: none_dealloc" (or bool_dealloc). Painting a grid makes that many calls in seconds.
    """
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QColor

    class _Probe(QObject):
        fired = Signal()

    color = QColor(0, 0, 0)
    probe = _Probe()
    calls = 64
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        color.setAlpha(255)
        probe.fired.emit()
    none_lost = none_before - sys.getrefcount(None)
    true_lost = true_before - sys.getrefcount(True)
    return none_lost >= calls or true_lost >= calls


def _protect_singletons_from_pyside() -> bool:
    """Give None, True and False so many references that the leak never brings them to zero.

    This is in effect what Python 3.12 does natively (immortal objects). ``ob_refcnt`` is the first field of
    every object in release builds of CPython; 2**60 lost references would take centuries of painting.
    """
    if not _pyside_leaks_singletons():
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 60
    return True


SINGLETON_REFCOUNT_GUARD_APPLIED = _protect_singletons_from_pyside()
