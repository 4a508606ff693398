"""Entry point of the frozen Photoseek (PyInstaller bundle, .deb, Windows installer, macOS app).

Does what only a frozen app needs, then hands over to the ordinary ``photoseek`` command line:

* points ``photoseek/tiny-shapes`` at the copy of the tiny model inside the bundle (the self-test's model;
  a checkout finds it under tests/, which is not shipped);
* answers ``--self-test`` itself, so the check works even in a build whose CLI does not know the option.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _bundle_dir() -> Path:
    # One-folder bundles unpack nothing: sys._MEIPASS is the folder holding the collected files.
    return Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent))


def main() -> int:
    tiny_model = _bundle_dir() / "models" / "tiny-shapes"
    if tiny_model.is_dir():
        os.environ.setdefault("PHOTOSEEK_TINY_MODEL_DIR", str(tiny_model))
    args = sys.argv[1:]
    if args and args[0] == "--self-test":
        from app.selftest import run_self_test

        return run_self_test(verbose="--quiet" not in args[1:])
    from app.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
