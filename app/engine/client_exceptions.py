"""The official ``typesense`` client's exception classes, without importing the client.

``import typesense`` loads both of its clients and their HTTP stack (httpx): about half a second on every
start of the app and the CLI, for classes that need none of it. ``typesense/exceptions.py`` imports
nothing, so it is loaded from its file under its own name. A script that imports the real client later gets
the very same classes: the package's own imports find the module in ``sys.modules``, and a one-shot finder
makes it the package's ``exceptions`` attribute, as the import system would have.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

PACKAGE = "typesense"
NAME = "typesense.exceptions"


def load() -> ModuleType:
    """``typesense.exceptions``, loaded once (or the one an earlier ``import typesense`` loaded)."""
    loaded = sys.modules.get(NAME)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec(PACKAGE)  # finds the package without running its __init__
    locations = package.submodule_search_locations if package is not None else None
    spec = importlib.machinery.PathFinder.find_spec(NAME, list(locations)) if locations else None
    if spec is None or spec.loader is None:
        if package is None:
            raise ImportError("Photoseek needs the `typesense` package: pip install 'typesense>=0.21'.")
        # The package exists but not as files (a frozen bundle keeps it in an archive): the whole client
        # is imported then, the slower way.
        return importlib.import_module(NAME)
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[NAME]
        raise
    if PACKAGE in sys.modules:  # imported meanwhile
        sys.modules[PACKAGE].exceptions = module  # type: ignore[attr-defined]
    else:
        sys.meta_path.insert(0, _AttachWhenImported())
    return module


class _AttachWhenImported(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``typesense`` is imported, has its real loader give the package the
    already-loaded ``exceptions`` module before the package's code runs, then steps aside."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(PACKAGE)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            if NAME in sys.modules:
                module.exceptions = sys.modules[NAME]  # type: ignore[attr-defined]
            run(module)

        loader: Any = spec.loader
        loader.exec_module = exec_module
        return spec
