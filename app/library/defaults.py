"""The default photo collection: one definition for the CLI and the desktop app, so one user gets one
library whichever of the two they start with."""

from __future__ import annotations

from collections.abc import Iterable

from app.resources import default_collection_schema

DEFAULT_COLLECTION = "Photos"
# What the CLI called its default collection before it shared the app's: a library made then keeps
# working under that name.
LEGACY_DEFAULT_COLLECTION = "photos"


def default_collection(existing: Iterable[str]) -> str:
    """The collection to use when none was named: "Photos", or an older CLI library's "photos" when
    that is the one that exists."""
    names = set(existing)
    if DEFAULT_COLLECTION not in names and LEGACY_DEFAULT_COLLECTION in names:
        return LEGACY_DEFAULT_COLLECTION
    return DEFAULT_COLLECTION


def photo_schema(name: str, model: str, *, keep_copies: bool = False, embed_file_name: bool = False) -> dict:
    """The schema of a photo collection: file name and path stored, the image itself embedded.

    ``keep_copies`` stores the image (base64) in the collection so it survives the file moving;
    ``embed_file_name`` adds the file name to the embedding (Typesense's multi-field ``from``).
    """
    schema = default_collection_schema(model, name)
    for field in schema["fields"]:
        if field["type"] == "image":
            field["store"] = keep_copies
        if field.get("embed") and embed_file_name:
            field["embed"]["from"] = ["name", *field["embed"]["from"]]
    return schema
