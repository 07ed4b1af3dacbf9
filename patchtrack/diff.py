"""The diff of a patch mail: where it starts, its diffstat, and its patch-id.

Three pure functions over the diff text a mail carries (``git mailinfo``'s patch, or
``Message.diff``):

- :func:`diff_start` finds the first line of the diff, as ``git mailinfo``/``git
  apply`` would;
- :func:`diffstat` reads it into a :class:`Diffstat` of :class:`FileChange`
  records — the numbers ``git apply --numstat`` prints — counting plain ``git
  format-patch`` diffs directly and reading every other diff with **unidiff**;
- :func:`patch_id` hashes it exactly as ``git patch-id --stable`` does;
- :func:`diffstat_and_patch_id` gives both, in one pass for a plain diff.

Mail diffs end in junk (the ``-- `` signature and version line, list footers, quoted
replies) and are sometimes mangled (CRLF, stripped blanks, wrong hunk counts). These
functions never raise on any text: like git, they stop reading a file's hunks where the
hunk counts say it ends, skip junk between files, and keep what they could read of a
corrupt diff that ``git apply`` would refuse. ``docs/diff.md`` has the rules and their
agreement with git on real archives.
"""

from __future__ import annotations

import hashlib
import io
import operator
import re

from collections.abc import Iterable
from typing import AnyStr

import attrs
from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError

from .vocab import Problem

__all__ = [
    "FileChange", "Diffstat", "MAX_FILES", "MAX_HUNKS", "diff_start", "diffstat", "diffstat_and_patch_id", "patch_id",
    "read_diff",
]

@attrs.frozen
class FileChange:
    """One file of a diff, as ``git apply --numstat --summary`` reports it.

    ``path`` is the path after the change (before it, for a deletion), without the
    ``a/``/``b/`` prefix; ``old_path`` is set only for a rename or copy. ``status`` is
    ``added``, ``deleted``, ``modified``, ``renamed`` or ``copied``. A binary file counts
    no lines (``git apply --numstat`` prints ``-``); a mode change alone is a
    ``modified`` file with no lines.
    """

    path: str
    old_path: str | None
    added: int
    removed: int
    binary: bool
    status: str


@attrs.frozen
class Diffstat:
    """The files a diff changes, in diff order, and its line totals."""

    files: tuple[FileChange, ...] = ()
    insertions: int = 0
    deletions: int = 0


_EMPTY = Diffstat()

# --- where a diff starts ------------------------------------------------------------

_START = re.compile(r"^(?:diff -|Index: |--- [^\n]*\n\+\+\+ [^\n]*\n@@ -)", re.MULTILINE)


def diff_start(text: str) -> int | None:
    """Offset in ``text`` of the first line where a diff begins, or ``None``.

    That is a line starting ``diff -`` (``diff --git``, ``diff -u``, ``diff --cc``), a
    CVS/SVN ``Index: `` line, or a ``--- `` line followed by a ``+++ `` line and a hunk
    header ``@@ -`` — the patch breaks of ``git mailinfo`` that start a diff (not the
    bare ``---`` before the diffstat) and the headers ``git apply`` looks for.
    """
    found = _START.search(text)
    return found.start() if found else None


# --- diffstat -------------------------------------------------------------------------

# The lines a diff header (after ``diff --git``) may hold, as git apply knows them.
_GIT_HEADER_LINES = (
    "old mode ", "new mode ", "deleted file mode ", "new file mode ", "copy from ",
    "copy to ", "rename old ", "rename new ", "rename from ", "rename to ",
    "similarity index ", "dissimilarity index ", "index ",
)
_EPOCH = re.compile(
    r"(1969-12-31|1970-01-01) ([0-2][0-9]):([0-5][0-9]):00(?:\.0+)? ([-+])([0-2][0-9]):?([0-5][0-9])"
)
_QUOTED = re.compile(rb'\\([0-3][0-7]{2}|[abfnrtv\\"])')
_ESCAPES = {
    b"a": b"\a", b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v",
    b"\\": b"\\", b'"': b'"',
}
_DEV_NULL = "/dev/null"
# a date, time and zone after a name, as git apply's diff_timestamp_len finds them
_TIMESTAMP = re.compile(
    r"(?:\t| +)(?:[0-9]{2})?[0-9]{2}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?: [-+](?:[0-9]{4}|[0-9]{2}:[0-9]{2}))?\Z"
)


class _PartialPatchSet(PatchSet):
    """A unidiff ``PatchSet`` (counts only) that keeps the files it read before an error.

    unidiff raises ``UnidiffParseError`` on the first line it cannot place (a hunk
    shorter or longer than its header says, a hunk with no file); the files already
    appended stay in the list, and ``failed`` says the input was not read to its end.
    The other exceptions are caught too: a mail is data, and must not stop a walk.
    """

    def __init__(self, lines: Iterable[str]) -> None:
        self.failed = False
        try:
            super().__init__(lines, metadata_only=True)
        except (UnidiffParseError, ValueError, IndexError, TypeError):
            self.failed = True


