"""Photoseek: private, local photo search with CLIP."""

__version__ = "0.1.0"
