"""Print the Debian ``Depends`` of a PyInstaller bundle: the distribution packages its libraries need.

    python3 packaging/linux/deb_depends.py build/deb/root/opt/photoseek

The bundle leaves system libraries (X11/xcb, fontconfig, glib, OpenSSL, ...) to the distribution. This
asks dpkg-shlibdeps, Debian's own tool, which packages provide the libraries every bundled ELF file needs
and from which version on (its symbols files), treating the bundle's own folders as private library
paths. A library that neither the bundle nor any installed package provides is an error: the .deb would
install but fail at run time.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

# Always wanted, whatever the ELF scan says: the bundle's torch wheels are manylinux_2_28 builds.
BASELINE = ("libc6 (>= 2.28)",)


def elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def shlibs_depends(bundle: Path) -> str:
    files = elf_files(bundle)
    if not files:
        raise SystemExit(f"deb_depends: no ELF files under {bundle}")
    private_dirs = sorted({str(f.parent) for f in files if ".so" in f.name})
    with tempfile.TemporaryDirectory() as tmp:
        # dpkg-shlibdeps insists on running inside a source package.
        (Path(tmp) / "debian").mkdir()
        (Path(tmp) / "debian" / "control").write_text(
            "Source: photoseek\n\nPackage: photoseek\nArchitecture: any\n"
        )
        command = [
            "dpkg-shlibdeps", "-O", "--warnings=0", "--ignore-missing-info",
            *(f"-l{d}" for d in private_dirs),
            *(f"-e{f}" for f in files),
        ]
        result = subprocess.run(command, cwd=tmp, capture_output=True, text=True)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "warning:" not in line]
        hint = ""
        if any("cannot find library" in line for line in errors):
            hint = (
                "\nThe build machine lacks a library some bundled file needs: install the packages in "
                "packaging/linux/build-host-packages.txt (or the one `apt-file search LIBRARY` names)."
            )
        raise SystemExit("deb_depends: dpkg-shlibdeps failed:\n" + "\n".join(errors) + hint)
    for line in result.stdout.splitlines():
        if line.startswith("shlibs:Depends="):
            return line.split("=", 1)[1]
    raise SystemExit(f"deb_depends: no shlibs:Depends in dpkg-shlibdeps output:\n{result.stdout}")


def merge(depends: str, extra: tuple[str, ...]) -> str:
    entries = [d.strip() for d in depends.split(",") if d.strip()]
    names = {e.split()[0] for e in entries}
    entries += [e for e in extra if e.split()[0] not in names]
    return ", ".join(sorted(entries))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: deb_depends.py BUNDLE_DIR", file=sys.stderr)
        return 2
    print(merge(shlibs_depends(Path(argv[0]).resolve()), BASELINE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
