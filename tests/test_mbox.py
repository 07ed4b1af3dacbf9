"""am-ready mboxes end to end: a real repository, ``git format-patch``, review
replies, an inbox; patchtrack finds the series and writes the mbox, and ``git am``
on the base commit rebuilds the same tree with the reviewers' trailers. And mbox /
maildir files read back into the same pipeline."""

from __future__ import annotations

import email.utils
import gzip
import mailbox
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import patchtrack
from conftest import git, git_env
from patchtrack.cli import main
from patchtrack.mbox import GZIP_FLOOR, GZIP_RATIO, MboxError, read_mbox, split_mbox

AUTHOR = ("René Müller", "rene@feinwerk.example")
REVIEWER = ("Rita Reviewer", "rita@acme.example")
MAINTAINER = ("Mo Maintainer", "mo@kernel.example")


def _commit(repo: Path, files: dict[str, str], message: str, when: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=repo, check=True, env=git_env(*AUTHOR, when))
    return git("rev-parse", "HEAD", cwd=repo).strip()


def _reply(to_msgid: str, subject: str, who: tuple[str, str], body: str, when: str, n: int) -> bytes:
    return (
        f"From: {who[0]} <{who[1]}>\n"
        f"To: linux-gizmo@vger.example\n"
        f"Subject: Re: {subject}\n"
        f"Date: {when}\n"
        f"Message-ID: <review-{n}@acme.example>\n"
        f"In-Reply-To: <{to_msgid}>\n"
        f"References: <{to_msgid}>\n\n{body}\n"
    ).encode()


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """A repo with a base and three commits, the series posted with replies, the inbox."""
    tmp = tmp_path_factory.mktemp("am")
    repo = tmp / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", str(repo))
    base = _commit(repo, {"drivers/gizmo/core.c": "int gizmo_probe(void)\n{\n\treturn 0;\n}\n", "README": "gizmo\n"},
                   "gizmo: initial driver\n\nSigned-off-by: René Müller <rene@feinwerk.example>", "2026-03-01T10:00:00+01:00")
    _commit(repo, {"drivers/gizmo/core.c": "int gizmo_probe(void)\n{\n\treturn gizmo_clk_enable();\n}\n"},
            "gizmo: enable the bus clock on probe\n\nThe bus clock must run before the first register access.\n\n"
            "Signed-off-by: René Müller <rene@feinwerk.example>", "2026-03-02T10:00:00+01:00")
    _commit(repo, {"drivers/gizmo/clk.c": "int gizmo_clk_enable(void)\n{\n\treturn 1;\n}\n"},
            "gizmo: add the clock helper\n\nFrom the data sheet, section 4.2.\n\n"
            "Fixes: 0123456789ab (\"gizmo: initial driver\")\nCc: stable@vger.kernel.org # 6.9+\n"
            "Signed-off-by: René Müller <rene@feinwerk.example>", "2026-03-02T11:00:00+01:00")
    head = _commit(repo, {"README": "gizmo: a bus gadget driver\n"},
                   "gizmo: describe the driver\n\nSigned-off-by: René Müller <rene@feinwerk.example>",
                   "2026-03-02T12:00:00+01:00")
    out = tmp / "patches"
    subprocess.run(
        ["git", "format-patch", "-q", "--cover-letter", "--thread=shallow", "-o", str(out),
         "--to=linux-gizmo@vger.example", f"--base={base}", f"{base}..{head}"],
        cwd=repo, check=True, env=git_env(*AUTHOR, "2026-03-03T09:00:00+01:00"),
    )
    posted = sorted(out.glob("*.patch"))
    mails = [p.read_bytes() for p in posted]
    cover = mails[0].replace(b"*** SUBJECT HERE ***", b"gizmo: bus clock support").replace(b"*** BLURB HERE ***", b"Three small patches.")
    mails[0] = cover
    msgids = [email.utils.parseaddr(email.message_from_bytes(m)["Message-ID"])[1] for m in mails]
    subjects = [" ".join(email.message_from_bytes(m)["Subject"].split()) for m in mails]
    replies = [
        _reply(msgids[1], subjects[1], REVIEWER, "> The bus clock\n\nReviewed-by: Rita Reviewer <rita@acme.example>",
               "Wed, 4 Mar 2026 10:00:00 +0000", 1),
        _reply(msgids[0], subjects[0], MAINTAINER, "For the series:\nAcked-by: Mo Maintainer <mo@kernel.example>",
               "Wed, 4 Mar 2026 11:00:00 +0000", 2),
        # names somebody else: kept by the series as flagged, never added by am
        _reply(msgids[2], subjects[2], REVIEWER, "Tested-by: Someone Else <else@elsewhere.example>",
               "Wed, 4 Mar 2026 12:00:00 +0000", 3),
        # the same Reviewed-by again: added once
        _reply(msgids[1], subjects[1], REVIEWER, "Reviewed-by: Rita Reviewer <rita@acme.example>",
               "Wed, 4 Mar 2026 13:00:00 +0000", 4),
    ]
    folder = tmp / "mails"
    folder.mkdir()
    for n, raw in enumerate(mails + replies):
        (folder / f"{n:03d}.eml").write_bytes(raw)
    inbox = patchtrack.build_inbox(folder, tmp / "linux-gizmo")
    return {"tmp": tmp, "repo": repo, "base": base, "head": head, "inbox": inbox, "msgids": msgids, "posted": posted}


