"""Words as Typesense cuts text into them, for keyword search, highlights and ``field:word`` filters.

Split at white space and at the collection's ``token_separators``; within a word only letters, digits
and the collection's ``symbols_to_index`` count (``green-apple`` is the one word ``greenapple`` unless
``-`` separates); lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Everything but letters and digits (\W, plus the underscore that \w counts as a letter).
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Tokenizer:
    separators: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()

    def spans(self, text: str) -> list[tuple[str, list[int]]]:
        """Each word, lower case, with the positions in ``text`` of the characters it keeps."""
        out: list[tuple[str, list[int]]] = []
        kept: list[int] = []
        for i, ch in enumerate(text):
            if ch.isspace() or ch in self.separators:
                if kept:
                    out.append(("".join(text[j] for j in kept).lower(), kept))
                    kept = []
            elif ch.isalnum() or ch in self.symbols:
                kept.append(i)
        if kept:
            out.append(("".join(text[j] for j in kept).lower(), kept))
        return out

    def words(self, text: str) -> list[str]:
        if not self.separators and not self.symbols:
            # The common case, in C: every document's text is cut at every keyword search and filter.
            return [w for w in (_NOT_ALNUM.sub("", chunk).lower() for chunk in text.split()) if w]
        return [word for word, _ in self.spans(text)]


PLAIN = Tokenizer()


def tokenizer_for(extra: dict) -> Tokenizer:
    """The tokenizer of a collection, from its schema's ``token_separators`` and ``symbols_to_index``."""
    separators = extra.get("token_separators") or []
    symbols = extra.get("symbols_to_index") or []
    if not separators and not symbols:
        return PLAIN
    return Tokenizer(frozenset(separators), frozenset(symbols))
