"""Keyword search over text fields as Typesense does it, with its ``text_match_info`` and highlights.

Every query word must be in the document (in any of the ``query_by`` fields; the last word also as a
prefix), words cut by the collection's ``tokens.Tokenizer``. When nothing has every word, words are
dropped from the right, then from the left, until something matches (``drop_tokens_threshold`` 1). Ranked
by words matched exactly, then the earliest ``query_by`` field matched, then a field that is the query word
for word; ties newest first. Photoseek has no typo tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.engine.tokens import PLAIN, Tokenizer

# Typesense cuts a field's snippet down to the matches and this many words either side once the field has
# more than SNIPPET_THRESHOLD words.
SNIPPET_THRESHOLD = 30
AFFIX_WORDS = 4
_TOP_FIELD_WEIGHT = 15


def keyword_hits(
    bodies: Iterable[tuple[int, dict]], q: str, fields: list[str], tokenizer: Tokenizer = PLAIN
) -> list[dict]:
    """``[{"label", "text_match", "text_match_info"}]``, best first."""
    words = tokenizer.words
    query = words(q)
    if not query:
        return []
    docs = []
    for label, body in bodies:
        per_field = []
        for fname in fields:
            value = body.get(fname)
            elements = value if isinstance(value, list) else [value]
            texts = [words(v) for v in elements if isinstance(v, str)]
            per_field.append((set().union(*texts), texts))
        docs.append((label, per_field))
    for tried in _drops(len(query)):
        scored = _score_all(docs, [query[i] for i in tried], prefix=tried[-1] == len(query) - 1)
        if scored:
            scored.sort(key=lambda hit: (hit["text_match"], hit["label"]), reverse=True)  # ties newest first
            return scored
    return []


def _drops(n: int) -> list[list[int]]:
    """The word positions to try, in Typesense's order: all, then fewer from the right, then from the left."""
    from_right = [list(range(0, stop)) for stop in range(n, 0, -1)]
    return from_right + [list(range(start, n)) for start in range(1, n)]


def _score_all(docs: list[tuple[int, list]], query: list[str], *, prefix: bool) -> list[dict]:
    whole, last = (query[:-1], query[-1]) if prefix else (query, None)
    scored = []
    for label, per_field in docs:
        homes: list[list[int]] = []
        exact = 0
        for word in whole:
            found = [i for i, (tokens, _) in enumerate(per_field) if word in tokens]
            if not found:
                break
            homes.append(found)
            exact += 1
        else:
            if last is not None:
                found = [i for i, (tokens, _) in enumerate(per_field) if _has_prefix(tokens, last)]
                if not found:
                    continue
                homes.append(found)
                exact += any(last in tokens for tokens, _ in per_field)
            best_field = min(found[0] for found in homes)
            verbatim = any(query in texts for _, texts in per_field)
            fields_matched = len({i for found in homes for i in found})
            # One number, highest first, as Typesense's text_match is: exact words, field, word for word,
            # then how many fields matched.
            score = exact << 16 | (255 - min(best_field, 255)) << 8 | verbatim << 7 | min(fields_matched, 127)
            info = {
                "best_field_score": str(score),
                "best_field_weight": max(_TOP_FIELD_WEIGHT - best_field, 0),
                "fields_matched": fields_matched,
                "score": str(score),
                "tokens_matched": len(query),
            }
            scored.append({"label": label, "text_match": score, "text_match_info": info})
    return scored


def _has_prefix(tokens: set[str], prefix: str) -> bool:
    return any(t.startswith(prefix) for t in tokens)


def highlights(
    body: dict, q: str, fields: list[str], tokenizer: Tokenizer = PLAIN
) -> tuple[list[dict], dict]:
    """Typesense's ``highlights`` list and ``highlight`` dict for one hit: each text field with a query
    word in it, the words marked with ``<mark>``."""
    query = tokenizer.words(q)
    if not query:
        return [], {}
    whole, last = set(query[:-1]), query[-1]
    listed: list[dict] = []
    keyed: dict = {}
    for fname in fields:
        value = body.get(fname)
        if isinstance(value, str):
            snippet, matched = _mark(value, whole, last, tokenizer)
            if matched:
                listed.append({"field": fname, "matched_tokens": matched, "snippet": snippet})
                keyed[fname] = {"matched_tokens": matched, "snippet": snippet}
        elif isinstance(value, list):
            marked = [_mark(v, whole, last, tokenizer) if isinstance(v, str) else ("", []) for v in value]
            indices = [i for i, (_, matched) in enumerate(marked) if matched]
            if indices:
                listed.append({
                    "field": fname,
                    "indices": indices,
                    "matched_tokens": [marked[i][1] for i in indices],
                    "snippets": [marked[i][0] for i in indices],
                })
                keyed[fname] = [{"matched_tokens": m, "snippet": s} for s, m in marked]
    return listed, keyed


def _mark(text: str, whole: set[str], last: str, tokenizer: Tokenizer) -> tuple[str, list[str]]:
    """``text`` with its query words marked (cut to the matches in a long text), and the words marked."""
    spans = tokenizer.spans(text)
    marks: list[tuple[int, int]] = []  # [start, end) in text
    hit_words: list[int] = []
    for n, (token, kept) in enumerate(spans):
        if token in whole or token == last:
            end = kept[-1] + 1
        elif token.startswith(last):
            end = kept[min(len(last), len(kept)) - 1] + 1
        else:
            continue
        marks.append((kept[0], end))
        hit_words.append(n)
    if not marks:
        return text, []
    begin, finish = 0, len(text)
    if len(spans) > SNIPPET_THRESHOLD:
        begin = spans[max(hit_words[0] - AFFIX_WORDS, 0)][1][0]
        finish = spans[min(hit_words[-1] + AFFIX_WORDS, len(spans) - 1)][1][-1] + 1
    out, at = [], begin
    for start, end in marks:
        out += [text[at:start], "<mark>", text[start:end], "</mark>"]
        at = end
    out.append(text[at:finish])
    return "".join(out), [text[start:end] for start, end in marks]
