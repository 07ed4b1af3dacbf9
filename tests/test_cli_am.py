"""``patchtrack am`` as b4 users expect: a lore URL, a Message-ID or a short series
id; b4's file name; each added trailer listed per patch; a bad ``-o`` is one line.
And the library API it stands on: ``Inbox.find`` and ``Inbox.newest``."""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

import patchtrack
from conftest import MAILS, _series_of
from patchtrack._find import find_series, wanted_msgid
from patchtrack.b4compat import to_b4
from patchtrack.cli import main
from patchtrack.errors import InboxError
from patchtrack.mbox import am_name

V1_PATCH = "20260302-gizmo-clocks-v1-1-4c1e2d5f7a9b@linux.acme-semi.com"
V1_COVER = "20260302-gizmo-clocks-v1-0-4c1e2d5f7a9b@linux.acme-semi.com"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("am") / "gizmo")


@pytest.mark.parametrize(
    "given",
    [
        V1_PATCH,
        f"<{V1_PATCH}>",
        f"  <{V1_PATCH}>\n",
        f"https://lore.kernel.org/linux-gizmo/{V1_PATCH}/",
        f"https://lore.kernel.org/linux-gizmo/{V1_PATCH}/T/#u",
        f"https://lore.kernel.org/all/{V1_PATCH}/raw",
        f"https://lore.kernel.org/r/{V1_PATCH}",
        f"https://lore.kernel.org/linux-gizmo/{V1_PATCH.replace('@', '%40')}/t.mbox.gz",
        f"https://patch.msgid.link/{V1_PATCH}",
    ],
)
def test_what_names_a_mail(given: str) -> None:
    assert wanted_msgid(given) == V1_PATCH


def test_find_by_msgid_url_or_short_id_and_newest(inbox: Path) -> None:
    box = patchtrack.open_inbox(inbox)
    v1 = box.find(f"https://lore.kernel.org/linux-gizmo/{V1_PATCH}/T/")
    assert v1 is not None and v1.version == 1 and v1.msgid == V1_COVER
    assert box.find(f"<{V1_COVER}>") == v1 == box.find(v1.id) == box.find(v1.id[:6])
    assert box.find(v1.id[:5]) is None  # too short to name a series
    assert box.find("nobody@nowhere") is None
    v2 = box.newest(v1)
    assert v2.version == 2 and v2.title == v1.title and box.newest(v2) == v2
    assert box.newest(v1, same_author=True) == v2


def test_find_refuses_an_ambiguous_short_id(inbox: Path) -> None:
    first, second = patchtrack.open_inbox(inbox).series()[:2]
    twins = [attrs.evolve(first, id="abcdef01" + first.id[8:]), attrs.evolve(second, id="abcdef02" + second.id[8:])]
    with pytest.raises(InboxError, match="abcdef: several series ids begin with it"):
        find_series(twins, "abcdef")
    assert find_series(twins, "abcdef02") is twins[1]


def test_am_names_its_output_as_b4_does(capsys, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "am", str(inbox), f"https://lore.kernel.org/linux-gizmo/{V1_PATCH}/")
    assert code == 0 and out == ""
    name = "v2_20260309_jane_whitaker_gizmo_add_bus_clock_support.mbx"
    assert os.listdir(tmp_path) == [name]
    assert err.splitlines()[-1] == f"       git am ./{name}"
    # --this: v1, named without a version, as b4 names a first revision
    code, _, err = run(capsys, "am", str(inbox), V1_PATCH, "--this", "-o", str(tmp_path))
    assert code == 0 and (tmp_path / "20260302_jane_whitaker_gizmo_add_bus_clock_support.mbx").is_file()
    # b4's own naming of every fixture series
    box = patchtrack.open_inbox(inbox)
    checked = 0
    for s in box.series():
        if s.patches and (lser := to_b4(s, box)) is not None:
            assert am_name(s) == lser.get_slug(extended=True) + ".mbx", s.title
            checked += 1
    assert checked >= 6


def test_am_lists_each_added_trailer_per_patch(capsys, inbox: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "am", str(inbox), V1_PATCH, "--this", "-o", str(tmp_path / "v1.mbx"))
    assert code == 0
    lines = err.splitlines()
    start = lines.index("---")
    # as b4 am lists them for this thread (b4 0.14: the same two trailers on these patches)
    assert lines[start : start + 8] == [
        "---",
        "  [PATCH 1/3] gizmo: core: add optional bus clock handling",
        "    + Reviewed-by: Marek Novák <mnovak@kernel.org>",
        "  [PATCH 2/3] gizmo: i2c: program the bus clock rate from firmware",
        "  [PATCH 3/3] Documentation: gizmo: describe the bus clock handling",
        "    + Acked-by: Sofia Ferreira <sofia.ferreira@opensilicon.org>",
        "---",
        "Total patches: 3",
    ]
    # trailers not given in a reply to the patch itself are marked
    code, _, err = run(capsys, "am", str(inbox), V1_PATCH, "-o", str(tmp_path / "v2.mbx"))
    assert code == 0
    assert "    + Acked-by: Ingrid Halvorsen <ihalvorsen@kernel.org> (given on the cover letter)" in err.splitlines()
    written = (tmp_path / "v2.mbx").read_text()
    assert written.count("Acked-by: Ingrid Halvorsen <ihalvorsen@kernel.org>\n") == 3  # marks are not written


@pytest.mark.parametrize(
    "output, message",
    [
        ("{tmp}/missing/dir/x.mbx", "missing/dir is not a directory"),
        ("{tmp}/a-file/x.mbx", "a-file is not a directory"),
        ("{tmp}/locked/x.mbx", "permission denied"),
    ],
)
def test_a_bad_output_path_is_one_line_and_exit_2(capsys, inbox: Path, tmp_path: Path, output: str, message: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "locked").mkdir(mode=0o555)
    if os.geteuid() == 0 and "locked" in output:
        pytest.skip("root writes anywhere")
    code, out, err = run(capsys, "am", str(inbox), V1_PATCH, "-o", output.format(tmp=tmp_path))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("patchtrack: error: ") and message in err, err
    assert not list(tmp_path.rglob("*.mbx"))


def test_am_of_an_unknown_id_is_one_line(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "am", str(inbox), "https://lore.kernel.org/linux-gizmo/nobody@nowhere/")
    assert (code, out) == (2, "") and err == (
        "patchtrack: error: https://lore.kernel.org/linux-gizmo/nobody@nowhere/: "
        "no series has this id, Message-ID or lore URL\n"
    )


@pytest.mark.corpus
def test_am_names_as_b4_on_a_corpus(corpus_clones: dict[str, Path]) -> None:
    """b4's own ``get_slug`` on the last 60 series of kvm-ppc with patches (the
    session's assembly of the corpus, shared with the other corpus tests)."""
    name = next(n for n in corpus_clones if n.startswith("kvm-ppc"))
    box = patchtrack.open_inbox(corpus_clones[name])
    found = [s for s in _series_of(name, corpus_clones[name]) if s.patches][-60:]
    checked = 0
    for s in found:
        lser = to_b4(s, box)
        if lser is not None and any(p is not None for p in lser.patches):
            assert am_name(s) == lser.get_slug(extended=True) + ".mbx", s.id
            checked += 1
    assert checked > 40