def _read_files(lines: list[str]) -> list[PatchedFile]:
    """Every file unidiff can read from ``lines``.

    After a parse error, reading resumes at the next line that starts a file (``diff
    --git``, or ``--- `` before ``+++ ``), which may be the line that failed (a short
    hunk swallows the next file's header) or the one before it. One error is mended
    rather than skipped: a ``diff --git`` line that does not name the file as the
    ``+++`` line right after its header does (a mailer joined the ``index`` line to
    it). git takes the names from ``---``/``+++``, so the file read from there is given
    back to its header.
    """
    files: list[PatchedFile] = []
    start = 0
    orphan: PatchedFile | None = None  # a diff --git file whose ---/+++ lines unidiff refused
    while start < len(lines):
        feed = iter(lines)
        feed.__setstate__(start)  # type: ignore[attr-defined]  # a list iterator from `start`
        parsed = _PartialPatchSet(feed)
        found = list(parsed)
        if orphan is not None and found and not _is_git(found[0]):
            _adopt(orphan, found.pop(0))
        orphan = None
        files.extend(found)
        if not parsed.failed:
            break
        failed = len(lines) - operator.length_hint(feed) - 1
        if failed - 1 > start and lines[failed].startswith("+++ ") and lines[failed - 1].startswith("--- "):
            last = found[-1] if found else None
            if last is not None and not last and _is_git(last):
                header = start + (last.diff_line_no or 1) - 1
                if all(line.startswith(_GIT_HEADER_LINES) for line in lines[header + 1 : failed - 1]):
                    orphan = last
            start = failed - 1
            continue
        start = max(failed, start + 1)
        while start < len(lines) and not _starts_file(lines, start):
            start += 1
    return files


def _is_git(patched: PatchedFile) -> bool:
    info = patched.patch_info
    if not info:
        return False
    return bool(info[0].startswith("diff --git "))


def _starts_file(lines: list[str], i: int) -> bool:
    line = lines[i]
    return line.startswith("diff --git ") or (
        line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")
    )


def _adopt(header: PatchedFile, body: PatchedFile) -> None:
    """Give ``header`` (a ``diff --git`` file) the ``---``/``+++`` names and the hunks
    that unidiff read as a separate traditional file."""
    # git drops one directory from these names; one it cannot drop leaves the header's name
    if header.source_file != _DEV_NULL and "/" in body.source_file:
        header.source_file = body.source_file
    if header.target_file != _DEV_NULL and "/" in body.target_file:
        header.target_file = body.target_file
    header.extend(body)


def diffstat(diff: str) -> Diffstat:
    """Read a diff into a :class:`Diffstat`; never raises. Plain ``git format-patch``
    diffs are counted directly, everything else is read with unidiff (both give the
    same records: see the fast path below).

    The text may start with anything (a commit message, ``---`` and git's diffstat:
    reading begins at :func:`diff_start`) and end in mail junk. Files are ``diff
    --git`` diffs and traditional ``--- ``/``+++ `` diffs, with git apply's names: one
    leading directory dropped, rename/copy names from their header lines, ``/dev/null``
    or an epoch timestamp marking a created or deleted file. Where git apply would
    refuse a corrupt diff, the result holds what could be read: every hunk before the
    broken one, and the files after it. Text without a diff gives an empty Diffstat.
    """
    start = diff_start(diff)
    return _EMPTY if start is None else _stat_of(_lf(diff[start:]))


def _lf(text: str) -> str:
    """``text`` with CRLF line ends made LF, as both diffstat paths read it."""
    return text.replace("\r\n", "\n") if "\r" in text else text


MAX_FILES = 1000
"""Files a Diffstat lists (the corpora's largest diff has 284): a file costs 20–50 µs
to read, and a megabyte of tiny file diffs is 17,000 of them."""
MAX_HUNKS = 10_000
"""Hunks a Diffstat counts (the corpora's most in one diff: 657): a hunk costs ~2 µs,
and a megabyte of one-line hunks is 58,000 of them."""
_FILE_START = re.compile(r"^(?:diff |--- [^\n]*\n\+\+\+ )", re.MULTILINE)


def _cut(text: str) -> int | None:
    """Where ``text`` is cut for a Diffstat, or None: at the file after the first
    :data:`MAX_FILES`, or at the file holding the hunk after the first
    :data:`MAX_HUNKS` (at that hunk, when it is in the first file). (Counting the lines
    that could start a file or hunk first costs ~1 µs for a 10 KB diff; the search for
    them, 5–10 times that: most diffs are not searched.)"""
    cut = None
    if text.count("\ndiff ") + text.count("\n--- ") >= MAX_FILES:
        for n, found in enumerate(_FILE_START.finditer(text)):
            if n == MAX_FILES:
                cut = found.start()
                break
    if text.count("\n@@ ", 0, cut) > MAX_HUNKS:
        hunk = _nth_offset(text, "\n@@ ", MAX_HUNKS + 1) + 1
        cut = _file_start_before(text, hunk) or hunk
    return cut


def _nth_offset(text: str, sub: str, n: int, start: int = 0) -> int:
    """Offset of the ``n``-th (from 1) ``sub`` in ``text`` from ``start``, or -1."""
    at = start - 1
    for _ in range(n):
        at = text.find(sub, at + 1)
        if at < 0:
            break
    return at


def _file_start_before(text: str, end: int) -> int:
    """Offset of the last line before ``end`` that starts a file (``diff `` or
    ``---`` over ``+++``) other than the first line, or 0."""
    at = text.rfind("\ndiff ", 0, end)
    dashes = text.rfind("\n--- ", 0, end)
    for _ in range(64):  # a run of "--- " lines that start no file is read no further
        if dashes <= at:
            break
        below = text.find("\n", dashes + 1)
        if below >= 0 and text.startswith("+++ ", below + 1):
            return dashes + 1
        dashes = text.rfind("\n--- ", 0, dashes)
    return at + 1


