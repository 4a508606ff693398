"""What installers ship: resources reachable from a wheel, a valid desktop entry and metainfo, the icon set,
and packaging scripts that at least parse. The bundle and .deb themselves are built by packaging/ scripts
(docs/packaging.md); packaging/ci-check.sh runs the installed wheel's self-test."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import __version__, resources
from app.engine import Engine

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"
DESKTOP = RESOURCES / resources.DESKTOP_ENTRY
METAINFO = RESOURCES / resources.METAINFO
ICONS = REPO / "icons" / "app"
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(REPO / "packaging" / "linux"))
import deb_depends  # noqa: E402
import make_icons  # noqa: E402


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


# -- pyproject: the wheel holds every package and the resources ---------------------------------------------


def test_pyproject_lists_every_app_package_and_maps_resources() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "app").rglob("__init__.py")
    }
    missing = on_disk - set(config["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages, or the wheel will lack them"
    assert config["package-dir"]["app._resources"] == "resources"
    assert "app._resources" in config["packages"]


def test_wheel_carries_the_resources_and_reads_them_outside_the_checkout(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(REPO)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("photoseek-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in RESOURCES.iterdir():
        if path.is_file() and path.suffix != ".pyc":
            assert f"app/_resources/{path.name}" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # -S keeps the editable install's import hook (a .pth file) out, so `app` must come from the wheel.
    probe = (
        "import app, app.resources as r; "
        "print(app.__file__); print(r.resource_root()); "
        "print(r.default_collection_schema('m')['fields'][3]['embed']['model_config']['model_name'])"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": f"{unpacked}:{sysconfig.get_paths()['purelib']}"},
    )
    app_file, root, model = result.stdout.split()
    assert app_file.startswith(str(unpacked))
    assert root == str(unpacked / "app" / "_resources")
    assert model == "m"


# -- app.resources ------------------------------------------------------------------------------------------


def test_default_schema_creates_a_photo_collection_for_the_given_model(tmp_path: Path) -> None:
    schema = resources.default_collection_schema("photoseek/tiny-shapes", name="Holidays")

    engine = Engine(tmp_path / "library")
    try:
        created = engine.collections.create(schema)
    finally:
        engine.close()
    assert created["name"] == "Holidays"
    assert created["num_documents"] == 0
    fields = {f["name"]: f for f in schema["fields"]}
    assert fields["name"]["type"] == fields["path"]["type"] == "string"
    assert fields["image"] == {"name": "image", "type": "image", "store": False}
    assert fields["embedding"]["embed"] == {
        "from": ["image"], "model_config": {"model_name": "photoseek/tiny-shapes"}
    }
    assert resources.default_collection_schema("m")["name"] == resources.DEFAULT_COLLECTION_NAME


def test_default_schema_fills_placeholders_as_values_not_text() -> None:
    tricky = 'x", "store": true, "y": "'
    schema = resources.default_collection_schema(tricky)
    assert schema["fields"][3]["embed"]["model_config"]["model_name"] == tricky
    assert "store" not in schema["fields"][3]


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_default_schema_rejects_a_missing_model(bad: object) -> None:
    with pytest.raises(ValueError, match="model_name must be a non-empty string"):
        resources.default_collection_schema(bad)  # type: ignore[arg-type]


def test_resource_names_stay_inside_the_resources_folder() -> None:
    for bad in ("../pyproject.toml", "/etc/passwd", ""):
        with pytest.raises(ValueError, match="relative path inside resources"):
            resources.resource_text(bad)
    with pytest.raises(FileNotFoundError, match=r"'no-such-file\.txt' is missing"):
        resources.resource_text("no-such-file.txt")
    assert resources.resource_path(resources.STYLESHEET).read_text() == resources.stylesheet()


def test_stylesheet_parses_in_qt_and_uses_the_palette(qapp) -> None:
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QLabel

    messages: list[str] = []
    previous = qInstallMessageHandler(lambda _mode, _context, text: messages.append(text))
    try:
        qapp.setStyleSheet(resources.stylesheet())
        hint = QLabel("No photos match")
        hint.setProperty("role", "hint")
        hint.ensurePolished()
        plain = QLabel("Photos")
        plain.ensurePolished()
        hint_colour = hint.palette().color(hint.foregroundRole())
        plain_colour = plain.palette().color(plain.foregroundRole())
    finally:
        qInstallMessageHandler(previous)
        qapp.setStyleSheet("")
    assert not [m for m in messages if "stylesheet" in m.lower()], messages
    assert hint_colour != plain_colour  # the hint rule applied


# -- desktop entry and AppStream metainfo -------------------------------------------------------------------


def test_desktop_entry_opens_images_with_photoseek() -> None:
    entry = desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "photoseek"
    assert "%F" in entry["Exec"].split()  # "Open with Photoseek" passes the chosen files
    assert entry["Icon"] == resources.APP_ID
    mime_types = [m for m in entry["MimeType"].split(";") if m]
    assert {"image/jpeg", "image/png", "image/webp", "image/heic"} <= set(mime_types)
    assert all(m.startswith("image/") for m in mime_types), "Photoseek opens images only"


def test_metainfo_describes_the_same_application() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == resources.APP_ID
    assert root.findtext("launchable") == resources.DESKTOP_ENTRY
    assert root.findtext("provides/binary") == "photoseek"
    desktop_types = {m for m in desktop_entry()["MimeType"].split(";") if m}
    assert {m.text for m in root.findall("provides/mediatype")} == desktop_types
    assert root.find("releases/release").get("version") == __version__


@pytest.mark.parametrize(
    ("tool", "args", "path"),
    [
        ("desktop-file-validate", [], DESKTOP),
        ("appstreamcli", ["validate", "--no-net"], METAINFO),
    ],
)
def test_freedesktop_validators_accept_the_files(tool: str, args: list[str], path: Path) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (Debian: desktop-file-utils / appstream)")
    result = subprocess.run([tool, *args, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- icons --------------------------------------------------------------------------------------------------


def test_generated_icons_match_the_svg_masters() -> None:
    assert make_icons.stale_files() == []


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("size", make_icons.PNG_SIZES)
def test_app_icon_stands_out_on_light_and_dark_backgrounds(size: int) -> None:
    icon = Image.open(make_icons.png_path(size)).convert("RGBA")
    assert icon.size == (size, size)
    rgba = np.asarray(icon).reshape(-1, 4).astype(float)
    opaque = rgba[rgba[:, 3] > 200]
    assert len(opaque) > 0.6 * size * size, "the icon should fill most of its square"
    lum = _luminance(tuple(opaque[:, :3].mean(axis=0)))
    # WCAG contrast ratio of the icon's average colour against white and against near-black panels.
    assert (1.05) / (lum + 0.05) >= 2.5
    assert (lum + 0.05) / (_luminance((30, 30, 30)) + 0.05) >= 2.5
    assert icon.getpixel((0, 0))[3] < 60, "corners stay transparent (rounded tile)"


def test_small_icon_keeps_a_visible_lens_at_16_px() -> None:
    rgba = np.asarray(Image.open(make_icons.png_path(16)).convert("RGBA")).astype(int)
    opaque = rgba[..., 3] > 200
    r, g, b = rgba[..., 0], rgba[..., 1], rgba[..., 2]
    near_white = int((opaque & (rgba[..., :3].min(axis=-1) > 200)).sum())
    green = int((opaque & (g > r + 40) & (g > b + 20)).sum())
    # The big master scaled down to 16 px gives 36 white pixels: thinner rim and handle than drawn here.
    assert near_white >= 40, "the lens rim and handle should read as a bold white ring at 16 px"
    assert green >= 10, "the landscape inside the lens should still show"


def test_windows_and_macos_icon_files_hold_every_size() -> None:
    with Image.open(ICONS / "photoseek.ico") as ico:
        assert {s[0] for s in ico.info["sizes"]} == set(make_icons.ICO_SIZES)
    with Image.open(ICONS / "photoseek.icns") as icns:
        assert {s[0] * s[2] for s in icns.info["sizes"]} >= set(make_icons.ICNS_SIZES)


# -- packaging scripts --------------------------------------------------------------------------------------


def test_spec_and_scripts_parse() -> None:
    spec = REPO / "packaging" / "photoseek.spec"
    compile(spec.read_text(), str(spec), "exec")
    scripts = [*(REPO / "packaging").rglob("*.sh")]
    assert len(scripts) >= 4
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_spec_names_files_that_exist() -> None:
    text = (REPO / "packaging" / "photoseek.spec").read_text()
    assert (REPO / "packaging" / "photoseek_entry.py").is_file() and '"photoseek_entry.py"' in text
    assert (REPO / "packaging" / "hooks" / "rthook_torchvision_ops.py").is_file()
    for icon in ("photoseek.ico", "photoseek.icns", "photoseek.svg", "png/photoseek-256.png"):
        assert (ICONS / icon).is_file()


def test_entry_point_reports_the_version_without_the_checkout_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "packaging" / "photoseek_entry.py"), "--version"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"photoseek {__version__}"


def test_inno_setup_script_installs_the_bundle_with_the_app_version() -> None:
    iss = (REPO / "packaging" / "windows" / "photoseek.iss").read_text(encoding="utf-8")
    assert f'#define AppVersion "{__version__}"' in iss
    assert r'Source: "..\..\dist\photoseek\*"' in iss
    assert "recursesubdirs" in iss
    assert "photoseek-gui.exe" in iss  # the Start menu entry must not open a console window


def test_deb_depends_keeps_the_stricter_version_and_adds_the_baseline() -> None:
    merged = deb_depends.merge("libc6 (>= 2.34), libfontconfig1 (>= 2.12.6)", ("libc6 (>= 2.28)", "zlib1g"))
    assert merged == "libc6 (>= 2.34), libfontconfig1 (>= 2.12.6), zlib1g"


def test_every_file_the_deb_installs_exists() -> None:
    script = (REPO / "packaging" / "linux" / "build-deb.sh").read_text()
    listed = script.split("ICON_SIZES=")[1].splitlines()[0].strip('"').split()
    assert [int(s) for s in listed] == list(make_icons.PNG_SIZES)
    for path in (DESKTOP, METAINFO, REPO / "packaging" / "linux" / "copyright",
                 REPO / "packaging" / "linux" / "control.in"):
        assert path.is_file()
    control = (REPO / "packaging" / "linux" / "control.in").read_text()
    assert json.dumps(sorted({"@VERSION@", "@ARCH@", "@DEPENDS@", "@INSTALLED_SIZE@"})) == json.dumps(
        sorted(set(word for word in control.split() if word.startswith("@") and word.endswith("@")))
    )
