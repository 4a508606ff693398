"""The differential suite: the same calls on a real Typesense and on Photoseek, outcomes compared."""