def _stat_of(text: str) -> Diffstat:
    """The Diffstat of a diff text that starts at :func:`diff_start` (LF ends)."""
    cut = _cut(text)
    if cut is not None:
        text = text[:cut]
    fast = _plain_git_diffstat(text)
    return fast if fast is not None else _unidiff_diffstat(text)


def _unidiff_diffstat(text: str) -> Diffstat:
    """:func:`diffstat`'s general path: unidiff's files, named as git apply names them."""
    changes: list[FileChange] = []
    strip = 1  # git apply's -p: 1, unless a traditional diff shows names without a slash
    for patched in _read_files(io.StringIO(text).readlines()):
        change: FileChange | None
        if _is_git(patched):
            change = _git_change(patched, list(patched.patch_info or ()), strip)
        elif patched.is_binary_file:
            continue  # a lone "Binary files … differ" line outside a git diff: git apply skips it
        else:
            change, strip = _traditional_change(patched, strip)
        if change is not None:
            changes.append(change)
    if not changes:
        return _EMPTY
    return Diffstat(
        files=tuple(changes),
        insertions=sum(c.added for c in changes),
        deletions=sum(c.removed for c in changes),
    )


# The fast path: most mail diffs are plain ``git format-patch`` output, read here with
# string counts instead of unidiff's line-by-line parse (2.5 times faster). Anything
# else — renames, copies, binary files, quoted names, hunk counts that do not add up,
# a blank context line, a second diff in the junk — returns None and unidiff reads it.
# ``tests/test_corpus_diff.py`` checks both give the same Diffstat on every corpus diff.
_PLAIN_HEADER_LINES = ("index ", "new file mode ", "deleted file mode ", "old mode ", "new mode ")
_PLAIN_HUNK = re.compile(r"@@ -[0-9]{1,9}(?:,([0-9]{1,9}))? \+[0-9]{1,9}(?:,([0-9]{1,9}))? @@")
_JUNK_THAT_MAY_READ_AS_DIFF = ("\n--- ", "\n+++ ", "\n@@ ", "\ndiff ", "\nIndex: ", "\nBinary files ")


def _plain_git_diffstat(text: str) -> Diffstat | None:
    """The Diffstat of a plain ``diff --git`` text, or None to leave it to unidiff."""
    plain = _plain_git(text, hashed=None)
    return plain[0] if plain is not None else None


def _plain_git(text: str, hashed: list[int] | None) -> tuple[Diffstat, str | None] | None:
    """Diffstat and, with ``hashed`` (a list to collect file sums in), the patch-id of
    a plain ``diff --git`` text; None to leave it to the general readers."""
    if not text.startswith("diff --git "):
        return None
    files = text.split("\ndiff --git ")
    changes: list[FileChange] = []
    for n, chunk in enumerate(files):
        change = _plain_file(chunk if n == 0 else "diff --git " + chunk, n == len(files) - 1, hashed)
        if change is None:
            return None
        changes.append(change)
    stat = Diffstat(
        files=tuple(changes),
        insertions=sum(c.added for c in changes),
        deletions=sum(c.removed for c in changes),
    )
    if hashed is None or _UNHASHED in hashed:
        return stat, None
    return stat, (sum(hashed) % _SUM).to_bytes(20, "little").hex()


_UNHASHED = -1
"""Put in ``hashed`` for a file the fast path can count but not hash as git does."""


def _plain_file(chunk: str, last: bool, hashed: list[int] | None) -> FileChange | None:
    """One file of a plain git diff, or None when it is not plain. With ``hashed``,
    appends the file's ``git patch-id --stable`` sum: the SHA-1 of its lines less
    ``index``, hunk-header and ``\\ No newline`` lines, whitespace removed."""
    header, sep, body = chunk.partition("\n--- ")
    if not sep or '"' in header or "\t" in header:
        return None
    status = "modified"
    header_lines = header.split("\n")
    for line in header_lines[1:]:
        if not line.startswith(_PLAIN_HEADER_LINES):
            return None
        if line.startswith("new file mode "):
            status = "added"
        elif line.startswith("deleted file mode "):
            status = "deleted"
    old, _, body = body.partition("\n")
    new, _, body = body.partition("\n")
    if not new.startswith("+++ ") or not body.startswith("@@ "):
        return None
    pieces = [line for line in header_lines if not line.startswith("index ")] + ["--- " + old, new]
    new = new[4:]
    name = new if new != _DEV_NULL else old
    if not name.startswith(("a/", "b/")) or "//" in name or "\t" in name or '"' in name or name.endswith(" "):
        return None
    if (status == "added") != (old == _DEV_NULL) or (status == "deleted") != (new == _DEV_NULL):
        return None
    hunks = body.split("\n@@ ")
    added = removed = 0
    for k, hunk in enumerate(hunks):
        head, _, lines = hunk.partition("\n")
        found = _PLAIN_HUNK.match(head if k == 0 else "@@ " + head)
        if not found:
            return None
        before = int(found[1]) if found[1] is not None else 1
        after = int(found[2]) if found[2] is not None else 1
        if last and k == len(hunks) - 1:
            # the diff ends at the signature in most mails: try there before counting lines
            signature = lines.find("\n-- \n")
            counts = _hunk_lines(lines[:signature], before, after) if signature >= 0 else None
            if counts is None:
                cut, junk = _cut_hunk(lines, before, after)
                if cut is None or any(mark in junk for mark in _JUNK_THAT_MAY_READ_AS_DIFF):
                    return None
                lines = cut
                counts = _hunk_lines(cut, before, after)
            elif any(mark in lines[signature:] for mark in _JUNK_THAT_MAY_READ_AS_DIFF):
                return None
            else:
                lines = lines[:signature]
        else:
            counts = _hunk_lines(lines, before, after)
        if counts is None:
            return None
        added, removed = added + counts[0], removed + counts[1]
        if hashed is not None:
            if "\n\\" in "\n" + lines:  # git hashes no "\ No newline at end of file" line
                split = lines.split("\n")
                if not all(_is_no_newline_note(x) for x in split if x[:1] == "\\"):
                    hashed.append(_UNHASHED)  # a short "\" line git would hash: leave it to patch_id
                lines = "\n".join(x for x in split if x[:1] != "\\")
            pieces.append(lines)
    if hashed is not None:
        if "\0" in chunk:
            hashed.append(_UNHASHED)  # git reads each line only up to a NUL: leave it to patch_id
        digest = hashlib.sha1(_encode("".join(pieces)).translate(None, _WHITESPACE)).digest()
        hashed.append(int.from_bytes(digest, "little"))
    return FileChange(path=name[2:], old_path=None, added=added, removed=removed, binary=False, status=status)