def _apply(scene: dict, mbox: Path, name: str, *options: str) -> Path:  # type: ignore[type-arg]
    work = scene["tmp"] / name
    git("clone", "-q", str(scene["repo"]), str(work))
    git("checkout", "-q", "-b", "applied", scene["base"], cwd=work)
    subprocess.run(
        ["git", "am", "-q", *options, str(mbox)], cwd=work, check=True, env=git_env(*MAINTAINER, "2026-03-05T10:00:00+00:00")
    )
    return work


def test_git_am_rebuilds_the_tree_with_the_reviewers_trailers(scene: dict) -> None:  # type: ignore[type-arg]
    [series] = patchtrack.open_inbox(scene["inbox"], workers=1).series()
    assert len(series.patches) == 3 and series.complete
    mbox = scene["tmp"] / "series.mbox"
    assert series.to_mbox(mbox) == 3
    work = _apply(scene, mbox, "work")
    assert git("rev-parse", "HEAD^{tree}", cwd=work) == git("rev-parse", f"{scene['head']}^{{tree}}", cwd=scene["repo"])
    # authorship and dates survive; the applier is the committer
    log = git("log", "--reverse", "--format=%an|%ae|%aI|%cn", f"{scene['base']}..HEAD", cwd=work).splitlines()
    orig = git("log", "--reverse", "--format=%an|%ae|%aI", f"{scene['base']}..{scene['head']}", cwd=scene["repo"]).splitlines()
    assert [line.rsplit("|", 1)[0] for line in log] == orig
    assert all(line.endswith("|Mo Maintainer") for line in log)
    bodies = [git("log", "-1", "--format=%B", f"HEAD~{n}", cwd=work).strip() for n in (2, 1, 0)]
    trailers = [
        git("interpret-trailers", "--parse", input=body + "\n").splitlines() for body in bodies
    ]
    sob = "Signed-off-by: René Müller <rene@feinwerk.example>"
    acked = "Acked-by: Mo Maintainer <mo@kernel.example>"
    reviewed = "Reviewed-by: Rita Reviewer <rita@acme.example>"
    # b4's order: the patch's own trailers, then follow-ups in the order given
    assert trailers[0] == [sob, reviewed, acked]
    assert trailers[1] == [
        'Fixes: 0123456789ab ("gizmo: initial driver")',
        "Cc: stable@vger.kernel.org # 6.9+", sob, acked,
    ]
    assert trailers[2] == [sob, acked]
    assert not any("Someone Else" in line for t in trailers for line in t)
    # the commit message text itself is untouched above the trailers
    assert bodies[0].startswith("gizmo: enable the bus clock on probe\n\nThe bus clock must run before")


def test_as_posted_and_with_link(scene: dict) -> None:  # type: ignore[type-arg]
    [series] = patchtrack.open_inbox(scene["inbox"], workers=1).series()
    plain = scene["tmp"] / "plain.mbox"
    series.to_mbox(plain, followups=False, link=True, cover=True)
    work = _apply(scene, plain, "plain", "--empty=drop")
    body = git("log", "-1", "--format=%B", "HEAD~2", cwd=work)
    parsed = git("interpret-trailers", "--parse", input=body).splitlines()
    assert parsed == [
        "Signed-off-by: René Müller <rene@feinwerk.example>",
        f"Link: https://patch.msgid.link/{scene['msgids'][1]}",
    ]
    # the cover letter is first in the mbox, and git am --empty=drop passed over it
    assert len(git("rev-list", f"{scene['base']}..HEAD", cwd=work).split()) == 3
    assert len(split_mbox(plain.read_bytes())) == 4


