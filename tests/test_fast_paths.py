"""The readers issue 19 made cheaper on a megabyte of short lines give exactly what the
line-by-line readers gave: each is checked against that reader (kept here, or in the
module) on generated text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from patchtrack import message
from patchtrack._mime import _unflow_lines, unflow


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="a >-\n", max_size=40), st.booleans())
def test_unflow_reads_as_line_by_line(text: str, delsp: bool) -> None:
    assert unflow(text, delsp) == _unflow_lines(text, delsp)


def _stripspace_by_line(text: str) -> str:
    joined = "\n".join([line.rstrip() for line in text.split("\n")]).strip("\n")
    return message._BLANK_RUN.sub("\n\n", joined) + "\n" if joined else ""


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="a \t\n\r\x0b\x85\u3000\xa0\x1c", max_size=40))
def test_long_text_stripspace_reads_as_line_by_line(text: str) -> None:
    pad = "x" * message._LONG_TEXT + " \n"  # over the length where the substitutions take over
    assert message._stripspace(pad + text) == _stripspace_by_line(pad + text)


def _notes_by_line(text: str) -> str | None:
    lines = text.split("\n")
    if lines and lines[0].startswith("---"):
        lines = lines[1:]
    kept = [line for line in lines if not message._DIFFSTAT_LINE.match(line)]
    return message._stripspace("\n".join(kept)) or None


_NOTE_LINES = ["---", "--- x", " f | 1 +", " a.c | 3 ++-", " 2 files changed, 3 insertions(+)", " create mode 100644 x",
               "", " ", "a", " rename a => b (90%)", " mode change 100644 => 100755 x", " f | Bin 1 -> 2 bytes"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_NOTE_LINES), max_size=12), st.booleans())
def test_notes_read_as_line_by_line(lines: list[str], final_break: bool) -> None:
    text = "\n".join(lines) + ("\n" if final_break else "")
    assert message._notes(text) == _notes_by_line(text)


def _inbody_by_line(body: str) -> tuple[dict[str, str], str]:
    if not re.match(r"\s*(?:from|subject|date)[ \t]*:", body, re.IGNORECASE):  # blanks, then a name
        return {}, body
    lines = body.split("\n")
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    found: dict[str, list[str]] = {}
    last = None
    while i < len(lines):
        line = lines[i]
        if last is not None and line[:1] in (" ", "\t") and line.strip():
            found[last].append(line.strip())
            i += 1
            continue
        m = message._INBODY.match(line)
        if not m:
            break
        last = m.group(1).lower()
        found.setdefault(last, [m.group(2).strip()])
        i += 1
    if not found:
        return {}, body
    if i < len(lines) and not lines[i].strip():
        i += 1
    return {name: " ".join(pieces) for name, pieces in found.items()}, "\n".join(lines[i:])


_BODY_LINES = ["", " ", "\t", "\x0b", "From: A <a@b>", "from:x", "Subject: s", " cont", "\tc", "Date: d", "body", " From: x"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_BODY_LINES), max_size=10), st.booleans())
def test_inbody_headers_read_as_line_by_line(lines: list[str], final_break: bool) -> None:
    body = "\n".join(lines) + ("\n" if final_break else "")
    assert message._inbody_headers(body, []) == _inbody_by_line(body)