def _is_no_newline_note(line: str) -> bool:
    """A ``\\ No newline at end of file`` line (in any language), as git patch-id
    skips it: ``\\ `` and, with its line break, more than 12 bytes."""
    return line[:2] == "\\ " and len(_encode(line)) >= 12


def diffstat_and_patch_id(diff: str) -> tuple[Diffstat, str | None]:
    """``(diffstat(diff), patch_id(diff))``, read in one pass when the diff is plain
    ``git format-patch`` output (the usual case: see the fast path above)."""
    start = diff_start(diff)
    if start is None:
        return _EMPTY, patch_id(diff)
    text = _lf(diff[start:])
    if _cut(text) is not None:
        return _stat_of(text), patch_id(diff)  # the first MAX_FILES files; the id of all
    if text.startswith("diff --git "):
        first = 0 if diff.startswith("diff ") else diff.find("\ndiff ") + 1
        if first == start:  # patch_id starts at the first "diff " line: the same one
            plain = _plain_git(text, [])
            if plain is None:  # not plain: the general readers, without a second try here
                return _unidiff_diffstat(text), patch_id(diff)
            return plain[0], plain[1] if plain[1] is not None else patch_id(diff)
    return _stat_of(text), patch_id(diff)


MAX_UNIDIFF_LINES = 20_000
"""Lines of a diff given to unidiff (the corpora's most: 3,853): it reads a hunk line in
~0.5 µs and any other in ~3.5 µs (every one of its patterns is tried), so of those
lines at most :data:`MAX_UNIDIFF_OTHER` may be other than hunk lines."""
MAX_UNIDIFF_OTHER = 4_000
MAX_PATCH_ID_LINES = 15_000
"""Steps the patch-id may take (~1 µs each): a line read one by one (those outside
hunk bodies, the first few of each hunk, and the few inside that the hunk counts
cannot take) or a block of hunk lines counted (4 steps). The corpora's most: 8,238,
for a diff of 657 hunks; 30,000 let a spliced 0.8 MB diff of renames cost 165 ms. Past it the patch-id is not given (``patch-id-skipped``): a
patch-id of part of a diff would link revisions and upstream commits that differ."""
_OTHER_LINE = re.compile(r"\n(?![-+ ])")


def read_diff(diff: str) -> tuple[Diffstat, str | None, tuple[str, ...]]:
    """:func:`diffstat_and_patch_id` with bounded work, for one mail: the Diffstat of
    at most :data:`MAX_FILES` files and :data:`MAX_HUNKS` hunks, of which unidiff reads
    at most :data:`MAX_UNIDIFF_LINES` lines (``diffstat-truncated`` when the diff was
    cut), and the patch-id when it takes at most :data:`MAX_PATCH_ID_LINES` lines read
    one by one (else None, ``patch-id-skipped``). Returns the two and those problems."""
    problems: list[str] = []
    start = diff_start(diff)
    if start is None:
        return _EMPTY, _bounded_patch_id(diff, problems), tuple(problems)
    text = _lf(diff[start:])
    cut = _cut(text)
    if cut is None and text.startswith("diff --git "):
        first = 0 if diff.startswith("diff ") else diff.find("\ndiff ") + 1
        if first == start:  # patch_id starts at the first "diff " line: the same one
            plain = _plain_git(text, [])
            if plain is None:  # not plain: the general readers, without a second try here
                stat = _bounded_unidiff(text, problems)
                return stat, _bounded_patch_id(diff, problems), tuple(problems)
            pid = plain[1] if plain[1] is not None else _bounded_patch_id(diff, problems)
            return plain[0], pid, tuple(problems)
    if cut is not None:
        problems.append(Problem.DIFFSTAT_TRUNCATED.value)
        text = text[:cut]
    fast = _plain_git_diffstat(text)
    stat = fast if fast is not None else _bounded_unidiff(text, problems)
    return stat, _bounded_patch_id(diff, problems), tuple(dict.fromkeys(problems))


def _bounded_patch_id(diff: str, problems: list[str]) -> str | None:
    try:
        return _patch_id(diff, _Steps(MAX_PATCH_ID_LINES))
    except _OverBudget:
        problems.append(Problem.PATCH_ID_SKIPPED.value)
        return None


