"""An am mbox reads back into the series it was written from: every complete series
of the last year of each corpus → ``to_mbox`` → ``read_mbox`` → ``assemble``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import patchtrack
from patchtrack.mbox import read_mbox


def _patches(s: patchtrack.Series) -> tuple:  # type: ignore[type-arg]
    return (s.version, s.total, [p.message.msgid for p in s.patches], [p.message.author for p in s.patches],
            [p.message.sender for p in s.patches], [p.message.date for p in s.patches])


def _shape(s: patchtrack.Series) -> tuple:  # type: ignore[type-arg]
    """The series as the mbox with its cover letter holds it (without the cover, its
    id and title are the first patch's: the cover's are not in the mbox)."""
    return (s.id, s.title, s.author, s.sender, *_patches(s))


@pytest.mark.corpus
def test_every_complete_series_of_the_last_year_reads_back(corpus_series: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    dated = [s for s in corpus_series if s.first_date]
    newest = max(s.first_date for s in dated)
    chosen = [
        s for s in dated
        if s.first_date >= newest - timedelta(days=365) and s.complete and s.patches
        and all(p.message.diff is not None for p in s.patches)
    ]
    assert chosen
    several = 0
    for n, s in enumerate(chosen):
        for cover in (True, False) if s.cover is not None else (False,):
            path = tmp_path / f"{n}-{cover}.mbx"
            s.to_mbox(path, cover=cover)
            back = patchtrack.assemble(read_mbox(path))
            shape = _shape if cover or s.cover is None else _patches
            assert [shape(b) for b in back] == [shape(s)], (s.id, s.title, cover)
        several += len({p.message.author for p in s.patches}) > 1
    # the series that split before the mbox kept each mail's sender: patches by several authors
    print(f"{len(chosen)} series, {several} by several authors")


def test_a_series_posted_for_several_authors_reads_back_whole(tmp_path: Path) -> None:
    """A maintainer posts two patches by two authors: the mbox keeps the poster as
    From: and each author in an in-body From: line, as git format-patch writes them."""
    def mail(n: int, author: str, subject: str) -> bytes:
        body = f"From: {author}\n\nChange {n}.\n\nSigned-off-by: {author}\n---\n" if author else ""
        return (
            f"From: Paolo Maintainer <paolo@kernel.example>\nSubject: {subject}\n"
            f"Date: Mon, 2 Mar 2026 10:0{n}:00 +0000\nMessage-ID: <s-{n}@kernel.example>\n"
            + ("In-Reply-To: <s-0@kernel.example>\n" if n else "")
            + f"\n{body}"
            + (f" f{n}.c | 1 +\n\ndiff --git a/f{n}.c b/f{n}.c\n--- a/f{n}.c\n+++ b/f{n}.c\n@@ -1 +1,2 @@\n x\n+y\n"
               if n else "The cover.\n")
        ).encode()

    mails = [mail(0, "", "[PATCH 0/2] two fixes"), mail(1, "Kai Huang <kai@intel.example>", "[PATCH 1/2] one"),
             mail(2, "Ana Lopez <ana@arm.example>", "[PATCH 2/2] two")]
    [s] = patchtrack.assemble(patchtrack.parse_message(m) for m in mails)
    s.to_mbox(tmp_path / "s.mbx", cover=True)
    text = (tmp_path / "s.mbx").read_text()
    assert text.count("From: Paolo Maintainer <paolo@kernel.example>\n") == 3
    assert "\n\nFrom: Kai Huang <kai@intel.example>\n\nChange 1." in text
    assert [_shape(b) for b in patchtrack.assemble(read_mbox(tmp_path / "s.mbx"))] == [_shape(s)]
