"""The GUI's persistent settings: one small JSON file in the config directory.

JSON rather than QSettings so the file is readable, lives exactly where ``app.paths.config_dir()`` says
(tests redirect it with PHOTOSEEK_DATA_DIR) and needs no Qt to inspect. A damaged file is set aside and
replaced by defaults: losing window geometry must never stop the app from starting.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from app import paths

log = logging.getLogger(__name__)

SETTINGS_FILE = "gui.json"
# A threshold of 1 would hide everything but exact duplicates; the control stops short of that.
MAX_MIN_SIMILARITY = 0.95
# Where the model runs (app.engine.compute's request syntax: "auto", "cpu:int8", "cuda"...).
COMPUTE_DEVICE = "compute_device"


class Settings:
    """Typed accessors over a JSON dict; ``save()`` writes it atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else paths.config_dir() / SETTINGS_FILE
        self._values: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read settings %s: %s", self.path, exc)
            return {}
        try:
            values = json.loads(text)
            if not isinstance(values, dict):
                raise ValueError("top level is not an object")
            return values
        except ValueError as exc:
            # Keep the damaged file for a bug report instead of silently overwriting it.
            log.warning("settings file %s is damaged (%s); starting from defaults", self.path, exc)
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_suffix(".damaged.json"))
            return {}

    def save(self) -> None:
        """Write the settings; a failure is logged, never raised (it must not block closing the window)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".gui-", suffix=".json", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._values, handle, indent=2, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot save settings to %s: %s", self.path, exc)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            self._values.pop(key, None)
        else:
            self._values[key] = value

    def get_bytes(self, key: str) -> bytes | None:
        """Binary values (Qt's saveGeometry/saveState) are stored base64-encoded."""
        value = self._values.get(key)
        if not isinstance(value, str):
            return None
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return None

    def set_bytes(self, key: str, value: bytes | None) -> None:
        self.set(key, base64.b64encode(value).decode("ascii") if value else None)

    @property
    def last_collection(self) -> str | None:
        value = self._values.get("last_collection")
        return value if isinstance(value, str) else None

    @last_collection.setter
    def last_collection(self, name: str | None) -> None:
        self.set("last_collection", name)

    @property
    def last_import_dir(self) -> str:
        value = self._values.get("last_import_dir")
        return value if isinstance(value, str) and value else str(Path.home())

    @last_import_dir.setter
    def last_import_dir(self, directory: str) -> None:
        self.set("last_import_dir", directory)

    @property
    def min_similarity(self) -> float:
        """The search threshold as a similarity in [0, MAX_MIN_SIMILARITY]; 0 means every match is shown."""
        value = self._values.get("min_similarity")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return max(0.0, min(MAX_MIN_SIMILARITY, float(value)))

    @min_similarity.setter
    def min_similarity(self, similarity: float) -> None:
        self.set("min_similarity", max(0.0, min(MAX_MIN_SIMILARITY, float(similarity))))

    @property
    def compute_device(self) -> str:
        """The saved compute request as text, "auto" by default; checked when it is applied, not here."""
        value = self._values.get(COMPUTE_DEVICE)
        return value if isinstance(value, str) and value.strip() else "auto"

    @compute_device.setter
    def compute_device(self, request: str) -> None:
        self.set(COMPUTE_DEVICE, request)