def _bounded_unidiff(text: str, problems: list[str]) -> Diffstat:
    """:func:`_unidiff_diffstat` of at most :data:`MAX_UNIDIFF_LINES` lines of ``text``,
    :data:`MAX_UNIDIFF_OTHER` of them other than hunk lines, cut at the start of a
    file when one starts before that (``diffstat-truncated`` when cut)."""
    end = _nth_offset(text, "\n", MAX_UNIDIFF_LINES)
    if end < 0:
        end = len(text)
    probe = "\n" + text
    other = text.count("\n", 0, end) + 1 - sum(probe.count(kind, 0, end + 1) for kind in ("\n+", "\n-", "\n "))
    if other > MAX_UNIDIFF_OTHER:
        for n, found in enumerate(_OTHER_LINE.finditer(probe, 0, end + 1)):
            if n == MAX_UNIDIFF_OTHER:
                end = found.start() - 1
                break
    if end + 1 >= len(text):
        return _unidiff_diffstat(text)
    problems.append(Problem.DIFFSTAT_TRUNCATED.value)
    return _unidiff_diffstat(text[: _file_start_before(text, end) or end + 1])


def _hunk_lines(lines: str, before: int, after: int) -> tuple[int, int] | None:
    """Added and removed lines of a hunk's lines, when they are ``before`` old and
    ``after`` new lines as its header says; None when they are not, or a line is of no
    known kind (a blank context line a mailer stripped, mail junk). The lines are
    counted first: a hunk that runs into a megabyte of junk is ruled out by one count,
    not five (3 ms of a 570 KB mail's 9)."""
    block = "\n" + lines
    total = block.count("\n")
    if total < max(before, after):
        return None
    if total > before + after:
        notes = block.count("\n\\")
        if total - notes > before + after:
            return None
    plus, minus, context = block.count("\n+"), block.count("\n-"), block.count("\n ")
    if plus + minus + context != total and plus + minus + context + block.count("\n\\") != total:
        return None
    if minus + context != before or plus + context != after:
        return None
    return plus, minus


def _cut_hunk(lines: str, before: int, after: int) -> tuple[str | None, str]:
    """The last hunk's lines, where its counts say it ends, and the junk after it;
    None when a line that is no hunk line, or the end, comes first.

    The hunk ends at the line where both counts are spent: the later of the
    ``before``-th old line (``-`` or `` ``) and the ``after``-th new line (``+`` or
    `` ``), found by counting (:func:`_nth`), not line by line: a hunk header may
    claim a billion lines over a megabyte of short ones."""
    at = 0
    if before + after <= _SHORT_HUNK:  # most hunks: read line by line, as counting costs more
        while before > 0 or after > 0:
            end = lines.find("\n", at)
            if end < 0:
                return None, ""
            first = lines[at : at + 1]
            if first == "+":
                after -= 1
            elif first == "-":
                before -= 1
            elif first == " ":
                before -= 1
                after -= 1
            elif first != "\\":
                return None, ""
            at = end + 1
        if before or after:
            return None, ""
    else:
        probe = "\n" + lines  # every line after a line break: "\n-" starts an old line
        bad = _NOT_HUNK_LINE.search(probe)
        limit = len(probe) if bad is None else bad.start()  # the lines up to the first that is none
        last = 0
        for count, kinds in ((before, _OLD), (after, _NEW)):
            if count > 0:
                found = _nth(probe, kinds, count, 0, limit)
                if found < 0:
                    return None, ""
                last = max(last, found)
        end = probe.find("\n", last + 1, limit + 1)
        if end < 0:
            return None, ""  # the last line of the hunk has no line break
        if _tally(probe, _OLD, 0, end) != before or _tally(probe, _NEW, 0, end) != after:
            return None, ""  # one count ran past while the other was being spent
        at = end
    if lines.startswith("\\", at):  # "\ No newline at end of file" after the last line
        end = lines.find("\n", at)
        at = len(lines) if end < 0 else end + 1
    return lines[: max(at - 1, 0)], "\n" + lines[at:]


_SHORT_HUNK = 2000
"""Old and new lines a hunk header may claim and still be read line by line (~0.3 µs
a line)."""
_NOT_HUNK_LINE = re.compile(r"\n(?![-+ \\])")
_OLD = ("\n-", "\n ")
_NEW = ("\n+", "\n ")


def _tally(text: AnyStr, kinds: tuple[AnyStr, ...], lo: int, hi: int) -> int:
    return sum(text.count(kind, lo, hi) for kind in kinds)


