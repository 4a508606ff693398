"""Followed folders: rescans add, re-embed, move and remove photos to match the disk, and never drop the
photos of a folder that is offline."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from engine_helpers import search_one, seed_schema, shape_bytes, truncated_jpeg_b64

from app.engine import Engine, ObjectAlreadyExists, ObjectNotFound, RequestMalformed
from app.engine.files import file_doc_id

PICTURES = {
    "red-circle.png": ("red", "circle", "PNG"),
    "trip/blue-square.jpg": ("blue", "square", "JPEG"),
    "trip/deeper/green-star.bmp": ("green", "star", "BMP"),
}


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    for rel, (colour, shape, fmt) in PICTURES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shape_bytes(colour, shape, 0, fmt))
    (root / "notes.txt").write_text("not a picture")
    return root


def folders(engine: Engine):
    return engine.collections["images"].folders


def count(engine: Engine) -> int:
    return engine.collections["images"].retrieve()["num_documents"]


def doc_of(engine: Engine, path: Path) -> dict:
    return engine.collections["images"].documents[file_doc_id(path)].retrieve()


def top_hit_path(engine: Engine, text: str) -> str:
    result = search_one(
        engine, {"collection": "images", "q": text, "query_by": "embedding", "exclude_fields": "embedding"}
    )
    return result["hits"][0]["document"]["path"]


def synced(engine: Engine, library: Path) -> dict:
    folders(engine).add(library)
    (report,) = folders(engine).sync()
    return report


def test_following_a_folder_indexes_its_photos_and_lists_it(engine: Engine, library: Path) -> None:
    report = synced(engine, library)
    assert report["status"] == "online" and report["imported"] == 3 and not report["failed"]
    assert count(engine) == 3
    assert top_hit_path(engine, "a green star") == str(library / "trip/deeper/green-star.bmp")
    (listed,) = folders(engine).retrieve()
    assert listed["path"] == str(library) and listed["documents"] == 3 and listed["status"] == "online"
    assert listed["last_scan"] is not None
    assert set(report["directories"]) == {str(library), str(library / "trip"), str(library / "trip/deeper")}


def test_rescanning_an_unchanged_folder_reads_no_photo(engine: Engine, library: Path) -> None:
    synced(engine, library)
    before = doc_of(engine, library / "red-circle.png")
    (report,) = folders(engine).sync()
    assert report["unchanged"] == 3
    assert report["to_import"] == [] and report["imported"] == 0 and report["removed"] == []
    assert doc_of(engine, library / "red-circle.png") == before


def test_a_renamed_photo_keeps_its_embedding_under_its_new_name(engine: Engine, library: Path) -> None:
    synced(engine, library)
    old = library / "trip/blue-square.jpg"
    before = engine.collections["images"].documents[file_doc_id(old)].retrieve()
    new = library / "trip/deeper/holiday-blue-square.jpg"
    old.rename(new)
    (report,) = folders(engine).sync()
    assert report["moved"] == [[str(old), str(new)]]
    assert report["to_import"] == [] and report["imported"] == 0 and report["removed"] == []
    assert count(engine) == 3
    moved = doc_of(engine, new)
    assert moved["embedding"] == before["embedding"]
    assert (
        moved["name"] == new.name and moved["folder"] == str(new.parent) and moved["id"] == file_doc_id(new)
    )
    with pytest.raises(ObjectNotFound):
        engine.collections["images"].documents[file_doc_id(old)].retrieve()
    assert top_hit_path(engine, "a blue square") == str(new)


def test_a_photo_moved_between_followed_folders_keeps_its_embedding(
    engine: Engine, library: Path, tmp_path: Path
) -> None:
    other = tmp_path / "Phone"
    other.mkdir()
    folders(engine).add(library)
    folders(engine).add(other)
    folders(engine).sync()
    shutil.move(library / "red-circle.png", other / "red-circle.png")
    reports = {r["folder"]: r for r in folders(engine).sync()}
    assert reports[str(other)]["moved"] == [[str(library / "red-circle.png"), str(other / "red-circle.png")]]
    assert reports[str(library)]["removed"] == [] and reports[str(other)]["imported"] == 0
    assert count(engine) == 3
    assert top_hit_path(engine, "a red circle") == str(other / "red-circle.png")


def test_a_deleted_photo_leaves_the_collection(engine: Engine, library: Path) -> None:
    synced(engine, library)
    gone = library / "trip/deeper/green-star.bmp"
    gone.unlink()
    (report,) = folders(engine).sync()
    assert report["removed"] == [str(gone)]
    assert count(engine) == 2
    with pytest.raises(ObjectNotFound):
        doc_of(engine, gone)
    assert all(h["document"]["path"] != str(gone) for h in _all_hits(engine))


def _all_hits(engine: Engine) -> list[dict]:
    result = search_one(
        engine, {"collection": "images", "q": "a star", "query_by": "embedding", "per_page": 10}
    )
    return result["hits"]


def test_a_photo_with_new_content_is_embedded_again(engine: Engine, library: Path) -> None:
    synced(engine, library)
    path = library / "red-circle.png"
    path.write_bytes(shape_bytes("yellow", "triangle", 0, "PNG"))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    (report,) = folders(engine).sync()
    assert report["to_import"] == [str(path)] and report["imported"] == 1
    assert top_hit_path(engine, "a yellow triangle") == str(path)
    assert doc_of(engine, path)["file_mtime"] == 1_700_000_000


def test_a_touched_photo_only_gets_its_new_time(engine: Engine, library: Path) -> None:
    synced(engine, library)
    path = library / "red-circle.png"
    before = doc_of(engine, path)
    os.utime(path, (1_600_000_000, 1_600_000_000))
    (report,) = folders(engine).sync()
    assert report["touched"] == 1 and report["to_import"] == [] and report["imported"] == 0
    after = doc_of(engine, path)
    assert after["file_mtime"] == 1_600_000_000 and after["embedding"] == before["embedding"]


def test_new_photos_and_broken_ones_are_reported_per_file(engine: Engine, library: Path) -> None:
    synced(engine, library)
    (library / "trip/purple-cross.png").write_bytes(shape_bytes("purple", "cross", 0, "PNG"))
    (library / "trip/broken.jpg").write_bytes(base64.b64decode(truncated_jpeg_b64()))
    (report,) = folders(engine).sync()
    assert sorted(report["to_import"]) == sorted(
        [str(library / "trip/purple-cross.png"), str(library / "trip/broken.jpg")]
    )
    assert report["imported"] == 1
    assert [f["path"] for f in report["failed"]] == [str(library / "trip/broken.jpg")]
    assert report["failed"][0]["error"]
    assert count(engine) == 4


def test_an_unplugged_folder_is_offline_and_keeps_its_photos(engine: Engine, library: Path) -> None:
    synced(engine, library)
    unplugged = library.with_name("Pictures-away")
    library.rename(unplugged)
    (report,) = folders(engine).sync()
    assert report["status"] == "offline" and "connect" in report["reason"]
    assert report["removed"] == [] and count(engine) == 3
    (listed,) = folders(engine).retrieve()
    assert listed["status"] == "offline" and listed["documents"] == 3

    unplugged.rename(library)
    (report,) = folders(engine).sync()
    assert report["status"] == "online" and report["unchanged"] == 3 and report["imported"] == 0
    assert folders(engine).retrieve()[0]["status"] == "online"


def test_a_folder_emptied_on_its_own_drive_loses_its_photos(engine: Engine, library: Path) -> None:
    synced(engine, library)
    for child in list(library.iterdir()):
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    (report,) = folders(engine).sync()
    assert report["status"] == "online" and len(report["removed"]) == 3
    assert count(engine) == 0


def test_nested_folders_are_followed_once(engine: Engine, library: Path) -> None:
    folders(engine).add(library / "trip")
    with pytest.raises(ObjectAlreadyExists, match="part of"):
        folders(engine).add(library / "trip/deeper")
    with pytest.raises(ObjectAlreadyExists):
        folders(engine).add(library / "trip")
    folders(engine).add(library)  # the parent takes over from the folder inside it
    assert [f["path"] for f in folders(engine).retrieve()] == [str(library)]
    with pytest.raises(RequestMalformed, match="not a folder"):
        folders(engine).add(library / "red-circle.png")


def test_unfollowing_removes_the_photos_but_never_the_files(engine: Engine, library: Path) -> None:
    synced(engine, library)
    assert folders(engine).delete(library) == {"folder": str(library), "removed": 3}
    assert count(engine) == 0 and folders(engine).retrieve() == []
    assert (library / "red-circle.png").exists()
    with pytest.raises(ObjectNotFound):
        folders(engine).delete(library)
    synced(engine, library)
    assert folders(engine).delete(library, remove_photos=False)["removed"] == 0
    assert count(engine) == 3


def test_only_followed_folders_can_be_rescanned(engine: Engine, library: Path) -> None:
    with pytest.raises(ObjectNotFound, match="does not follow"):
        folders(engine).sync([str(library)])


def test_followed_folders_survive_a_restart_and_a_collection_delete(tmp_path: Path, library: Path) -> None:
    with Engine(tmp_path / "data") as engine:
        engine.collections.create(seed_schema(("image",)))
        synced(engine, library)
    with Engine(tmp_path / "data") as engine:
        assert [f["path"] for f in folders(engine).retrieve()] == [str(library)]
        engine.collections["images"].delete()
        engine.collections.create(seed_schema(("image",)))
        assert folders(engine).retrieve() == []


def test_a_library_from_the_previous_version_is_upgraded(tmp_path: Path, library: Path) -> None:
    with Engine(tmp_path / "data") as engine:
        engine.collections.create(seed_schema(("image",)))
        engine.collections["images"].documents.import_files([library])
    conn = sqlite3.connect(tmp_path / "data" / "photoseek.db")
    conn.execute("DROP TABLE sources")
    conn.execute("DROP TABLE file_failures")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Engine(tmp_path / "data") as engine:
        assert count(engine) == 3
        assert synced(engine, library)["unchanged"] == 3


def test_trash_moves_files_to_the_trash_and_removes_the_photos(engine: Engine, library: Path) -> None:
    synced(engine, library)
    trash = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    victim = library / "trip/blue-square.jpg"
    already_gone = library / "red-circle.png"
    already_gone.unlink()
    documents = engine.collections["images"].documents
    results = documents.trash_files([file_doc_id(victim), file_doc_id(already_gone), "nope"])
    assert results[0]["success"] and results[0]["trashed"] is True
    assert results[1]["success"] and results[1]["trashed"] is False
    assert not results[2]["success"] and "nope" in results[2]["error"]
    assert not victim.exists()
    assert any(p.name.startswith("blue-square") for p in trash.iterdir())
    assert count(engine) == 1


def test_a_broken_file_is_not_tried_again_until_it_changes(engine: Engine, library: Path) -> None:
    broken = library / "trip/broken.jpg"
    broken.write_bytes(base64.b64decode(truncated_jpeg_b64()))
    report = synced(engine, library)
    assert [f["path"] for f in report["failed"]] == [str(broken)]

    (report,) = folders(engine).sync()
    assert report["to_import"] == [] and report["failed"] == []
    assert [f["path"] for f in report["known_failures"]] == [str(broken)]
    assert report["known_failures"][0]["error"]

    broken.write_bytes(shape_bytes("purple", "cross", 0, "JPEG"))  # fixed: tried again, and stored
    (report,) = folders(engine).sync()
    assert report["imported"] == 1 and report["known_failures"] == []
    assert top_hit_path(engine, "a purple cross") == str(broken)
    (report,) = folders(engine).sync()
    assert report["unchanged"] == 4 and report["known_failures"] == []


def test_photos_behind_a_symlinked_folder_are_kept(engine: Engine, library: Path, tmp_path: Path) -> None:
    external = tmp_path / "external"
    external.mkdir()
    (external / "linked.png").write_bytes(shape_bytes("purple", "cross", 0, "PNG"))
    (library / "Phone").symlink_to(external, target_is_directory=True)
    engine.collections["images"].documents.import_files([library / "Phone"])
    report = synced(engine, library)
    assert report["removed"] == [] and count(engine) == 4
    assert str(library / "Phone") not in report["ignored"]


def test_a_subfolder_that_cannot_be_listed_keeps_its_photos(
    engine: Engine, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced(engine, library)
    from app.engine import folders as folders_module

    real_scandir = os.scandir

    def flaky_share(path="."):  # what an unreachable network folder or a privacy prompt does
        if str(path).endswith("deeper"):
            raise OSError(5, "Input/output error", str(path))
        return real_scandir(path)

    monkeypatch.setattr(folders_module.os, "scandir", flaky_share)
    (report,) = folders(engine).sync()
    assert report["removed"] == [] and count(engine) == 3


def test_a_folder_emptied_into_another_followed_folder_moves_its_photos(
    engine: Engine, library: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "Inbox"
    inbox.mkdir()
    (inbox / "new.png").write_bytes(shape_bytes("purple", "cross", 0, "PNG"))
    folders(engine).add(library)
    folders(engine).add(inbox)
    folders(engine).sync()
    shutil.move(inbox / "new.png", library / "sorted.png")
    reports = {r["folder"]: r for r in folders(engine).sync()}
    assert reports[str(inbox)]["status"] == "online"
    assert reports[str(library)]["moved"] == [[str(inbox / "new.png"), str(library / "sorted.png")]]
    assert count(engine) == 4 and reports[str(library)]["imported"] == 0


def test_an_empty_folder_on_another_drive_than_before_is_offline(engine: Engine, library: Path) -> None:
    """An unmounted mount point: an empty folder on the parent's drive instead of the photos' drive."""
    synced(engine, library)
    for child in list(library.iterdir()):
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    conn = sqlite3.connect(engine.data_dir / "photoseek.db")
    conn.execute("UPDATE sources SET device = device + 1")
    conn.commit()
    conn.close()
    (report,) = folders(engine).sync()
    assert report["status"] == "offline" and "mounted" in report["reason"]
    assert count(engine) == 3


def test_a_file_name_that_is_not_utf8_is_reported_and_the_rest_imported(
    engine: Engine, library: Path
) -> None:
    odd = os.fsdecode(bytes(library) + b"/caf\xe9.png")
    Path(odd).write_bytes(shape_bytes("purple", "cross", 0, "PNG"))
    report = synced(engine, library)
    assert report["imported"] == 3
    assert [f["path"] for f in report["failed"]] == [odd] and "UTF-8" in report["failed"][0]["error"]
    results = engine.collections["images"].documents.import_files([odd])
    assert not results[0]["success"] and "rename" in results[0]["error"]


def test_trashing_a_second_path_to_the_same_file_keeps_the_file(
    engine: Engine, library: Path, tmp_path: Path
) -> None:
    documents = engine.collections["images"].documents
    documents.import_files([library])
    link = tmp_path / "Link"
    link.symlink_to(library, target_is_directory=True)
    documents.import_files([link])
    (result,) = documents.trash_files([file_doc_id(link / "red-circle.png")])
    assert result["success"] and result["trashed"] is False and "Same file" in result["note"]
    assert (library / "red-circle.png").exists() and count(engine) == 5


def test_a_rescan_can_walk_a_step_at_a_time(engine: Engine, library: Path) -> None:
    synced(engine, library)
    (library / "trip/blue-square.jpg").unlink()
    (library / "new").mkdir()
    (library / "new/purple-cross.png").write_bytes(shape_bytes("purple", "cross", 0, "PNG"))
    rescan = folders(engine).begin_scan()
    steps = 1
    while not rescan.step(0):  # one folder per step
        steps += 1
        assert count(engine) == 3  # walking alone changes nothing
    assert steps == 4  # Pictures, trip, trip/deeper, new
    (report,) = [s.to_dict() for s in rescan.finish()]
    assert report["removed"] == [str(library / "trip/blue-square.jpg")]
    assert report["to_import"] == [str(library / "new/purple-cross.png")]
    assert count(engine) == 2


def test_a_cancelled_rescan_changes_nothing(engine: Engine, library: Path) -> None:
    import threading

    synced(engine, library)
    (library / "red-circle.png").unlink()
    cancelled = threading.Event()
    cancelled.set()
    assert folders(engine).sync(cancel=cancelled) == []
    assert count(engine) == 3


def test_photos_on_a_drive_mounted_inside_stay_while_it_is_unplugged(engine: Engine, library: Path) -> None:
    """A NAS mounted at Pictures/trip: unplugged, the mount point is an empty folder on the outer drive."""
    synced(engine, library)
    conn = sqlite3.connect(engine.data_dir / "photoseek.db")
    # What a scan records for a folder inside that is another drive (tests cannot mount one).
    conn.execute("UPDATE sources SET mounts = ?", (f'["{library / "trip"}"]',))
    conn.commit()
    conn.close()
    shutil.rmtree(library / "trip")
    (library / "trip").mkdir()
    (report,) = folders(engine).sync()
    assert report["status"] == "online" and report["removed"] == [] and count(engine) == 3
    assert report["unplugged"] == [str(library / "trip")] and "photos kept" in report["reason"]
    (report,) = folders(engine).sync()  # remembered until it is back
    assert report["unplugged"] == [str(library / "trip")] and count(engine) == 3
