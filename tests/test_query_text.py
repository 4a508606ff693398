"""Combined queries typed as text ("a red circle - a red square", "a circle:2 + red"): the parser, what the
engine ranks for them with the tiny model, and the CLI's ``photoseek search`` taking them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from engine_helpers import build_library, hit_ids, search_error, search_one

from app import cli
from app.engine import Engine
from app.engine.query_text import combined_query_params, combined_vector_query, parse_combined_query
from app.engine.vector_query import parse_vector_query
from app.shapes import write_shape_folder

TINY = "photoseek/tiny-shapes"

# --------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text",
    ["a red circle", "t-shirt", "well-known red-ish circle", "-people", "c++", "red+blue", "red -blue",
     "a `quoted + text`", "ratio 16:9"],
)
def test_text_without_standalone_operators_is_a_plain_search(text: str) -> None:
    assert parse_combined_query(text) is None
    assert combined_vector_query("embedding", text) is None


@pytest.mark.parametrize(
    ("text", "terms", "weights"),
    [
        ("beach + sunset - people", ["beach", "sunset", "people"], [1.0, 1.0, -1.0]),
        ("beach:2 + sunset - people:0.5", ["beach", "sunset", "people"], [2.0, 1.0, -0.5]),
        ("a t-shirt - a well-known logo", ["a t-shirt", "a well-known logo"], [1.0, -1.0]),
        ("- people", ["people"], [-1.0]),
        ("+ beach", ["beach"], [1.0]),
        ("  red\t+\tcircle  ", ["red", "circle"], [1.0, 1.0]),
        ("dog - cat:-0.5", ["dog", "cat"], [1.0, 0.5]),
        ("note: beach + sea", ["note: beach", "sea"], [1.0, 1.0]),
        ("`16:9 + 4:3`:2 + cinema", ["16:9 + 4:3", "cinema"], [2.0, 1.0]),
        ("`red, blue` + circle", ["red, blue", "circle"], [1.0, 1.0]),
    ],
)
def test_combined_query_terms_and_weights(text: str, terms: list[str], weights: list[float]) -> None:
    assert parse_combined_query(text) == (terms, weights)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("red - ", "empty term after `-`"),
        ("-", "empty term after `-`"),
        ("red + + circle", "empty term after `+`"),
        ("`` + circle", "empty term before the first operator"),
        ("beach:lots + sunset", "The weight `lots` of `beach` is not a number"),
        ("beach:inf + sunset", "not a finite number"),
        ("`beach + sunset", "backquote (`) that is never closed"),
    ],
)
def test_malformed_combined_queries_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_combined_query(text)
    assert problem in str(caught.value)


def test_vector_query_text_is_what_the_engine_parses_back() -> None:
    text = "beach + `sunset, orange`:0.25 - people"
    vq_text = combined_vector_query("embedding", text)
    assert vq_text == (
        "embedding:([], queries:[`beach`, `sunset, orange`, `people`], query_weights:[1, 0.25, -1])"
    )
    parsed = parse_vector_query(vq_text)
    assert (parsed.field, parsed.queries, parsed.query_weights) == (
        "embedding", ["beach", "sunset, orange", "people"], [1.0, 0.25, -1.0]
    )
    assert combined_query_params(["a"], [-1.5]) == ["queries:[`a`]", "query_weights:[-1.5]"]


# --------------------------------------------------------------------------------------------- engine


@pytest.fixture(scope="module")
def shapes_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One picture of each of the 48 colour x shape classes, imported once; tests open their own engine."""
    data_dir = tmp_path_factory.mktemp("combined-library")
    build_library(data_dir, per_class=1).engine.close()
    return data_dir


@contextmanager
def opened(data_dir: Path) -> Iterator[Engine]:
    engine = Engine(data_dir)
    try:
        yield engine
    finally:
        engine.close()


def ranked_ids(engine: Engine, text: str) -> list[str]:
    vector_query = combined_vector_query("embedding", text)
    assert vector_query is not None, text
    params = {"collection": "images", "q": "*", "vector_query": vector_query, "per_page": 48}
    return hit_ids(search_one(engine, params))


def test_subtracting_a_red_square_pushes_squares_below_circles(shapes_library: Path) -> None:
    with opened(shapes_library) as engine:
        plain = hit_ids(search_one(engine, {"collection": "images", "q": "a red circle",
                                            "query_by": "embedding", "per_page": 48}))
        combined = ranked_ids(engine, "a red circle - a red square")
    # Plain text finds the red square right behind the red circle; subtracting it drops every square.
    assert plain.index("red-square-0") < 5
    assert combined.index("red-circle-0") < combined.index("red-square-0")
    assert combined.index("red-square-0") > 20
    assert not [doc for doc in combined[:10] if doc.split("-")[1] == "square"]


def test_weights_decide_which_term_matters_most(shapes_library: Path) -> None:
    with opened(shapes_library) as engine:
        circle_first = ranked_ids(engine, "a circle:2 + red")
        red_first = ranked_ids(engine, "a circle + red:2")
    assert circle_first[0] == "red-circle-0"
    assert all(doc.split("-")[1] == "circle" for doc in circle_first[:7])
    # Weighting "red" instead lifts the red square above the other circles.
    assert red_first.index("red-square-0") < circle_first.index("red-square-0")


def test_terms_that_cancel_out_are_a_clear_error(shapes_library: Path) -> None:
    with opened(shapes_library) as engine:
        vector_query = combined_vector_query("embedding", "red - red")
        error = search_error(engine, {"collection": "images", "q": "*", "vector_query": vector_query})
    assert error["code"] == 400 and "cancel each other out" in error["error"]


# --------------------------------------------------------------------------------------------- CLI


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def ranked_classes(table: str) -> list[str]:
    """``red_circle`` etc. from the photo column of the CLI's ranked table."""
    lines = [line.split(None, 3) for line in table.strip().splitlines()[1:] if line.strip()[:1].isdigit()]
    return [Path(row[3]).stem.rsplit("_", 1)[0] for row in lines]


def test_cli_search_takes_a_combined_query(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    colours, shapes = ("red", "green", "blue", "yellow"), ("circle", "square", "triangle")
    write_shape_folder(photos, colours=colours, shapes=shapes)
    data = str(tmp_path / "data")
    assert run_cli("index", str(photos), "--data-dir", data, "--model", TINY)[0] == cli.EXIT_OK

    code, plain, _ = run_cli("search", "a red circle", "--data-dir", data, "-n", "12")
    assert code == cli.EXIT_OK
    code, combined, err = run_cli("search", "a red circle - a red square:0.5", "--data-dir", data, "-n", "12")
    assert code == cli.EXIT_OK, err
    plain_rank, combined_rank = ranked_classes(plain), ranked_classes(combined)
    assert combined_rank[0] == "red_circle" and len(combined_rank) == 12
    assert combined_rank.index("red_square") > plain_rank.index("red_square")

    code, out, err = run_cli("search", "beach:lots + sunset", "--data-dir", data)
    assert code == cli.EXIT_USAGE and out == ""
    assert err.startswith("photoseek: error: ") and "The weight `lots` of `beach` is not a number" in err
