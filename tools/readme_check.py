#!/usr/bin/env python3
"""Follow README.md word by word, as a newcomer would, and check what every command prints.

    python3 tools/readme_check.py [--skip-tests] [--keep DIR]

Every fenced code block in the README is preceded by a marker saying what this check does with it:

    <!-- readme-check: install -->   shell lines run in order in a fresh folder: clone, venv, pip install
    <!-- readme-check: tests -->     the test command, run inside that clone and venv (the whole suite)
    <!-- readme-check: commands -->  shell lines run one by one, each output checked against EXPECTED
    <!-- readme-check: python -->    the snippet, run by the venv's Python, its output checked
    <!-- readme-check: skip (why) -->   not run: it needs a display, the network, root, ...

Shell lines run one at a time in bash, each starting in the working folder and environment the line
before left (so `cd`, `source .venv/bin/activate` and `export` carry over, as in a terminal). There is no
display (so `photoseek` alone must say so and exit 4), no network but the package registries pip uses,
and a home folder of its own whose ~/Pictures holds generated photos. The clone comes from this checkout's
committed HEAD, not from GitHub.

Only the standard library is used here: on a fresh machine nothing else is installed until the README's
own install command has run. tests/test_readme.py checks, in the ordinary suite, that every README block
has a marker and every shell line an expected result, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLONE_URL = "https://github.com/photoseek/photoseek.git"
MARKER = re.compile(r"^<!-- readme-check: (install|tests|commands|python|skip)(?: \((.+)\))? -->$")
KINDS_RUN_AS_SHELL = ("install", "tests", "commands")
TIMED_OUT = -9  # the exit status recorded for a command stopped at its time limit
# The newcomer's terminal starts from these variables of the machine's and nothing else: no display, no
# Photoseek settings, no package-index or library-path tweaks that a user would not have. (pip still reads
# the machine's pip.conf, as it would for anyone on that machine.)
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TMPDIR", "USER", "LOGNAME", "SHELL", "TZ",
            "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
            # CI's demand that the tests against a real Typesense run rather than skip (.ci/run sets it).
            "PHOTOSEEK_REQUIRE_TYPESENSE")


@dataclass(frozen=True)
class Block:
    kind: str
    note: str | None
    language: str
    code: str
    line: int  # 1-based line of the README where the code starts


@dataclass(frozen=True)
class Ran:
    command: str
    code: int
    out: str
    err: str


def readme_blocks(text: str) -> list[Block]:
    """The README's fenced blocks with their markers; a block without a marker has kind ``""``."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = lines[i].strip()
        if not fence.startswith("```"):
            i += 1
            continue
        start = i + 1
        end = next((j for j in range(start, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise ValueError(f"README line {i + 1}: a ``` block that never ends")
        marker = MARKER.match(lines[i - 1].strip()) if i else None
        kind, note = (marker.group(1), marker.group(2)) if marker else ("", None)
        blocks.append(Block(kind, note, fence[3:].strip(), "\n".join(lines[start:end]), start + 1))
        i = end + 1
    return blocks


def shell_lines(code: str) -> list[str]:
    """Commands of a shell block: comments dropped, ``\\`` continuations joined."""
    commands, pending = [], ""
    for raw in code.splitlines():
        line = pending + raw
        if line.rstrip().endswith("\\"):
            pending = line.rstrip()[:-1] + " "
            continue
        pending = ""
        command = strip_comment(line).strip()
        if command:
            commands.append(command)
    return commands


def strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside quotes is kept)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


# -- what each command must print -------------------------------------------------------------------------

Check = Callable[[Ran, Path], str | None]  # (what ran, the home folder) -> a problem, or None


def succeeds(*needles: str) -> Check:
    def check(ran: Ran, home: Path) -> str | None:
        if ran.code != 0:
            return f"exit status {ran.code}"
        missing = [n for n in needles if n not in ran.out]
        return f"output lacks {missing}" if missing else None
    return check


def hit_table(first_hit: str | None = None, absent: str | None = None) -> Check:
    def check(ran: Ran, home: Path) -> str | None:
        if ran.code != 0:
            return f"exit status {ran.code}"
        rows = [line.split(None, 3) for line in ran.out.splitlines() if line.strip()[:1].isdigit()]
        if ran.out.split()[:4] != ["#", "similarity", "id", "photo"] or len(rows) < 3:
            return "no table of hits"
        if first_hit and first_hit not in rows[0][3]:
            return f"the first hit is {rows[0][3]}, not a {first_hit}"
        if absent and any(absent in row[3] for row in rows):
            return f"{absent} is among its own similar photos"
        return None
    return check


def no_display(ran: Ran, home: Path) -> str | None:
    wanted = "no display found (DISPLAY is not set), so the window cannot open"
    if ran.code != 4 or wanted not in ran.err:
        return f"exit status {ran.code} (wanted 4, the documented no-display status) and {ran.err!r}"
    return None


def folder_listed(ran: Ran, home: Path) -> str | None:
    if ran.code != 0:
        return f"exit status {ran.code}"
    row = next((line for line in ran.out.splitlines() if line.startswith(str(home / "Pictures"))), "")
    return None if "online" in row else f"~/Pictures is not listed as online:\n{ran.out}"


MAKE_JSONL = (
    "python3 -c 'import base64, json, sys; print(json.dumps({\"name\": \"query\", \"image\": "
    "base64.b64encode(open(sys.argv[1], \"rb\").read()).decode()}))' query.jpg > docs.jsonl"
)
EXPECTED: dict[str, Check] = {
    # install
    f"git clone {CLONE_URL} && cd photoseek": succeeds(),
    "python3 -m venv .venv && source .venv/bin/activate": succeeds(),
    "pip install torch==2.14.1 torchvision==0.29.1 && pip install -e .": succeeds(),
    "photoseek": no_display,
    # tests
    "bash tools/run-tests.sh": succeeds(),
    # trying it without downloading the model
    "export PHOTOSEEK_DEFAULT_MODEL=photoseek/tiny-shapes": succeeds(),
    "photoseek model": succeeds("Model photoseek/tiny-shapes: ready"),
    # the command line
    "photoseek index ~/Pictures": succeeds("Indexed 26 photos (0 unchanged, 0 skipped: not images, 0 "),
    'photoseek search "a dog in the snow"': hit_table(),
    'photoseek search "beach:2 + sunset - people"': hit_table(),
    "photoseek similar ~/Pictures/beach.jpg": hit_table(first_hit="orange_circle", absent="beach.jpg"),
    "photoseek search --image query.jpg": hit_table(first_hit="red_circle"),
    "photoseek collections": succeeds("Photos", "26"),
    "photoseek folders add ~/Pictures": succeeds("Pictures: 0 added"),
    "photoseek folders rescan": succeeds("26 unchanged"),
    "photoseek folders": folder_listed,
    "photoseek duplicates --similarity 0.95": succeeds("Group 1 (", "keep", "copy of blue_square_000.jpg"),
    "photoseek --help": succeeds("index", "search", "similar", "import", "folders", "duplicates", "model"),
    # JSONL import
    MAKE_JSONL: succeeds(),
    "photoseek import docs.jsonl --collection images": succeeds("Imported 1 documents (0 failed)"),
    # a typesense-python script, unchanged, on the engine
    "python3 docs/examples/typesense_script.py --engine my-books": succeeds(
        "deleted by filter: 2", "left: ['The Hobbit', 'Dune']"),
}
PYTHON_EXPECTED = "query\n"  # what the library snippet prints: the name of its best hit


# -- running ------------------------------------------------------------------------------------------------


class Terminal:
    """One shell line at a time, each starting where the one before left off (folder and environment)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env

    def run(self, command: str, timeout: float, *, stream: bool = False) -> Ran:
        """Run one line; ``stream`` passes its output straight to this script's stderr (a long install
        or the test suite shows its progress in the CI log) instead of capturing it for a check."""
        state = Path(tempfile.mkstemp(prefix="readme-state-")[1])
        # The state goes to a file, not stdout: the command's own output must stay exactly its own.
        script = (f"{command}\nstatus=$?\n{{ pwd; env -0; }} > {state}\nexit $status\n")
        output = sys.stderr if stream else subprocess.PIPE
        # A session of its own, so that a command that hangs is stopped with everything it started.
        proc = subprocess.Popen(["bash", "-c", script], cwd=self.cwd, env=self.env, text=True,
                                stdout=output, stderr=output, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            state.unlink()
            return Ran(command, TIMED_OUT, out or "", (err or "") + f"\n(stopped after {timeout:.0f} s)")
        out, err = out or "", err or ""
        saved = state.read_text()
        state.unlink()
        if saved:
            cwd, _, environ = saved.partition("\n")
            self.cwd = Path(cwd)
            self.env = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
        return Ran(command, proc.returncode, out, err)


def clean_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    if "VIRTUAL_ENV" in os.environ:  # started from a venv: its bin must not shadow the README's python3
        bin_dir = str(Path(os.environ["VIRTUAL_ENV"]) / "bin")
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != bin_dir)
    # pip keeps its download cache where it always does, so a second run does not fetch gigabytes again.
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env["HOME"] = str(home)
    return env


def make_pictures(terminal: Terminal, home: Path) -> None:
    """~/Pictures for the README's examples: 24 generated photos, a beach.jpg and a copy of one; query.jpg."""
    script = f"""
import shutil
from pathlib import Path
from app.shapes import draw_shape, encode_image, write_shape_folder
pictures = Path({str(home / "Pictures")!r})
write_shape_folder(pictures, colours=("red", "blue", "orange"), shapes=("circle", "square", "triangle",
                   "ring"), per_class=2, fmt="JPEG")
(pictures / "beach.jpg").write_bytes(encode_image(draw_shape("orange", "circle", seed=11), "JPEG"))
first = sorted(pictures.glob("blue_square*"))[0]
shutil.copy(first, pictures / ("copy of " + first.name))
Path("query.jpg").write_bytes(encode_image(draw_shape("red", "circle", seed=12), "JPEG"))
"""
    ran = terminal.run(f"python3 - <<'PY'\n{script}\nPY", timeout=300)
    if ran.code != 0:
        raise SystemExit(f"readme-check: could not make the example photos:\n{ran.err}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-tests", action="store_true", help="do not run the README's test command")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    try:
        blocks = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    problems = readme_problems(blocks)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    work = Path(args.keep or tempfile.mkdtemp(prefix="photoseek-readme-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    home = work / "home"
    home.mkdir()
    terminal = Terminal(work, clean_environment(home))
    failures, started = [], time.monotonic()
    try:
        for block in blocks:
            failures += run_block(block, terminal, home, args.skip_tests)
            if failures and block.kind == "install":
                break  # nothing after a failed install can mean anything
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"readme-check: {len(failures)} problem(s) in {time.monotonic() - started:.0f} s", file=sys.stderr)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


def run_block(block: Block, terminal: Terminal, home: Path, skip_tests: bool) -> list[str]:
    say = lambda text: print(f"readme-check: {text}", file=sys.stderr, flush=True)  # noqa: E731
    if block.kind == "skip" or (block.kind == "tests" and skip_tests):
        say(f"README line {block.line}: not run ({block.note or '--skip-tests'})")
        return []
    if block.kind == "python":
        say(f"README line {block.line}: the Python snippet")
        ran = terminal.run(f"python3 - <<'PY'\n{block.code}\nPY", timeout=600)
        if ran.code != 0 or ran.out != PYTHON_EXPECTED:
            return [f"README line {block.line}: the Python snippet printed {ran.out!r} (exit {ran.code}), "
                    f"wanted {PYTHON_EXPECTED!r}\n{ran.err}"]
        return []
    if block.kind == "commands" and not (home / "Pictures").exists():
        make_pictures(terminal, home)
    failures = []
    for command in shell_lines(block.code):
        say(f"$ {command}")
        line_started = time.monotonic()
        timeout = 3600 if block.kind != "commands" else 600
        # This checkout stands in for GitHub, cloned into the folder GitHub's name would give.
        ran = terminal.run(command.replace(CLONE_URL, f"{REPO} {CLONE_URL.rsplit('/', 1)[-1][:-4]}"),
                           timeout=timeout, stream=block.kind == "tests")
        problem = EXPECTED[command](ran, home)
        took = time.monotonic() - line_started
        say(f"  exit {ran.code} in {took:.0f} s" + (f": {problem}" if problem else ""))
        if problem:
            failures.append(f"README line {block.line}: `{command}`: {problem}\n--- stdout\n{ran.out[-3000:]}"
                            f"\n--- stderr\n{ran.err[-3000:]}")
            if block.kind == "install":
                break
    return failures


def readme_problems(blocks: list[Block]) -> list[str]:
    """What keeps the README and this check out of step: blocks without a marker, lines without an
    expected result, expected results for lines the README no longer has."""
    problems = [f"README line {b.line}: a ``` block without a <!-- readme-check: ... --> marker before it"
                for b in blocks if not b.kind]
    problems += [f"README line {b.line}: a skipped block must say why: <!-- readme-check: skip (why) -->"
                 for b in blocks if b.kind == "skip" and not b.note]
    shell = [(b, c) for b in blocks if b.kind in KINDS_RUN_AS_SHELL for c in shell_lines(b.code)]
    problems += [f"README line {b.line}: `{c}` has no expected result in tools/readme_check.py EXPECTED"
                 for b, c in shell if c not in EXPECTED]
    present = {c for _, c in shell}
    problems += [f"tools/readme_check.py expects `{c}`, which the README no longer has"
                 for c in EXPECTED if c not in present]
    return problems


if __name__ == "__main__":
    sys.exit(main())
