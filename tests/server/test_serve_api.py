"""Scripts written for a Typesense server work against `photoseek serve` with the official client."""

from __future__ import annotations

import json

import pytest
import typesense.exceptions as ts_errors

from app.engine.client import CollectionClient, Documents

from .conftest import Server, vector_doc, vector_schema


def test_a_collection_is_created_filled_searched_and_dropped(server: Server) -> None:
    client = server.client()
    created = client.collections.create(vector_schema("books"))
    assert created["name"] == "books" and created["num_documents"] == 0
    assert "books" in [c["name"] for c in client.collections.retrieve()]
    docs = client.collections["books"].documents

    results = docs.import_([vector_doc(i) for i in range(10)], {"action": "create"})
    assert results == [{"success": True}] * 10
    again = docs.import_([vector_doc(3), vector_doc(10)], {"action": "create"})
    assert again[0]["success"] is False and again[0]["code"] == 409
    assert again[1] == {"success": True}
    upserted = docs.import_([{**vector_doc(3), "title": "upserted"}], {"action": "upsert"})
    assert upserted == [{"success": True}]
    updated = docs.import_([{"id": "4", "title": "updated"}], {"action": "update"})
    emplaced = docs.import_([{"id": "5", "title": "emplaced"}], {"action": "emplace"})
    assert updated == emplaced == [{"success": True}]
    assert client.collections["books"].retrieve()["num_documents"] == 11

    found = docs.search({"q": "*", "vector_query": "vec:([1.0, 0.0, 0.0, 0.0], k: 3)", "per_page": 3})
    assert found["found"] == 3
    assert found["hits"][0]["document"]["id"] == "0"
    filtered = docs.search({"q": "*", "filter_by": "rank:>=8", "sort_by": "rank:desc", "per_page": 10})
    assert [h["document"]["id"] for h in filtered["hits"]] == ["10", "9", "8"]

    multi = client.multi_search.perform(
        {"searches": [{"q": "*", "filter_by": "rank:<2"}, {"q": "*", "collection": "nope"}]},
        {"collection": "books", "sort_by": "rank:asc"},
    )
    assert [h["document"]["id"] for h in multi["results"][0]["hits"]] == ["0", "1"]
    assert multi["results"][1]["code"] == 404

    assert docs["3"].retrieve()["title"] == "upserted"
    assert docs["4"].retrieve()["title"] == "updated"
    assert docs["5"].update({"title": "patched"})["title"] == "patched"
    assert docs["5"].delete()["id"] == "5"
    with pytest.raises(ts_errors.ObjectNotFound):
        docs["5"].retrieve()

    exported = [json.loads(line) for line in docs.export().splitlines()]
    assert sorted(d["id"] for d in exported) == sorted(str(i) for i in range(11) if i != 5)
    assert client.collections["books"].delete()["name"] == "books"
    with pytest.raises(ts_errors.ObjectNotFound):
        client.collections["books"].retrieve()


def test_single_documents_are_written_with_each_action(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("single"))
    docs = client.collections["single"].documents
    assert docs.create(vector_doc(1))["id"] == "1"
    with pytest.raises(ts_errors.ObjectAlreadyExists):
        docs.create(vector_doc(1))
    assert docs.upsert({**vector_doc(1), "title": "up"})["title"] == "up"
    emplaced = server.request("POST", "/collections/single/documents?action=emplace",
                              json={"id": "2", "title": "new", "rank": 2, "vec": [0, 1, 0, 0]})
    assert emplaced.status_code == 201 and emplaced.json()["title"] == "new"
    bad = server.request("POST", "/collections/single/documents?action=bogus", json=vector_doc(3))
    assert bad.status_code == 400
    assert bad.json() == {"message": "Parameter `action` must be a create|update|upsert."}
    # A filter in the query does not turn one document's update into an update of every match.
    one = server.request("POST", "/collections/single/documents?action=update&filter_by=rank:>0",
                         json={"id": "1", "title": "only me"})
    assert one.status_code == 201 and one.json()["title"] == "only me"
    assert docs["2"].retrieve()["title"] == "new"


