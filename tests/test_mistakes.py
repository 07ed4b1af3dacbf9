"""The caller's range and cursor mistakes: a :class:`RevisionError` from the library,
one line and exit 2 from the command line — never a traceback, never a whole walk
read by mistake, never minutes spent on a long argument."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import patchtrack
from conftest import MAILS, git
from patchtrack.archive import _revs
from patchtrack.cli import main
from patchtrack.errors import RevisionError


@pytest.fixture(scope="module")
def v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("v2") / "gizmo", epoch_size=15)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


CURSORS: dict[str, Any] = {
    "not hexadecimal": {"0": "zzzz"},
    "not an epoch number": {"x": 5},
    "a list as commit": {"0": ["a"]},
    "null as commit": {"0": None},
    "a number as commit": {"0": 5},
    "too short": {"0": "abc"},
    "a trailing newline": {"0": "abcd\n"},
    "a negative epoch": {"-1": "abcd"},
    "a list": ["0", "abcd"],
    "a string": "0:abcd",
    "an epoch twice": {0: "abcd", "0": "abce"},
}


@pytest.mark.parametrize("name", CURSORS)
def test_malformed_cursor_is_a_revision_error(v2: Path, name: str) -> None:
    inbox = patchtrack.open_inbox(v2)
    with pytest.raises(RevisionError, match="cursor"):
        inbox.walk(after=CURSORS[name])
    with pytest.raises(RevisionError, match="cursor"):
        inbox.messages(after=CURSORS[name])  # at the call, not at the first message


def test_cursor_naming_no_commit(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    blob = git("rev-parse", "HEAD:m", cwd=v2 / "git" / "0.git").strip()
    with pytest.raises(RevisionError, match="is a blob, not a commit"):
        inbox.walk(after={"0": blob})
    # a well-formed id that is not there is a tip gone (history rewritten): the epoch again
    walk = inbox.walk(after={"0": "0" * 40, **{str(k): v for k, v in inbox.tips().items() if k}})
    assert len(list(walk)) == 15 and "gone" in walk.notes[0]


CURSOR_FILES: dict[str, bytes] = {
    **{name: json.dumps(cursor).encode() for name, cursor in CURSORS.items() if name != "an epoch twice"},
    "not JSON": b"{0: abcd}",
    "empty": b"",
    "binary": b"\xff\xfe\x00\x01",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("name", CURSOR_FILES)
def test_cli_malformed_cursor_file_is_one_line_exit_2(
    v2: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    cursor = tmp_path / "tips.json"
    cursor.write_bytes(CURSOR_FILES[name])
    for command in ("messages", "series"):
        code, out, err = run(capsys, command, str(v2), "--no-cache", "--after-tips", str(cursor))
        assert (code, out, len(err)) == (2, "", 1), (command, err)
        assert err[0].startswith("patchtrack: error: ") and ("cursor" in err[0] or str(cursor) in err[0])


def test_dot_dot_is_an_empty_range_as_git_reads_it(v2: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = v2 / "git" / "2.git"
    assert git("rev-list", "..", "--", cwd=repo) == ""  # HEAD..HEAD
    inbox = patchtrack.open_inbox(v2)
    for spec in ("..", " .. "):
        walk = inbox.walk(spec)
        assert list(walk) == [] and walk.stats.commits == 0
    code, out, err = run(capsys, "messages", str(v2), "..", "--no-cache")
    assert (code, out) == (0, "") and err[-1] == "patchtrack: 0 messages from 0 commits"
    # the open-ended forms still read what they did
    assert len(list(inbox.walk("HEAD~2.."))) == 2


@pytest.mark.parametrize("spec", ["a" * 100_000, "HEAD" + "~" * 100_000, "^" * 50_000 + "..x", "~" * 100_000 + "x"])
def test_long_range_is_refused_quickly(v2: Path, capsys: pytest.CaptureFixture[str], spec: str) -> None:
    inbox = patchtrack.open_inbox(v2)
    start = time.process_time()
    with pytest.raises(RevisionError, match=f"too long: {len(spec)} characters"):
        inbox.walk(spec)
    with pytest.raises(RevisionError, match="too long"):
        inbox.resolve(spec)
    code, out, err = run(capsys, "messages", str(v2), spec, "--no-cache")
    assert (code, out, len(err)) == (2, "", 1) and "too long" in err[0] and len(err[0]) < 200
    assert time.process_time() - start < 5  # the regex it replaces took 289 s on 100k


def test_ancestry_suffix_is_read_in_linear_time() -> None:
    """The suffix reader itself, past the length bound: ten times the input costs
    about ten times the time (the regex it replaces went up a hundredfold)."""

    def cost(n: int) -> float:
        shapes = ["a" + "~" * n, "a" + "^" * n, "a" + "~1" * (n // 2), "~" * n + "x", "1" * n]
        start = time.process_time()
        for shape in shapes:
            _revs._ancestry(shape)
        return time.process_time() - start

    small, large = min(cost(20_000) for _ in range(3)), min(cost(200_000) for _ in range(3))
    assert large < 30 * max(small, 1e-3)


@pytest.mark.parametrize(
    ("rev", "base", "steps"),
    [
        ("HEAD", "HEAD", 0),
        ("HEAD~", "HEAD", 1),
        ("HEAD~3", "HEAD", 3),
        ("HEAD~0", "HEAD", 0),
        ("HEAD^^", "HEAD", 2),
        ("ed37f1cc5~2^", "ed37f1cc5", 3),
        ("abc12~3", "abc12", 3),
        ("a~12~", "a", 13),
        ("X^2", "X^2", 0),  # a second parent is not a first-parent step
        ("~5", "~5", 0),  # the base keeps a character
        ("~~", "~", 1),
    ],
)
def test_ancestry_suffix_reads_as_before(rev: str, base: str, steps: int) -> None:
    assert _revs._ancestry(rev) == (base, steps)
