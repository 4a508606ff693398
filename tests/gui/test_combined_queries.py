"""Combined queries typed in the search field ("a red circle - a red square:0.5"), with the real engine and
the tiny model."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from .conftest import SEARCH_WAIT_MS, import_and_wait, requires_tiny_model, result_names


def search_for(qtbot, window, text: str) -> list[str]:
    """Type ``text`` into the search field, press Enter, and return the classes the grid shows in order."""
    window.search_field.clear()
    qtbot.keyClicks(window.search_field, text)
    with qtbot.waitSignal(
        window.resultsShown, timeout=SEARCH_WAIT_MS, check_params_cb=lambda q: q.text == text
    ):
        qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    # shapes_dir names files <colour>_<shape>_NNN.png
    return [name.rsplit("_", 1)[0] for name in result_names(window)]


@requires_tiny_model
def test_subtracting_a_red_square_keeps_red_circles_first_and_drops_red_squares(
    make_window, qtbot, shapes_dir: Path
) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])

    plain = search_for(qtbot, window, "a red circle")
    combined = search_for(qtbot, window, "a red circle - a red square:0.5")

    assert (
        "queries:[`a red circle`, `a red square`], query_weights:[1, -0.5]"
        in (window.search.params(1)["vector_query"])
    )
    assert combined[:3] == ["red_circle"] * 3
    # The plain words rank the red squares right behind the red circles; the subtraction pushes them down.
    assert "red_square" in plain[:6]
    assert "red_square" not in combined[:6]
    assert len(combined) == len(plain)


@requires_tiny_model
def test_weights_and_half_typed_operators_in_the_search_field(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    failures: list[object] = []
    window.search.searchFailed.connect(lambda query, problem: failures.append(problem))

    weighted = search_for(qtbot, window, "a circle:2 + red")
    assert weighted[:3] == ["red_circle"] * 3
    assert all(name.endswith("_circle") for name in weighted[:6])

    # A trailing operator is a combined query still being typed: the words are searched as they stand.
    half_typed = search_for(qtbot, window, "a red circle -")
    assert half_typed[0] == "red_circle" and not failures


@requires_tiny_model
def test_words_typed_beside_an_image_refine_its_search(make_window, qtbot, shapes_dir: Path) -> None:
    from app.shapes import draw_shape, encode_image

    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    picture = encode_image(draw_shape("red", "circle", seed=42), "PNG")
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        window.search_by_image(picture, "my red circle.png")
    by_image = [name.rsplit("_", 1)[0] for name in result_names(window)]
    assert by_image[:3] == ["red_circle"] * 3
    assert window.search_field.placeholderText().startswith("add words to refine")

    refined = search_for(qtbot, window, "a green circle")
    assert window.search_field.image_label == "my red circle.png"  # the chip stays
    query = window.search.query
    assert query.image_base64 is not None and query.text == "a green circle"
    assert "queries:[`a green circle`], query_weights:[0.5, 1]" in window.search.params(1)["vector_query"]
    assert refined[0] == "green_circle" and refined.index("green_circle") < by_image.index("green_circle")
    assert window.search_status.text().startswith("Search:")

    # Taking the image out keeps the words as the search.
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS, check_params_cb=lambda q: q.text):
        window.search_field._chip.remove_button.click()
    assert window.search.query.image_base64 is None and window.search.query.text == "a green circle"


@requires_tiny_model
def test_the_clear_button_takes_the_words_but_keeps_the_image(make_window, qtbot, shapes_dir: Path) -> None:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QToolButton

    from app.shapes import draw_shape, encode_image

    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        window.search_by_image(encode_image(draw_shape("red", "circle", seed=42), "PNG"), "red.png")
    search_for(qtbot, window, "green")
    clear = window.search_field.findChild(QAction, "_q_qlineeditclearaction")
    button = next(b for b in window.search_field.findChildren(QToolButton) if b.defaultAction() is clear)
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS, check_params_cb=lambda q: not q.text):
        button.click()
    assert window.search_field.image_label == "red.png"
    assert window.search.query.image_base64 is not None and window.search.query.text == ""
    assert window.search_status.text().startswith("Search:")


@requires_tiny_model
def test_the_find_similar_hint_goes_once_words_are_searched(make_window, qtbot, shapes_dir: Path) -> None:
    window = make_window()
    import_and_wait(qtbot, window, [shapes_dir])
    with qtbot.waitSignal(window.resultsShown, timeout=SEARCH_WAIT_MS):
        window.find_similar(window.results_model.doc_id(0), "first.png", path="")  # no picture to show
    assert window.search_field.placeholderText().startswith("Photos like first.png")
    search_for(qtbot, window, "a red circle")
    window.search_field.clear()
    assert not window.search_field.placeholderText().startswith("Photos like")