def test_engine_errors_arrive_as_the_clients_exceptions(server: Server) -> None:
    client = server.client()
    with pytest.raises(ts_errors.ObjectNotFound):
        client.collections["missing"].retrieve()
    with pytest.raises(ts_errors.ObjectNotFound):
        client.collections["missing"].documents.search({"q": "*"})
    client.collections.create(vector_schema("dupe"))
    with pytest.raises(ts_errors.ObjectAlreadyExists):
        client.collections.create(vector_schema("dupe"))
    with pytest.raises(ts_errors.RequestMalformed):
        client.collections["dupe"].documents.import_([vector_doc(1)], {"action": "nonsense"})
    with pytest.raises(ts_errors.ObjectNotFound):
        client.collections["dupe"].documents["nope"].delete()
    bad_json = server.request("POST", "/collections", data=b"{not json")
    assert bad_json.status_code == 400 and bad_json.json() == {"message": "Bad JSON."}


def test_an_import_answers_line_by_line_in_order(server: Server) -> None:
    server.client().collections.create(vector_schema("lines"))
    lines = [json.dumps(vector_doc(i)) for i in range(150)]
    lines.insert(70, "not json")  # in the second chunk the server sends to the engine
    lines.insert(140, "")  # blank lines are skipped, as Typesense does
    response = server.request("POST", "/collections/lines/documents/import?batch_size=40&return_id=true",
                              data="\n".join(lines).encode())
    assert response.status_code == 200
    results = [json.loads(line) for line in response.text.split("\n")]
    assert len(results) == 151
    assert results[70]["success"] is False and results[70]["code"] == 400
    assert [r["id"] for r in results[:70]] == [str(i) for i in range(70)]
    assert [r["id"] for r in results[71:]] == [str(i) for i in range(70, 150)]
    empty = server.request("POST", "/collections/lines/documents/import", data=b"")
    assert empty.status_code == 200 and empty.text == ""
    missing = server.request("POST", "/collections/none/documents/import", data=b'{"id": "1"}')
    assert missing.status_code == 404


@pytest.mark.skipif(not hasattr(Documents, "delete"), reason="the engine has no delete-by-filter yet")
def test_documents_are_deleted_by_filter(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("purge"))
    docs = client.collections["purge"].documents
    docs.import_([vector_doc(i) for i in range(6)])
    assert docs.delete({"filter_by": "rank:>=4"})["num_deleted"] == 2
    assert client.collections["purge"].retrieve()["num_documents"] == 4


@pytest.mark.skipif(not hasattr(CollectionClient, "update"), reason="the engine has no collection alter yet")
def test_a_collection_gets_a_new_field(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("alter"))
    changed = client.collections["alter"].update({"fields": [{"name": "note", "type": "string",
                                                              "optional": True}]})
    assert [f["name"] for f in changed["fields"]] == ["note"]
    assert "note" in [f["name"] for f in client.collections["alter"].retrieve()["fields"]]


def test_a_long_raw_vector_fits_in_a_get_search(server: Server) -> None:
    client = server.client()
    client.collections.create(vector_schema("wide", dims=1024))
    docs = client.collections["wide"].documents
    docs.import_([{**vector_doc(i, dims=1024), "vec": [0.001 * (i + 1) * (j % 5 + 1) for j in range(1024)]}
                  for i in range(3)])
    query = ", ".join(f"{0.123456 * (j % 5 + 1):.6f}" for j in range(1024))  # about 10 KB of query string
    found = docs.search({"q": "*", "vector_query": f"vec:([{query}], k: 3)", "exclude_fields": "vec"})
    assert found["found"] == 3


def test_a_large_export_comes_whole_and_in_order_a_page_at_a_time(server: Server) -> None:
    from app.server.routes import EXPORT_PAGE

    client = server.client()
    client.collections.create(vector_schema("many"))
    docs = client.collections["many"].documents
    count = EXPORT_PAGE * 2 + 37  # three pages, the last one short
    # Insertion order is not id order: odd ids from the top, then even ids from the bottom.
    order = [i for i in reversed(range(count)) if i % 2] + [i for i in range(count) if i % 2 == 0]
    results = docs.import_([vector_doc(i) for i in order], {"action": "create"})
    assert all(r["success"] for r in results)
    docs["0"].delete()  # a hole in the first page
    exported = [json.loads(line) for line in docs.export().splitlines()]
    assert [d["id"] for d in exported] == [str(i) for i in order if i != 0]
    assert exported[0] == {**vector_doc(order[0]), "vec": exported[0]["vec"]}
    # A filter applies on every page; past the end of the filter's matches the export just ends.
    ranks = [json.loads(line)["rank"] for line in docs.export({"filter_by": "rank:>=1000"}).splitlines()]
    assert ranks == [i for i in order if i >= 1000]
    with pytest.raises(ts_errors.ObjectNotFound):
        client.collections["nope"].documents.export()
