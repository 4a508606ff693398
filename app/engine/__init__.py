"""Photoseek's engine: Typesense-style collections, CLIP embeddings and vector search. Never imports Qt."""

from app.engine.client import Engine
from app.engine.errors import (
    ModelUnavailable,
    ObjectAlreadyExists,
    ObjectNotFound,
    ObjectUnprocessable,
    RequestMalformed,
    TypesenseError,
)

__all__ = [
    "Engine",
    "ModelUnavailable",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "ObjectUnprocessable",
    "RequestMalformed",
    "TypesenseError",
]
