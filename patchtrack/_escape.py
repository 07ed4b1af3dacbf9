"""Mail text made safe to show: on a terminal (control characters shown, not obeyed)
and in Markdown (nothing in it becomes HTML, a link or structure).

Every text renderer — the report's text, Markdown and HTML, the command's text
output — passes mail-derived strings through here (``docs/report.md``, "Mail text in
the output").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["safe_line", "safe_lines", "md_inline", "md_code_block", "repr_title"]

# Control characters a terminal acts on: C0 (tab aside), DEL, C1 (U+009B is CSI to
# some terminals), and the bidi embeddings, overrides and isolates that reorder what
# follows them on screen. A subject of ``ESC ] 0 ; … BEL ESC [ 2 J`` retitles the
# window and clears the screen. Lone surrogates (a UTF-7 or unicode_escape decode)
# cannot be written as UTF-8 at all.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _picture(found: re.Match[str]) -> str:
    code = ord(found.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def safe_line(text: str) -> str:
    """``text`` safe to print as one line on a terminal: each control character
    shown as its picture (ESC as ␛, a newline as ␊, DEL as ␡), C1 controls, bidi
    embeddings, overrides and isolates, and lone surrogates as U+FFFD; tabs are kept."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


def safe_lines(lines: Sequence[str]) -> str:
    """``lines`` joined by newlines, each made :func:`safe_line` (a newline inside
    one, from mail text, is shown, not obeyed)."""
    text = "\n".join(lines)
    if text.count("\n") == len(lines) - 1 and not _CONTROL_BUT_NEWLINE.search(text):
        return text  # nearly every report: one scan, no copy (+0.04 s on linux-pwm's 11 MB)
    return "\n".join(map(safe_line, lines))


# What would change a Markdown line's structure: raw HTML and entities (<, >, &),
# links and images ([ ]), code spans (`), emphasis (* _ ~), a heading's closing #s, a
# table's cells (|), and the backslash that escapes the rest.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]#|~<>&]")
_MD_ESCAPED = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_BACKTICKS = re.compile("`{3,}")


def _md_char(found: re.Match[str]) -> str:
    char = found.group()
    return _MD_ESCAPED.get(char) or "\\" + char


# A URL made only of characters RFC 3986 allows (no <, >, space, backslash or
# backtick): safe inside an autolink, where nothing is escaped or interpreted.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]+")


def md_inline(text: str) -> str:
    """``text`` as literal Markdown inline text on one line (a heading, a table cell,
    a list item): nothing in it becomes HTML, a link, code, emphasis or a cell break,
    and control characters are shown (:func:`safe_line`). URLs
    (:func:`~patchtrack.report.lore_link` writes them percent-encoded) become autolinks."""
    text = safe_line(text)
    out, at = [], 0
    for url in _URL.finditer(text):
        out += [_MD_SPECIAL.sub(_md_char, text[at:url.start()]), f"<{url.group()}>"]
        at = url.end()
    out.append(_MD_SPECIAL.sub(_md_char, text[at:]))
    return "".join(out)


def md_code_block(lines: Sequence[str]) -> str:
    """``lines`` as a fenced code block whose fence is longer than any run of
    backticks inside (so none closes it early); control characters are shown."""
    text = safe_lines(lines)
    longest = max(map(len, _BACKTICKS.findall(text)), default=0) if "```" in text else 0
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def repr_title(text: str, limit: int = 60) -> str:
    """A title as a record's ``__repr__`` quotes it: clipped to ``limit`` characters
    (``…`` marks the cut), as a Python literal, so control characters are escaped."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
