"""``photoseek search`` and ``photoseek similar``: text, image and combined queries, and photos like one
already in the library (by id or by path)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import cli_output
from app.cli_common import EXIT_OK, CliError, embedding_field, open_engine

if TYPE_CHECKING:
    from app.engine import Engine


def cmd_search(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.image is None):
        raise CliError("give either search text or --image FILE")
    if args.text is not None and not args.text.strip():
        raise CliError("the search text is empty")
    from app.engine.query_text import combined_query_params, parse_combined_query

    try:
        # Checked before the engine opens, so a typo fails fast without loading the model.
        combined = parse_combined_query(args.text) if args.text is not None else None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    with open_engine(args) as engine:
        field = embedding_field(engine, args.collection)
        params: dict[str, Any] = {"per_page": args.limit, "exclude_fields": field}
        if args.image is not None:
            encoded = base64.b64encode(Path(args.image).expanduser().read_bytes()).decode("ascii")
            params.update(q="*", vector_query=vector_query(field, [f"image:{encoded}"], args.threshold))
        elif combined is not None:
            # "beach + sunset - people": the engine searches with the weighted sum of the terms.
            terms = combined_query_params(*combined)
            params.update(q="*", vector_query=vector_query(field, terms, args.threshold))
        else:
            params.update(q=args.text, query_by=field)
            if args.threshold is not None:
                params["vector_query"] = vector_query(field, [], args.threshold)
        return print_search(engine, args, params)


def cmd_similar(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        field = embedding_field(engine, args.collection)
        doc_id = similar_document_id(engine, args.collection, args.id)
        # Backquotes let ids with commas or parentheses through the vector_query grammar.
        params = {"q": "*", "per_page": args.limit, "exclude_fields": field,
                  "vector_query": vector_query(field, [f"id:`{doc_id}`"], args.threshold)}
        return print_search(engine, args, params)


def similar_document_id(engine: Engine, collection: str, wanted: str) -> str:
    """The id of the photo ``similar`` starts from: ``wanted`` is a document id, or the path of a photo
    in the collection (easier to type than an id, and what a file manager gives; a photo whose file has
    gone since it was indexed is found by its path too)."""
    from app.engine.errors import ObjectNotFound

    documents = engine.collections[collection].documents
    is_file = os.path.isfile(os.path.expanduser(wanted))
    if not is_file and "`" not in wanted:
        try:
            documents[wanted].retrieve()
            return wanted
        except ObjectNotFound:
            pass
    if not is_file and os.sep not in wanted:
        raise CliError(f"no photo with the id `{wanted}` in collection `{collection}` (the id column of "
                       "photoseek search shows ids; a photo's file path works too)")
    doc_id = _document_at(engine, collection, Path(wanted).expanduser().absolute())
    if doc_id is not None:
        return doc_id
    quoted = shlex.quote(wanted)
    if not is_file:
        raise CliError(f"no photo in collection `{collection}` has the path or id {quoted}")
    raise CliError(f"{quoted} is not in collection `{collection}` (photoseek index adds it; to search "
                   f"with any picture: photoseek search --image {quoted})")


def _document_at(engine: Engine, collection: str, path: Path) -> str | None:
    fields = {f["name"] for f in engine.collections[collection].retrieve()["fields"]}
    if "path" not in fields:
        raise CliError(f"collection `{collection}` keeps no file paths: give the photo's id "
                       "(the id column of photoseek search)")
    for candidate in dict.fromkeys([str(path), str(path.resolve())]):
        if "`" in candidate:
            # filter_by quotes values in backquotes and has no escape for one inside.
            raise CliError("a path with a backquote (`) cannot be looked up: give the photo's id instead "
                           "(the id column of photoseek search)")
        found = engine.collections[collection].documents.search(
            {"q": "*", "filter_by": f"path:=`{candidate}`", "per_page": 1, "include_fields": "id"})
        if found["hits"]:
            return str(found["hits"][0]["document"]["id"])
    return None


def vector_query(field: str, params: list[str], threshold: float | None) -> str:
    if threshold is not None:
        params = [*params, f"distance_threshold:{threshold}"]
    return f"{field}:([], {', '.join(params)})" if params else f"{field}:([])"


def print_search(engine: Engine, args: argparse.Namespace, params: dict) -> int:
    # documents.search is multi_search's per-search call; it keeps the error's type (a missing model
    # stays ModelUnavailable and exits 3, where multi_search would fold it into a plain 400 result).
    result = engine.collections[args.collection].documents.search(params)
    print(json.dumps(result, indent=2) if args.json else cli_output.format_hits(result))
    return EXIT_OK


