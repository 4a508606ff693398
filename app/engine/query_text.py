"""Combined queries typed as text, e.g. ``beach + sunset - people`` or ``beach:2 + sunset - people:0.5``.

The text becomes Typesense's ``vector_query`` ``queries:[...]`` / ``query_weights:[...]``: the engine embeds
each term and searches with the weighted sum of their vectors, so ``- people`` pulls results away from
people.

Grammar (decided here, kept deliberately small so ordinary searches never change meaning):

* ``+`` and ``-`` are operators only when they stand alone: whitespace (or the start / end of the text) on
  both sides. ``t-shirt``, ``well-known``, ``-people`` and ``c++`` are words, never split. Text with no
  standalone operator is a plain search (``parse_combined_query`` returns None).
* A standalone operator at the very start signs the first term: ``- people`` searches away from people.
* A term may end in ``:WEIGHT`` (a finite number, no space before the colon): ``beach:2``. The weight
  defaults to 1; ``-`` negates it.
* Backquotes keep a term literal: ```16:9 + 4:3` + cinema`` has two terms, the first ``16:9 + 4:3``. The
  backquotes themselves are dropped, because the ``vector_query`` grammar uses them to quote each term.
"""

from __future__ import annotations

import math

_OPERATORS = ("+", "-")


def _split_terms(text: str) -> list[tuple[str, str]]:
    """(sign, raw term) pairs; the first sign is "" when the text does not start with an operator."""
    pieces: list[tuple[str, str]] = []
    sign = ""
    start = 0
    quoted = False
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
            continue
        if quoted or ch not in _OPERATORS:
            continue
        stands_alone = (i == 0 or text[i - 1].isspace()) and (i + 1 == len(text) or text[i + 1].isspace())
        if not stands_alone:
            continue
        if i > 0 or pieces:
            pieces.append((sign, text[start:i]))
        sign = ch
        start = i + 1
    if quoted:
        raise ValueError("The query has a backquote (`) that is never closed.")
    pieces.append((sign, text[start:]))
    return pieces


def _term_and_weight(raw: str, operator: str) -> tuple[str, float]:
    term = raw.strip()
    where = f"after `{operator}`" if operator else "before the first operator"
    if not term:
        raise ValueError(f"The combined query has an empty term {where}.")
    weight = 1.0
    # Colons inside backquotes are text, so look for the weight only after the last backquote.
    unquoted_from = term.rfind("`") + 1
    colon = term.rfind(":", unquoted_from)
    if colon >= 0:
        body, suffix = term[:colon], term[colon + 1 :]
        # Only a colon glued to the last word is a weight; "note: beach" stays text.
        if suffix and not any(c.isspace() for c in suffix):
            try:
                weight = float(suffix)
            except ValueError:
                raise ValueError(f"The weight `{suffix}` of `{body.strip()}` is not a number.") from None
            if not math.isfinite(weight):
                raise ValueError(f"The weight `{suffix}` of `{body.strip()}` is not a finite number.")
            term = body.strip()
    term = term.replace("`", "").strip()
    if not term:
        raise ValueError(f"The combined query has an empty term {where}.")
    return term, weight


def parse_combined_query(text: str) -> tuple[list[str], list[float]] | None:
    """(terms, weights) of a combined query, or None when ``text`` is a plain search.

    Raises ValueError naming the problem for a malformed combined query (an empty term, a weight that is
    not a number, an unclosed backquote).
    """
    pieces = _split_terms(text)
    if len(pieces) == 1 and not pieces[0][0]:
        return None
    terms: list[str] = []
    weights: list[float] = []
    for sign, raw in pieces:
        term, weight = _term_and_weight(raw, sign)
        terms.append(term)
        weights.append(-weight if sign == "-" else weight)
    return terms, weights


def _number(value: float) -> str:
    # "1" rather than "1.0" keeps the request readable; repr keeps every digit of other weights.
    return str(int(value)) if value.is_integer() else repr(value)


def combined_query_params(terms: list[str], weights: list[float]) -> list[str]:
    """The ``queries:[...]`` and ``query_weights:[...]`` parameters of a ``vector_query``."""
    queries = ", ".join(f"`{term}`" for term in terms)
    numbers = ", ".join(_number(weight) for weight in weights)
    return [f"queries:[{queries}]", f"query_weights:[{numbers}]"]


def combined_vector_query(field: str, text: str) -> str | None:
    """The ``vector_query`` for a combined query typed as ``text``, or None when it is a plain search.

    ``combined_vector_query("embedding", "beach + sunset - people")`` is
    ``embedding:([], queries:[`beach`, `sunset`, `people`], query_weights:[1, 1, -1])``.
    """
    parsed = parse_combined_query(text)
    if parsed is None:
        return None
    return f"{field}:([], {', '.join(combined_query_params(*parsed))})"


def refining_query_params(text: str, anchor_weight: float = 1.0) -> list[str]:
    """``queries`` and ``query_weights`` that refine an ``id:`` or ``image:`` query with typed words: the
    photo counts as one more term of ``anchor_weight``, first ("this photo + night - people")."""
    try:
        parsed = parse_combined_query(text)
    except ValueError:
        parsed = None  # half-typed ("night - "): the words as typed
    # Backquotes quote each term in the vector_query, so a plain phrase cannot keep its own.
    terms, weights = parsed if parsed is not None else ([text.strip().replace("`", "")], [1.0])
    return combined_query_params(terms, [anchor_weight, *weights])
