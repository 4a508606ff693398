"""The README and tools/readme_check.py stay in step.

CI runs the check itself (a fresh clone and venv, every README command run and its output checked: minutes
and gigabytes). This fast part, in the ordinary suite, fails as soon as the README gains a block the check
does not know, or a command without an expected result, so the README cannot drift out of the check.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def readme_check():  # the module: tools/ is not a package
    spec = importlib.util.spec_from_file_location("readme_check", REPO / "tools" / "readme_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_readme_block_is_run_or_says_why_not(readme_check) -> None:
    blocks = readme_check.readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert readme_check.readme_problems(blocks) == []
    kinds = [b.kind for b in blocks]
    # A newcomer's path, in the order they meet it: install first, then what they try.
    assert kinds[0] == "install" and "tests" in kinds and "python" in kinds
    assert kinds.count("commands") >= 2


def test_a_block_without_a_marker_or_a_line_without_an_expectation_is_reported(readme_check) -> None:
    text = "\n".join([
        "Intro", "```bash", "photoseek index ~/Pictures", "```", "",
        "<!-- readme-check: commands -->", "```bash", "photoseek search cats   # new", "```", "",
        "<!-- readme-check: skip -->", "```bash", "rm -rf /", "```",
    ])
    problems = readme_check.readme_problems(readme_check.readme_blocks(text))
    assert any("line 3: a ``` block without a <!-- readme-check" in p for p in problems)
    assert any("`photoseek search cats` has no expected result" in p for p in problems)
    assert any("skipped block must say why" in p for p in problems)
    assert any("expects `photoseek folders`, which the README no longer has" in p for p in problems)


def test_shell_lines_drop_comments_but_not_quoted_hashes(readme_check) -> None:
    code = 'photoseek search "#1 beach"   # a comment\n\n# only a comment\nphotoseek index \\\n  ~/Pictures\n'
    assert readme_check.shell_lines(code) == ['photoseek search "#1 beach"', "photoseek index    ~/Pictures"]


def test_a_search_that_prints_no_hits_fails_the_check(readme_check, tmp_path: Path) -> None:
    check = readme_check.hit_table(first_hit="red_circle")
    empty = readme_check.Ran("photoseek search x", 0, "No matches.\n", "")
    assert check(empty, tmp_path) == "no table of hits"
    assert check(readme_check.Ran("photoseek search x", 2, "", "error"), tmp_path) == "exit status 2"
