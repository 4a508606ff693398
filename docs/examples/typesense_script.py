"""An ordinary script for Typesense's official Python client, run unchanged against three back ends.

    python docs/examples/typesense_script.py --engine my-library          # Photoseek's engine, in-process
    python docs/examples/typesense_script.py --server http://127.0.0.1:8108   # `photoseek serve` or Typesense

With --server the API key is read from $TYPESENSE_API_KEY (never from the command line). Everything in
`run()` is plain typesense-python: nothing in it knows which back end answers. tests/test_typesense_script.py
runs it against all three and checks they print the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import urlsplit

import typesense
import typesense.exceptions

BOOKS = [
    {"id": "1", "title": "The Hobbit", "author": "J. R. R. Tolkien", "year": 1937, "tags": ["fantasy"]},
    {"id": "2", "title": "Dune", "author": "Frank Herbert", "year": 1965, "tags": ["science fiction"]},
    {"id": "3", "title": "Neuromancer", "author": "William Gibson", "year": 1984, "tags": ["cyberpunk"]},
    {"id": "4", "title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin", "year": 1969,
     "tags": ["science fiction"]},
    {"id": "5", "title": "A Wizard of Earthsea", "author": "Ursula K. Le Guin", "year": 1968,
     "tags": ["fantasy"]},
]


def run(client) -> list[str]:
    """The script proper: what a Typesense user writes. Returns the lines it prints."""
    out: list[str] = []
    # Drop the collection if an earlier run left it.
    try:  # noqa: SIM105 (the way Typesense users write it)
        client.collections["books"].delete()
    except typesense.exceptions.ObjectNotFound:
        pass
    client.collections.create({
        "name": "books",
        "fields": [
            {"name": "title", "type": "string"},
            {"name": "author", "type": "string", "facet": True},
            {"name": "year", "type": "int32"},
            {"name": "tags", "type": "string[]", "facet": True},
        ],
        "default_sorting_field": "year",
    })
    books = client.collections["books"].documents
    results = books.import_(BOOKS, {"action": "create"})
    out.append(f"imported {sum(r['success'] for r in results)} of {len(results)}")
    again = books.import_([{"id": "2", "title": "Dune", "author": "Frank Herbert", "year": 1965,
                            "tags": ["science fiction", "classic"]}], {"action": "upsert"})
    out.append(f"upsert: {again[0]['success']}")

    found = books.search({"q": "*", "query_by": "title", "filter_by": "year:>1960",
                          "sort_by": "year:asc", "facet_by": "author"})
    out.append(f"after 1960, oldest first: {[h['document']['title'] for h in found['hits']]}")
    counts = {c["value"]: c["count"] for c in found["facet_counts"][0]["counts"]}
    out.append(f"by author: {dict(sorted(counts.items()))}")

    both = client.multi_search.perform(
        {"searches": [{"filter_by": "tags:=fantasy"}, {"filter_by": "tags:=cyberpunk"}]},
        {"collection": "books", "q": "*", "query_by": "title", "sort_by": "year:desc"})
    out.append(f"multi_search: {[[h['document']['id'] for h in r['hits']] for r in both['results']]}")

    doc = books["3"].retrieve()
    out.append(f"retrieved: {doc['title']} ({doc['year']})")
    books["3"].update({"year": 1985})
    out.append(f"updated: {books['3'].retrieve()['year']}")
    books["3"].delete()
    try:
        books["3"].retrieve()
    except typesense.exceptions.ObjectNotFound:
        out.append("deleted: 3 is gone")

    exported = [json.loads(line) for line in books.export().splitlines()]
    out.append(f"exported ids: {sorted(d['id'] for d in exported)}")
    removed = books.delete({"filter_by": "author:=Ursula K. Le Guin"})
    out.append(f"deleted by filter: {removed['num_deleted']}")
    left = books.search({"q": "*", "query_by": "title", "sort_by": "year:asc"})
    out.append(f"left: {[h['document']['title'] for h in left['hits']]}")
    client.collections["books"].delete()
    return out


def client_for_server(url: str, api_key: str):
    parts = urlsplit(url)
    return typesense.Client({
        "nodes": [{"host": parts.hostname, "port": parts.port or 8108, "protocol": parts.scheme or "http"}],
        "api_key": api_key,
        "connection_timeout_seconds": 10,
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--engine", metavar="FOLDER", help="a Photoseek library folder, used in-process")
    where.add_argument("--server", metavar="URL", help="a Typesense server or `photoseek serve`")
    args = parser.parse_args(argv)
    if args.engine:
        from app.engine import Engine

        with Engine(args.engine) as engine:
            lines = run(engine)
    else:
        key = os.environ.get("TYPESENSE_API_KEY")
        if not key:
            parser.error("set TYPESENSE_API_KEY to the server's API key")
        lines = run(client_for_server(args.server, key))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