def test_mbox_reads_back_into_the_same_series(scene: dict) -> None:  # type: ignore[type-arg]
    [series] = patchtrack.open_inbox(scene["inbox"], workers=1).series()
    # git format-patch --stdout output, gzipped
    stdout = subprocess.run(
        ["git", "format-patch", "--stdout", "--thread=shallow", "--cover-letter", f"{scene['base']}..{scene['head']}"],
        cwd=scene["repo"], check=True, capture_output=True, env=git_env(*AUTHOR, "2026-03-03T09:00:00+01:00"),
    ).stdout
    packed = scene["tmp"] / "fp.mbox.gz"
    packed.write_bytes(gzip.compress(stdout))
    messages = read_mbox(packed)
    assert [m.kind for m in messages] == ["cover", "patch", "patch", "patch"]
    [again] = patchtrack.assemble(messages)
    assert [p.message.patch_id for p in again.patches] == [p.message.patch_id for p in series.patches]
    # a maildir of the posted mails and the replies: the same series and follow-ups
    box = mailbox.Maildir(str(scene["tmp"] / "maildir"), create=True)
    for path in sorted((scene["tmp"] / "mails").iterdir()):
        box.add(path.read_bytes())
    [from_maildir] = patchtrack.assemble(read_mbox(scene["tmp"] / "maildir"))
    assert from_maildir.id == series.id
    assert [[f.to_dict() for f in p.followups] for p in from_maildir.patches] == [
        [f.to_dict() for f in p.followups] for p in series.patches
    ]


def test_split_mbox_keeps_from_lines_inside_mails() -> None:
    data = (
        b"From git@z Thu Jan  1 00:00:00 1970\nSubject: one\n\nFrom the data sheet.\n>From quoted\n\n"
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: two\n\nbody\n"
    )
    one, two = split_mbox(data, mboxrd=False)
    assert one == b"Subject: one\n\nFrom the data sheet.\n>From quoted\n" and two == b"Subject: two\n\nbody\n"
    lore = b"From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\n"
    assert split_mbox(lore) == [b"Subject: x\n\nFrom here\n>From there\n"]  # mboxrd: un-escaped
    assert split_mbox(b"Subject: lone\n\nno separator\n") == [b"Subject: lone\n\nno separator\n"]