def _nth(text: AnyStr, kinds: tuple[AnyStr, ...], n: int, lo: int, hi: int) -> int:
    """Offset of the ``n``-th (from 1) occurrence in text[lo:hi] of any of ``kinds`` —
    each a line break and the first character of a line — or -1 when there are fewer.
    ``lo`` is a line break's offset and ``hi`` one's or the end. The range is halved at
    line breaks (so no occurrence straddles a half) and the halves counted with
    ``count``: each character is read about twice, and there is no Python step per
    line."""
    newline = kinds[0][:1]
    while hi - lo > 256:
        mid = text.find(newline, (lo + hi) // 2, hi)
        if mid < 0:
            mid = text.rfind(newline, lo + 1, (lo + hi) // 2)
            if mid < 0:
                break  # one long line: at most one occurrence, at lo
        seen = _tally(text, kinds, lo, mid)
        if seen >= n:
            hi = mid
        else:
            n -= seen
            lo = mid
    found = sorted(at for kind in kinds for at in _offsets(text, kind, lo, hi))
    return found[n - 1] if len(found) >= n else -1


def _offsets(text: AnyStr, sub: AnyStr, lo: int, hi: int) -> list[int]:
    found = []
    at = text.find(sub, lo, hi)
    while at >= 0:
        found.append(at)
        at = text.find(sub, at + 1, hi)
    return found


def _git_change(patched: PatchedFile, info: list[str], strip: int) -> FileChange:
    """A ``diff --git`` file: status and names from its header lines, as git apply reads
    them (the header ends at the first line that is not a header line)."""
    status = "modified"
    old = new = None
    for line in info[1:]:
        if not line.startswith(_GIT_HEADER_LINES):
            break
        if line.startswith("new file mode "):
            status = "added"
        elif line.startswith("deleted file mode "):
            status = "deleted"
        elif line.startswith(("rename from ", "rename old ", "copy from ")):
            status = "copied" if line[0] == "c" else "renamed"
            old = _header_name(line.split(" ", 2)[2])
        elif line.startswith(("rename to ", "rename new ", "copy to ")):
            status = "copied" if line[0] == "c" else "renamed"
            new = _header_name(line.split(" ", 2)[2])
    if status in ("renamed", "copied") and old and new:
        path, old_path = new, old
    else:
        # names from the ---/+++ lines when there are hunks, else from the diff --git line
        status = "modified" if status in ("renamed", "copied") else status
        name = _unquote(patched.target_file if patched.target_file != _DEV_NULL else patched.source_file)
        path, old_path = _strip(name, strip, squash=bool(patched)) or name, None
    binary = bool(patched.is_binary_file)
    return FileChange(
        path=path,
        old_path=old_path,
        added=0 if binary else patched.added,
        removed=0 if binary else patched.removed,
        binary=binary,
        status=status,
    )


def _traditional_change(patched: PatchedFile, strip: int) -> tuple[FileChange | None, int]:
    """A ``--- a/x`` / ``+++ b/x`` file (``diff -u``, quilt, CVS ``Index:`` diffs), named
    as git apply names it. Returns the -p value for this and later files: git apply
    guesses 0, for good, from the first such file whose new name has no slash."""
    first, second = _traditional_name(patched.source_file), _traditional_name(patched.target_file)
    if strip == 1 and second and not _is_dev_null(second) and "/" not in second:
        strip = 0
    if _is_dev_null(first):
        name = _strip(second, strip)
    elif _is_dev_null(second):
        name = _strip(first, strip)
    else:
        old, raw = _strip(first, strip), _strip(second, strip, squash=False)
        name = _strip(second, strip) or old
        if old and raw and len(old) < len(raw) and raw.startswith(old):
            name = old  # git prefers "x" to a "x.orig" or "x~" beside it
    if _is_dev_null(first) or _is_epoch(patched.source_timestamp) or patched.is_added_file:
        status = "added"
    elif _is_dev_null(second) or _is_epoch(patched.target_timestamp) or patched.is_removed_file:
        status = "deleted"
    else:
        status = "modified"
    if not name:
        return None, strip
    change = FileChange(
        path=name, old_path=None, added=patched.added, removed=patched.removed, binary=False, status=status
    )
    return change, strip


def _traditional_name(name: str | None) -> str:
    """A ``---``/``+++`` name without the timestamp ``diff -u`` puts after it (after a
    tab, which unidiff has cut off already, or after spaces)."""
    if not name:
        return ""
    if name[0] == '"':
        return _unquote(name)
    return _TIMESTAMP.sub("", name)


def _header_name(text: str) -> str:
    """A name from a ``rename from``/``copy to`` line: the rest of the line, unquoted,
    ``//`` squashed."""
    return _strip(_unquote(text.rstrip("\n")), 0) or ""


def _strip(name: str, strip: int, squash: bool = True) -> str | None:
    """Drop ``strip`` leading directories (git apply's -p) and squash ``//`` as git does
    for names from ``---``/``+++``/rename lines; ``None`` when the name has fewer
    directories than that."""
    cut = -1
    for _ in range(strip):
        cut = name.find("/", cut + 1)
        if cut < 0:
            return None
    name = name[cut + 1 :]
    while squash and "//" in name:
        name = name.replace("//", "/")
    return name or None


def _is_dev_null(name: str) -> bool:
    return name == _DEV_NULL or name.startswith(_DEV_NULL + " ")


def _is_epoch(timestamp: str | None) -> bool:
    """Whether a traditional header's timestamp is the epoch, which GNU diff writes for
    a created or deleted file (git apply's ``has_epoch_timestamp``)."""
    if not timestamp:
        return False
    found = _EPOCH.fullmatch(timestamp.rsplit("\t", 1)[-1].rstrip("\n"))
    if not found:
        return False
    day, hour, minute, sign, zone_h, zone_m = found.groups()
    zone = (int(zone_h) * 60 + int(zone_m)) * (-1 if sign == "-" else 1)
    return int(hour) * 60 + int(minute) - zone == (24 * 60 if day == "1969-12-31" else 0)


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of a path (``"a/t\\303\\251st"`` → ``a/tést``); any
    other text is returned as it is. Bytes that are not UTF-8 read as U+FFFD: a
    path is text in every output, and a lone surrogate could not be written."""
    if len(name) < 2 or name[0] != '"' or name[-1] != '"':
        return name
    raw = _QUOTED.sub(_unescape, _encode(name[1:-1]))
    return raw.decode("utf-8", "replace")


def _unescape(found: re.Match[bytes]) -> bytes:
    """The byte a ``\\ooo`` or ``\\n``-style escape stands for."""
    code = found.group(1)
    return bytes([int(code, 8)]) if len(code) == 3 else _ESCAPES[code]


# --- patch-id ---------------------------------------------------------------------------

_HEX_FIRST = frozenset(b"0123456789abcdefABCDEF")
_NEXT_COMMIT = re.compile(rb"(?:commit |From )?[0-9a-fA-F]{40}")
_HUNK = re.compile(rb"@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))?(?![\d,])")
_DIGITS = re.compile(rb"[0-9]*")
_ATOI = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_WHITESPACE = b" \t\n\r"  # git's isspace(): not \v or \f
_SUM = 1 << 160


def patch_id(diff: str) -> str | None:
    """``git patch-id --stable`` of a diff, computed in-process; ``None`` when git would
    print nothing (no ``diff `` line).

    git's rules, from ``builtin/patch-id.c``: lines before the first ``diff `` line are
    skipped; every line from there is hashed with its whitespace removed, except
    ``index`` lines, hunk headers and ``\\ No newline`` lines; each file is hashed
    separately and the SHA-1s are added (the ``--stable`` sum), so file order does not
    matter; a binary file hashes its ``index`` line's two blob ids. The patch ends at a
    line that is neither a hunk line (as the hunk header counts them) nor a new ``diff
    `` header — e.g. the ``-- `` signature — or at a ``commit``/``From`` line with an
    object id. Of several patches in the text, this is the first git would print.
    """
    return _patch_id(diff, _Steps(None))


class _OverBudget(Exception):
    """A reader was given more lines to read one by one than its budget."""


class _Steps:
    """Lines a reader may still take one by one (None: any number)."""

    __slots__ = ("left",)

    def __init__(self, left: int | None) -> None:
        self.left = left

    def take(self, lines: int = 1) -> None:
        if self.left is not None:
            self.left -= lines
            if self.left < 0:
                raise _OverBudget


def _patch_id(diff: str, steps: _Steps) -> str | None:
    """:func:`patch_id`, taking a step of ``steps`` for each line read one by one:
    every line outside hunk bodies, and the few inside that the hunk counts cannot
    take. Raises :class:`_OverBudget` when they run out."""
    data = _encode(diff)
    # git hashes nothing before the first "diff " line, and every id it prints starts there
    start = 0 if data.startswith(b"diff ") else data.find(b"\ndiff ") + 1
    if start == 0 and not data.startswith(b"diff "):
        return None
    data = data[start:]
    cut: set[int] = set()
    if b"\0" in data:
        data, cut = _without_nul_tails(data)
    before = after = -1
    binary = False
    pre = post = b""
    parts: list[bytes] = []
    total = 0
    pos, n = 0, len(data)
    while pos < n:
        steps.take()
        end = data.find(b"\n", pos) + 1 or n
        line = data[pos : end - 1] if cut and pos in cut else data[pos:end]
        pos = end
        first = line[0] if line else 0
        if first == 0x5C:  # "\ No newline at end of file", in any language
            if line[1:2] == b" " and len(line) > 12:
                continue
        elif first in _HEX_FIRST and _NEXT_COMMIT.match(line):
            break
        if before == -1:
            if line.startswith((b"GIT binary patch", b"Binary files")):
                binary, before = True, 0
                parts += (pre, post)
                total += _flush(parts)
                continue
            if line.startswith(b"index "):
                dots = line.find(b"..")
                if dots >= 0:
                    end = line.find(b" ", dots)
                    if end < 0:
                        end = len(line) - 1
                    pre, post = line[6:dots][:64], line[dots + 2 : end][:64]
                continue
            if line.startswith(b"--- "):
                before = after = 1
            elif not line[:1].isalpha():
                break
        if binary:
            if line.startswith(b"diff "):
                binary, before = False, -1
            continue
        if before == 0 and after == 0:
            if line.startswith(b"@@ -"):
                before, after = _hunk_counts(line, before, after)
                before, after, pos, ended = _hunk_body(data, pos, before, after, parts, steps, cut)
                if ended:
                    break
                continue
            if not line.startswith(b"diff "):
                break
            total += _flush(parts)
            before = after = -1
        if first == 0x2D:  # -
            before -= 1
        elif first == 0x2B:  # +
            after -= 1
        elif first == 0x20:
            before -= 1
            after -= 1
        parts.append(line.translate(None, _WHITESPACE))
    total += _flush(parts)
    return (total % _SUM).to_bytes(20, "little").hex()


def _without_nul_tails(data: bytes) -> tuple[bytes, set[int]]:
    """``data`` with every line cut at its first NUL (git reads each line as a C
    string) but its line break kept, and the offsets of the lines so cut: those are
    read without their line break, as git reads them."""
    kept: list[bytes] = []
    cut: set[int] = set()
    at = 0
    for line in io.BytesIO(data).readlines():
        if b"\0" in line:
            cut.add(at)
            line = line.split(b"\0", 1)[0] + b"\n"
        kept.append(line)
        at += len(line)
    return b"".join(kept), cut


_FIRST_ALONE = 8
"""Lines of each hunk read one by one before blocks are counted: most hunks are
short, and counting a block costs more than reading a few lines."""
_WINDOW = 1 << 8
"""Bytes of hunk lines counted at a time at first; doubled while every line counts."""
_BLOCK_STEPS = 4
"""Steps a counted block takes: it costs about what reading four lines does."""
_OLD_LINE = (b"\n-", b"\n ")
_NEW_LINE = (b"\n+", b"\n ")
_NOT_COUNTED = re.compile(rb"\n[^-+ ]")  # a "\" line (some are not hashed) or another: commit lines end the patch


def _hunk_body(
    data: bytes, pos: int, before: int, after: int, parts: list[bytes], steps: _Steps, cut: set[int]
) -> tuple[int, int, int, bool]:
    """Hash the hunk lines from ``data[pos]`` on while the counts last (the loop stops
    when ``before`` reaches -1, or both reach 0), by the main loop's rules for lines
    inside a hunk. Returns the counts, where the next line starts, and whether a
    commit line ended the patch.

    After the first few, ``+``, ``-`` and `` `` lines are taken a block at a time and
    counted with ``bytes.count``, up to the line where the counts could stop the loop
    (the ``before``-th old line, or with no old line left the ``after``-th new line:
    found by :func:`_nth`); a hunk header may claim a billion lines, and a Python step
    per line was 0.3 µs. Other lines, and old lines once none is left, are read one
    by one. Each line read alone takes a step, each block :data:`_BLOCK_STEPS`."""
    n, block, ended = len(data), pos, False
    first_alone, window = _FIRST_ALONE, _WINDOW
    while pos < n and before != -1 and (before or after):
        first = data[pos]
        if first_alone <= 0 and (first == 0x2B or (before != 0 and first in (0x2D, 0x20))):
            lo = pos - 1  # the line break before the line: the counted kinds start with one
            if pos + window >= n:
                hi = n
            else:  # the block ends after a whole line
                hi = data.rfind(b"\n", pos, pos + window) + 1 or data.find(b"\n", pos + window) + 1 or n
            stop = hi - 1 if data[hi - 1] == 0x0A else hi  # the line break before the first line left out
            plus, minus, both = data.count(b"\n+", lo, stop), data.count(b"\n-", lo, stop), data.count(b"\n ", lo, stop)
            if plus + minus + both != data.count(b"\n", lo, stop):
                stop = _NOT_COUNTED.search(data, lo, hi).start()  # type: ignore[union-attr]
            if before == 0:
                stop = min(at for at in (data.find(b"\n-", lo, stop), data.find(b"\n ", lo, stop), stop) if at >= 0)
            last = -1  # the line that spends a count, when it is in the block
            if before > 0:
                last = _nth(data, _OLD_LINE, before, lo, stop)
            elif before == 0 and after > 0:
                last = _nth(data, _NEW_LINE, after, lo, stop)
            if last >= 0:
                stop = data.find(b"\n", last + 1, stop + 1)
                if stop < 0:
                    stop = n
            plus, minus, both = data.count(b"\n+", lo, stop), data.count(b"\n-", lo, stop), data.count(b"\n ", lo, stop)
            before -= minus + both
            after -= plus + both
            window = window * 2 if stop >= hi - 1 else max(_WINDOW, 2 * (stop - lo))
            pos = min(stop + 1, n)
            steps.take(_BLOCK_STEPS)
            continue
        first_alone -= 1
        steps.take()
        end = data.find(b"\n", pos) + 1 or n
        if first == 0x2D:
            before -= 1
        elif first == 0x2B:
            after -= 1
        elif first == 0x20:
            before -= 1
            after -= 1
        elif first == 0x5C:
            line = data[pos : end - 1] if cut and pos in cut else data[pos:end]
            if line[1:2] == b" " and len(line) > 12:  # not hashed
                parts.append(data[block:pos].translate(None, _WHITESPACE))
                block = end
        elif first in _HEX_FIRST and _NEXT_COMMIT.match(data, pos):
            ended = True
            break
        pos = end
    parts.append(data[block:pos].translate(None, _WHITESPACE))
    return before, after, pos, ended


def _flush(parts: list[bytes]) -> int:
    """SHA-1 of the bytes hashed since the last flush, as a number to add up (git's
    ``flush_one_hunk``: a 20-byte little-endian sum with carry)."""
    digest = hashlib.sha1(b"".join(parts)).digest()
    parts.clear()
    return int.from_bytes(digest, "little")


def _hunk_counts(line: bytes, before: int, after: int) -> tuple[int, int]:
    """Old and new line counts of a hunk header, read as git's ``scan_hunk_header``
    reads them (a missing count is 1; a malformed header leaves what it had set)."""
    found = _HUNK.match(line)
    if found:
        old, new = found.group(2), found.group(4)
        return (int(old) if old is not None else 1, int(new) if new is not None else 1)
    q = 4
    n = len(_DIGITS.match(line, q).group())  # type: ignore[union-attr]
    if line[q + n : q + n + 1] == b",":
        q += n + 1
        before = _atoi(line, q)
        n = len(_DIGITS.match(line, q).group())  # type: ignore[union-attr]
    else:
        before = 1
    if n == 0 or line[q + n : q + n + 2] != b" +":
        return before, after
    r = q + n + 2
    n = len(_DIGITS.match(line, r).group())  # type: ignore[union-attr]
    if line[r + n : r + n + 1] == b",":
        after = _atoi(line, r + n + 1)
    else:
        after = 1
    return before, after


def _atoi(line: bytes, pos: int) -> int:
    """C's ``atoi`` (glibc: ``(int) strtol``) at ``pos``: leading blanks, a sign,
    digits; clamped to a C long, then cut to a 32-bit int."""
    found = _ATOI.match(line, pos)
    if not found:
        return 0
    value = max(min(int(found.group(1)), (1 << 63) - 1), -(1 << 63))
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _encode(text: str) -> bytes:
    """The bytes git would read: UTF-8, with undecodable bytes (surrogate escapes) back
    as they were."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
