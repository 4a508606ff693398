"""`photoseek serve`: the engine behind Typesense's HTTP API, for scripts, other tools and other languages.

Qt-free, like the engine it serves.
"""