def test_read_mbox_errors(tmp_path: Path) -> None:
    with pytest.raises(MboxError, match="no such file"):
        read_mbox(tmp_path / "missing.mbox")
    (tmp_path / "empty").mkdir()
    assert read_mbox(tmp_path / "empty") == []  # a folder of no mail files: no mail
    git("init", "-q", "--bare", str(tmp_path / "repo.git"))
    with pytest.raises(MboxError, match="repo.git: a public-inbox archive or git repository, not a mailbox"):
        read_mbox(tmp_path / "repo.git")
    picture = tmp_path / "picture.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    with pytest.raises(MboxError, match=r"picture.png: neither an mbox nor a mail \(it begins b'\\x89PNG"):
        read_mbox(picture)
    # not a mailbox inside the gzip either; a truncated gzip; a fifo (reading it would wait)
    packed = tmp_path / "notes.gz"
    packed.write_bytes(gzip.compress(b"just some notes, no headers\n" * 20))
    with pytest.raises(MboxError, match="neither an mbox nor a mail"):
        read_mbox(packed)
    cut = tmp_path / "cut.mbox.gz"
    cut.write_bytes(gzip.compress(b"From: a@x\nSubject: s\n\n" + random.Random(1).randbytes(100_000))[:-2000])
    with pytest.raises(MboxError, match="cut.mbox.gz: cannot read: "):
        read_mbox(cut)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(MboxError, match="neither a mailbox file nor a maildir"):
        read_mbox(tmp_path / "fifo")
    # what a mailbox can begin with: a separator, a header, a blank line, or nothing
    for start in (b"From someone Mon Jan  1 00:00:00 2024\n", b"Return-Path: <a@x>\n", b"\n\nX-Y : z\n", b""):
        (tmp_path / "ok.mbox").write_bytes(start + b"Subject: s\n\nbody\n" if start else b"")
        assert len(read_mbox(tmp_path / "ok.mbox")) == (1 if start else 0)


def _mail(n: int) -> bytes:
    return f"From: A <a@example.org>\nSubject: mail {n}\nMessage-ID: <{n}@x>\n\nbody {n}\n".encode()


def test_maildir_with_cur_only_or_new_only(tmp_path: Path) -> None:
    """A maildir copied without its empty new/ (or cur/) still reads, by delivery name
    across both, flags (``:2,S``) aside; tmp/ and dot files are not mail."""
    for only in ("cur", "new"):
        box = tmp_path / only
        (box / only).mkdir(parents=True)
        (box / "tmp").mkdir()
        (box / "tmp" / "3.x").write_bytes(_mail(9))
        (box / only / ".hidden").write_bytes(_mail(8))
        for n, name in ((2, "1700000002.b"), (1, "1700000001.a"), (3, "1700000003.c")):
            (box / only / (name + (":2,S" if only == "cur" else ""))).write_bytes(_mail(n))
        assert [m.msgid for m in read_mbox(box)] == ["1@x", "2@x", "3@x"]
    both = tmp_path / "both"
    for sub, n, name in (("new", 2, "1700000002.b"), ("cur", 1, "1700000001.a:2,RS"), ("new", 3, "1700000003.c")):
        (both / sub).mkdir(parents=True, exist_ok=True)
        (both / sub / name).write_bytes(_mail(n))
    assert [m.msgid for m in read_mbox(both)] == ["1@x", "2@x", "3@x"]


def _bomb(path: Path, unpacked: int) -> None:
    """A gzip of one mail whose body is ``unpacked`` zero bytes (about 1,000 to 1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    with path.open("wb") as fh:
        fh.write(packer.compress(b"From: a@example.org\nSubject: bomb\n\n"))
        for _ in range(unpacked >> 20):
            fh.write(packer.compress(zeros))
        fh.write(packer.flush())


def test_a_gzip_bomb_stops_at_the_bound_in_bounded_memory(tmp_path: Path) -> None:
    """256 MiB of zeros in 255 kB: refused once past 100 times the packed size (the
    default), before it is held — peak memory stays near the bound, where reading it
    whole took twice the unpacked size (4.1 GB for a 2 MB bomb before)."""
    bomb = tmp_path / "bomb.mbox.gz"
    _bomb(bomb, 256 << 20)
    packed = bomb.stat().st_size
    assert packed < (300 << 10)
    probe = (
        "import resource, sys\n"
        "from patchtrack.mbox import MboxError, read_mbox\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    read_mbox(sys.argv[1])\n"
        "except MboxError as exc:\n"
        "    print(exc)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, str(bomb)], capture_output=True, text=True, check=True)
    message, grown = proc.stdout.splitlines()
    bound = max(GZIP_FLOOR, GZIP_RATIO * packed)
    assert message == (
        f"{bomb}: unpacks to more than {bound:,} bytes ({packed:,} packed): a gzip bomb? "
        "(read_mbox's max_size raises the bound)"
    )
    assert int(grown) < 2 * bound + (16 << 20) < (256 << 20)


def test_gzip_bound_is_a_parameter(tmp_path: Path) -> None:
    bomb = tmp_path / "small.mbox.gz"
    _bomb(bomb, 8 << 20)  # under the floor: a small file may unpack far more than 100-fold
    [mail] = read_mbox(bomb)
    assert mail.subject.raw == "bomb"
    with pytest.raises(MboxError, match="unpacks to more than 1,048,576 bytes"):
        read_mbox(bomb, max_size=1 << 20)
    many = tmp_path / "many.mbox.gz"
    many.write_bytes(gzip.compress(b"".join(b"From x Mon Jan  1 00:00:00 2024\n" + _mail(n) for n in range(5000))))
    assert len(read_mbox(many, max_size=1 << 30)) == 5000
    with pytest.raises(MboxError, match="unpacks to more than 100,000 bytes"):
        read_mbox(many, max_size=100_000)


def test_am_command_picks_the_newest_revision(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo = patchtrack.build_demo_inbox(tmp_path / "linux-gizmo")
    everything = patchtrack.open_inbox(demo, workers=1).series()
    old = next(s for s in everything if s.next is not None and not s.missing)
    out = tmp_path / "out.mbox"
    code = main(["am", str(demo), f"<{old.patches[0].msgid}>", "-o", str(out), "--no-cache"])
    err = capsys.readouterr().err
    assert code == 0, err
    newest = old
    by_id = {s.id: s for s in everything}
    while newest.next is not None:
        newest = by_id[newest.next.id]
    assert newest.version > old.version
    expected = tmp_path / "expected.mbox"
    newest.to_mbox(expected)
    assert out.read_bytes() == expected.read_bytes()
    assert f"v{newest.version}" in err
    code = main(["am", str(demo), old.id, "-o", str(out), "--this", "--no-cache"])
    capsys.readouterr()
    old.to_mbox(expected)
    assert code == 0 and out.read_bytes() == expected.read_bytes()
    code = main(["am", str(demo), "<nobody@nowhere>", "-o", str(out), "--no-cache"])
    assert code == 2 and "no series has this id" in capsys.readouterr().err
