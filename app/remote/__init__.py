"""A library kept on a Typesense server or cluster: the desktop computes CLIP vectors, the server stores
vectors and metadata only (never image bytes). Qt-free, like the engine.
"""
