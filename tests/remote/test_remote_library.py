"""A photo library on a real Typesense 0.24.1 server: the desktop embeds, the server stores vectors only."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from typesense_server import DEFAULT_API_KEY, free_port

from app.engine.errors import ObjectNotFound, RequestUnauthorized, ServiceUnavailable
from app.shapes import draw_shape, encode_image

COLLECTION = "Photos"
TINY = "photoseek/tiny-shapes"
EMBEDDING = "embedding"


def search(remote, **params) -> dict:
    base = {"q": "*", "exclude_fields": EMBEDDING, "per_page": 10}
    return remote.collections[COLLECTION].documents.search({**base, **params})


def names(result: dict) -> list[str]:
    return [h["document"]["name"] for h in result["hits"]]


def text_query(remote, text: str, **params) -> dict:
    return search(remote, q=text, query_by=EMBEDDING, **params)


def test_a_second_desktop_finds_the_photo_schema_and_its_model(library) -> None:
    remote = library.remote()
    (photos,) = [c for c in remote.collections.retrieve() if c["name"] == COLLECTION]
    fields = {f["name"]: f for f in photos["fields"]}
    assert fields["image"]["type"] == "image"
    assert fields[EMBEDDING]["embed"]["model_config"] == {"model_name": "photoseek/tiny-shapes"}
    assert photos["num_documents"] == len(library.files)
    # The server's own copy has no image field and a plain vector field.
    server = remote.conn.client.collections[COLLECTION].retrieve()
    server_fields = {f["name"]: f for f in server["fields"]}
    assert "image" not in server_fields
    assert server_fields[EMBEDDING]["num_dim"] == 128


def test_text_query_finds_the_shape_first(library) -> None:
    remote = library.remote()
    for text, prefix in (
        ("red circle", "red_circle"),
        ("blue square", "blue_square"),
        ("green triangle", "green_triangle"),
    ):
        result = text_query(remote, text, per_page=2)
        assert all(n.startswith(prefix) for n in names(result)), (text, names(result))
        assert all("vector_distance" in h for h in result["hits"])


def test_find_similar_leaves_the_photo_out_and_ranks_its_look_alikes(library) -> None:
    remote = library.remote()
    anchor = text_query(remote, "yellow square", per_page=1)["hits"][0]["document"]
    result = search(remote, vector_query=f"{EMBEDDING}:([], id:{anchor['id']})", per_page=5)
    ids = [h["document"]["id"] for h in result["hits"]]
    assert anchor["id"] not in ids
    assert len(ids) == 5  # over-fetched by one: the page stays full
    assert names(result)[0].startswith("yellow_square")


def test_a_pasted_picture_finds_its_class(library) -> None:
    remote = library.remote()
    pasted = base64.b64encode(encode_image(draw_shape("green", "circle", size=64, seed=1234), "PNG")).decode()
    result = search(remote, vector_query=f"{EMBEDDING}:([], image:{pasted})", per_page=2)
    assert all(n.startswith("green_circle") for n in names(result)), names(result)


def test_a_combined_query_leans_away_from_its_minus_term(library) -> None:
    remote = library.remote()
    vq = f"{EMBEDDING}:([], queries:[`circle`, `red`], query_weights:[1, -1])"
    result = search(remote, vector_query=vq, per_page=3)
    assert all("circle" in n and not n.startswith("red") for n in names(result)), names(result)


def test_a_folder_filter_keeps_to_that_folder(library) -> None:
    remote = library.remote()
    cool = str(library.photos / "cool")
    result = text_query(remote, "red circle", filter_by=f"folder:=`{cool}`", per_page=20)
    assert result["hits"] and all(h["document"]["folder"] == cool for h in result["hits"])
    assert not any(n.startswith("red") for n in names(result))
    facets = search(remote, per_page=0, facet_by="folder")["facet_counts"][0]["counts"]
    assert sorted((c["value"], c["count"]) for c in facets) == sorted(
        [(str(library.photos / "cool"), 12), (str(library.photos / "warm"), 12)]
    )


def test_threshold_drops_far_hits_and_found_counts_what_remains(library) -> None:
    remote = library.remote()
    everything = text_query(remote, "red circle", per_page=24)
    cut = everything["hits"][3]["vector_distance"]
    result = search(
        remote,
        q="red circle",
        query_by=EMBEDDING,
        vector_query=f"{EMBEDDING}:([], distance_threshold:{cut})",
        per_page=24,
    )
    assert result["found"] == len(result["hits"]) >= 4
    assert all(h["vector_distance"] <= cut for h in result["hits"])
    assert len(result["hits"]) < len(everything["hits"])


def test_pages_follow_on_without_repeats(library) -> None:
    remote = library.remote()
    first = text_query(remote, "blue", per_page=5, page=1)
    second = text_query(remote, "blue", per_page=5, page=2)
    both = text_query(remote, "blue", per_page=10, page=1)
    assert names(first) + names(second) == names(both)
    assert second["page"] == 2


def test_importing_again_from_another_desktop_stores_no_duplicate(library, tmp_path: Path) -> None:
    remote, other = library.remote(), library.remote()
    before = remote.collections[COLLECTION].retrieve()["num_documents"]
    again = other.collections[COLLECTION].documents.import_files([library.photos / "warm"])
    assert all(r["success"] and r.get("unchanged") for r in again)
    # The same bytes under another name (a copy on another desktop) are the same photo.
    copy = tmp_path / "copy_of_red.png"
    shutil.copyfile(library.files[0], copy)
    (result,) = other.collections[COLLECTION].documents.import_files([copy])
    assert result["success"] and result["id"] == again[0]["id"]
    assert remote.collections[COLLECTION].retrieve()["num_documents"] == before
    stored = remote.collections[COLLECTION].documents[result["id"]].retrieve()
    assert stored["path"] == str(copy)
    # Put back as it was for the other tests.
    other.collections[COLLECTION].documents.import_files([library.files[0]])


def test_no_image_bytes_ever_reach_the_server(library) -> None:
    remote = library.remote()
    docs = [
        {
            "id": "pasted-1",
            "name": "a.png",
            "path": "/nowhere/a.png",
            "image": base64.b64encode(encode_image(draw_shape("red", "star", size=64), "PNG")).decode(),
        },
        {"name": "bad.png", "path": "/nowhere/bad.png", "image": "not base64!"},
    ]
    results = remote.collections[COLLECTION].documents.import_(docs, {"action": "upsert"})
    assert results[0]["success"] is True
    assert results[1]["success"] is False and "image" in results[1]["error"].lower()
    client = remote.conn.client
    dumped = "\n".join(
        client.collections[c["name"]].documents.export() for c in client.collections.retrieve()
    )
    for line in dumped.splitlines():
        assert "image" not in json.loads(line)
    assert "iVBORw0KGgo" not in dumped  # a PNG in base64
    assert "\x89PNG" not in dumped and "PNG\\r\\n" not in dumped
    remote.collections[COLLECTION].documents["pasted-1"].delete()
    with pytest.raises(ObjectNotFound):
        remote.collections[COLLECTION].documents["pasted-1"].retrieve()


def test_a_wrong_key_names_the_server_not_the_key(library) -> None:
    wrong = "wrong-key-5d1c9e"
    with pytest.raises(RequestUnauthorized) as caught:
        library.remote(api_key=wrong)
    message = str(caught.value)
    assert library.url in message and wrong not in message and DEFAULT_API_KEY not in message


def test_an_unreachable_node_names_its_url() -> None:
    from app.remote.client import RemoteLibrary

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable) as caught:
        RemoteLibrary([url], "secret-key-77", timeout_s=2, num_retries=0)
    assert url in str(caught.value) and "secret-key-77" not in str(caught.value)


def test_trash_moves_the_file_and_removes_the_photo(library, tmp_path: Path) -> None:
    remote = library.remote()
    photo = tmp_path / "trash_me.png"
    photo.write_bytes(encode_image(draw_shape("purple", "ring", size=64), "PNG"))
    (imported,) = remote.collections[COLLECTION].documents.import_files([photo])
    (trashed,) = remote.collections[COLLECTION].documents.trash_files([imported["id"]])
    assert trashed["success"] and trashed["trashed"] and not photo.exists()
    with pytest.raises(ObjectNotFound):
        remote.collections[COLLECTION].documents[imported["id"]].retrieve()


def test_the_server_ranks_as_the_embedded_engine_does(library, tmp_path: Path) -> None:
    from app.engine import Engine
    from app.library.defaults import photo_schema

    remote = library.remote()
    with Engine(tmp_path / "local") as engine:
        engine.collections.create(photo_schema(COLLECTION, "photoseek/tiny-shapes"))
        engine.collections[COLLECTION].documents.import_files([library.photos])
        for text in ("red circle", "yellow triangle", "green", "square"):
            local = engine.collections[COLLECTION].documents.search(
                {"q": text, "query_by": EMBEDDING, "per_page": 5, "exclude_fields": EMBEDDING}
            )
            # Ids differ by design (path-derived there, content-derived here): compare the files.
            assert names(text_query(remote, text, per_page=5)) == names(local), text
        # A hybrid search (words in the file name and the picture) is fused here as the engine fuses it.
        hybrid = {"q": "yellow", "query_by": f"name,{EMBEDDING}", "per_page": 5, "exclude_fields": EMBEDDING}
        local = engine.collections[COLLECTION].documents.search(hybrid)
        on_server = search(remote, **hybrid)
        assert names(on_server) == names(local)
        assert all(n.startswith("yellow") for n in names(on_server))


def test_the_library_service_runs_on_a_server_library(library, photoseek_dirs: Path, tmp_path: Path) -> None:
    from app.library.defaults import photo_schema
    from app.library.service import LibraryService

    events: list[object] = []
    service = LibraryService(photoseek_dirs, on_event=events.append)
    service.client = library.remote()  # what connecting to a server will do instead of open()
    folder = tmp_path / "service"
    shutil.copytree(library.photos / "cool", folder)
    try:
        service.import_paths("Service", [str(folder)], create_schema=photo_schema("Service", TINY)).run()
        assert {c["name"]: c["num_documents"] for c in service.collections()}["Service"] == 12
        page = service.search("Service", {"q": "blue circle", "query_by": EMBEDDING, "per_page": 2})
        assert [h["document"]["name"][:11] for h in page.hits] == ["blue_circle"] * 2
        facets = service.facets("Service", {"q": "*", "facet_by": "file_type"})["facet_counts"]
        assert facets[0]["counts"] == [{"count": 12, "highlighted": "png", "value": "png"}]
        first = page.hits[0]["document"]["id"]
        assert service.remove_documents("Service", [first]) == [first]
        (trashed,) = service.trash_documents("Service", [page.hits[1]["document"]["id"]])
        assert trashed["success"] and not Path(page.hits[1]["document"]["path"]).exists()
        assert {c["name"]: c["num_documents"] for c in service.collections()}["Service"] == 10
    finally:
        service.delete_collection("Service")
        service.close()


def test_two_desktops_importing_the_same_photos_at_once_store_each_once(library, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from app.library.defaults import photo_schema

    folder = tmp_path / "shared"
    shutil.copytree(library.photos / "warm", folder)
    desktops = [library.remote(), library.remote()]
    desktops[0].collections.create(photo_schema("Shared", TINY))
    try:
        with ThreadPoolExecutor(2) as pool:
            runs = list(
                pool.map(lambda d: d.collections["Shared"].documents.import_files([folder]), desktops)
            )
        assert all(r["success"] for run in runs for r in run)
        assert [r["id"] for r in runs[0]] == [r["id"] for r in runs[1]]
        assert desktops[1].collections["Shared"].retrieve()["num_documents"] == 12
    finally:
        desktops[0].collections["Shared"].delete()


def test_find_similar_pages_on_without_the_photo(library) -> None:
    remote = library.remote()
    anchor = text_query(remote, "blue circle", per_page=1)["hits"][0]["document"]["id"]
    vq = f"{EMBEDDING}:([], id:{anchor})"
    pages = [search(remote, vector_query=vq, per_page=4, page=p) for p in (1, 2)]
    both = search(remote, vector_query=vq, per_page=8)
    ids = [h["document"]["id"] for page in pages for h in page["hits"]]
    assert ids == [h["document"]["id"] for h in both["hits"]] and anchor not in ids and len(ids) == 8
    assert pages[1]["found"] == 8  # as the engine counts: the nearest page x per_page


def test_jsonl_import_answers_jsonl(library) -> None:
    remote = library.remote()
    picture = base64.b64encode(encode_image(draw_shape("white", "cross", size=64), "PNG")).decode()
    line = json.dumps({"id": "jsonl-1", "name": "w.png", "path": "/nowhere/w.png", "image": picture})
    answer = remote.collections[COLLECTION].documents.import_(line + "\n{not json\n", {"action": "create"})
    good, bad = (json.loads(x) for x in answer.splitlines())
    assert good == {"success": True}
    assert bad["success"] is False and "JSON" in bad["error"]
    again = remote.collections[COLLECTION].documents.import_(line, {"action": "create"})
    assert json.loads(again)["success"] is False  # the server's 409: created once only
    remote.collections[COLLECTION].documents["jsonl-1"].delete()


def test_a_bad_file_gets_the_engines_own_error(library, tmp_path: Path) -> None:
    from app.engine import Engine
    from app.library.defaults import photo_schema

    folder = tmp_path / "bad"
    folder.mkdir()
    whole = encode_image(draw_shape("black", "star", size=64), "PNG")
    (folder / "cut.png").write_bytes(whole[: len(whole) // 3])
    (folder / "notes.txt").write_text("not a photo", encoding="utf-8")
    remote = library.remote()
    on_server = remote.collections[COLLECTION].documents.import_files([folder])
    with Engine(tmp_path / "local") as engine:
        engine.collections.create(photo_schema(COLLECTION, TINY))
        local = engine.collections[COLLECTION].documents.import_files([folder])
    assert [(r["path"], r["success"], r["error"]) for r in on_server] == [
        (r["path"], r["success"], r["error"]) for r in local
    ]
    assert not any(r["success"] for r in on_server)
