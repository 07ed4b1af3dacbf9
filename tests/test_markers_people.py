"""Markers as posted, stable backports, patchbomb counters, and people (issue 20 §2).

Built mails for the edge cases b4's samples and the issue name; then the rules
recomputed from the raw mails (standard library only) over every series of linux-pwm
and kvm-ppc; then the reference report's own mails (``../shared/seed-kvm``).
"""

from __future__ import annotations

import email.header
import json
import re
import time
from collections import Counter
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
from pathlib import Path

import b4
import pytest

import patchtrack
from conftest import CORPUS, _messages_of, _series_of
from patchtrack.identity import organisation_domain, parse_people, parse_person, plain_name
from patchtrack._render import series_lines
from patchtrack.trailers import parse_trailers

DIFF = "---\n f | 2 +-\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-{old}\n+{new}\n"


def mail(
    msgid: str, sender: str, subject: str, day: int, *, reply_to: str | None = None, body: str | None = None,
    change: str | None = None,
) -> patchtrack.Message:
    """A mail of March 2026; a patch (a diff changing ``change``, else its msgid)
    unless ``body`` is given."""
    thread = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
    if body is None:
        body = "Commit message.\n\nSigned-off-by: " + sender + "\n" + DIFF.format(old=change or msgid, new="y")
    raw = (
        f"From: {sender}\nSubject: {subject}\nDate: Mon, {day:02d} Mar 2026 10:00:00 +0000\n"
        f"Message-ID: <{msgid}>\n{thread}\n{body}"
    )
    return patchtrack.parse_message(raw.encode())


def report_of(mails: list[patchtrack.Message], **options: object) -> patchtrack.Report:
    return patchtrack.build_report("t", mails, patchtrack.assemble(mails), top=100, **options)  # type: ignore[arg-type]


# --- markers as posted ---------------------------------------------------------------


def test_markers_are_shown_as_posted() -> None:
    """No rebuilt counter: a lone out-of-range patch, a coverless partial series, a
    zero-padded cover, a tree tag — each line shows its head mail's own brackets."""
    ann = "Ann Author <ann@gizmo.test>"
    mails = [
        mail("rfc5@x", ann, "[RFC PATCH v4 5/4] a: late addition", 2),
        mail("p7@x", "Bo Backer <bo@gizmo.test>", "[PATCH 07/15] b: seventh", 3),
        mail("p8@x", "Bo Backer <bo@gizmo.test>", "[PATCH 08/15] b: eighth", 3, reply_to="p7@x"),
        mail("c0@x", ann, "[PATCH v2 00/12] c: cover", 4, body="The cover.\n"),
        mail("c1@x", ann, "[PATCH v2 01/12] c: one", 4, reply_to="c0@x"),
        mail("n0@x", ann, "[PATCH net-next v3] d: tree tag", 5),
    ]
    report = report_of(mails)
    text = "\n".join(series_lines(report))
    assert {row["marker"] for row in report.to_dict()["series"]} == {
        "[RFC PATCH v4 5/4]", "[PATCH 07/15]", "[PATCH v2 00/12]", "[PATCH net-next v3]"}
    for shown in ("[RFC PATCH v4 5/4] a: late addition", "[PATCH 07/15] b: seventh",
                  "[PATCH v2 00/12] c: cover", "[PATCH net-next v3] d: tree tag"):
        assert f": {shown} — " in text, text
    assert "1/4]" not in text and "1/15]" not in text and " 0/12]" not in text


def test_patchbomb_subjects_are_series_members() -> None:
    """Mercurial's ``[PATCH 0 of 2]`` … ``[PATCH 2 of 2]``: one series, a cover and two patches."""
    hg = "Hugo Mercurial <hugo@gizmo.test>"
    mails = [
        mail("hg0@x", hg, "[PATCH 0 of 2 v2] e: a cover", 2, body="The cover.\n"),
        mail("hg1@x", hg, "[PATCH 1 of 2 v2] e: one", 2, reply_to="hg0@x"),
        mail("hg2@x", hg, "[PATCH 2 of 2 v2] e: two", 2, reply_to="hg0@x"),
    ]
    (series,) = patchtrack.assemble(mails)
    assert series.cover is not None and series.cover.msgid == "hg0@x"
    assert [p.index for p in series.patches] == [1, 2] and series.total == 2 and series.complete
    assert series.version == 2
    assert ": [PATCH 0 of 2 v2] e: a cover — " in series_lines(report_of(mails))[0]


@pytest.mark.parametrize("subject", [
    "[PATCH v2 00/12] x", "[RFC PATCH v4 5/4] x", "[PATCH 07/15] x", "[PATCHv3 2/3] x",
    "[PATCH net-next v3 0/4] x", "Re: [PATCH RESEND 1/2] x", "[PATCH AUTOSEL 5.4 14/78] x",
])
def test_counters_and_versions_agree_with_b4(subject: str) -> None:
    """Where b4 reads a counter and a version, ours are the same numbers."""
    ours, theirs = patchtrack.parse_subject(subject), b4.LoreSubject(subject)
    assert (ours.index, ours.total, ours.version) == (theirs.counter, theirs.expected, theirs.revision)
    assert ours.resend == theirs.resend and ours.rfc == theirs.rfc


def test_patchbomb_counter_b4_does_not_read() -> None:
    """b4 infers ``1/1`` for ``[PATCH 1 of 2]``; patchtrack reads the counter (docs/subject.md)."""
    theirs = b4.LoreSubject("[PATCH 1 of 2] x")
    assert theirs.counters_inferred and theirs.expected == 1
    ours = patchtrack.parse_subject("[PATCH 1 of 2] x")
    assert (ours.index, ours.total) == (1, 2)


# --- stable backports ----------------------------------------------------------------


def test_a_backport_is_not_a_resend_of_the_original() -> None:
    """The same patch (same patch-id) posted again by the stable maintainers for
    another tree is no resend or revision of the author's series; a repost for the
    same tree still links to the first."""
    orig = mail("o@x", "Ann Author <ann@gizmo.test>", "[PATCH] pwm: fix the thing", 2, change="same")
    auto = mail("a1@x", "Sasha Levin <sashal@kernel.org>", "[PATCH AUTOSEL 5.4 14/78] pwm: fix the thing", 9,
                change="same")
    older = mail("a2@x", "Sasha Levin <sashal@kernel.org>", "[PATCH AUTOSEL 4.19 09/40] pwm: fix the thing", 10,
                 change="same")
    again = mail("a3@x", "Sasha Levin <sashal@kernel.org>", "[PATCH AUTOSEL 5.4 20/80] pwm: fix the thing", 16,
                 change="same")
    stable = mail("s@x", "Ann Author <ann@gizmo.test>", "[PATCH stable 5.10.y] pwm: fix the thing", 11,
                  change="same")
    by_head = {s.head.msgid: s for s in patchtrack.assemble([orig, auto, older, again, stable])}
    assert by_head["o@x"].status == "new" and by_head["o@x"].next is None
    for msgid in ("a2@x", "s@x"):
        assert by_head[msgid].previous is None and by_head[msgid].status == "new", msgid
    assert by_head["a1@x"].previous is None and by_head["a1@x"].status == "superseded"  # by a3
    assert by_head["a3@x"].previous is not None and by_head["a3@x"].previous.msgid == "a1@x"
    assert [patchtrack.parse_subject(m.subject.raw).backport for m in (orig, auto, older, stable)] == [
        None, "5.4", "4.19", "5.10"]


# --- people --------------------------------------------------------------------------

MAILTO = [
    ("Foo Bar <foo@x.org<mailto:foo@x.org>>", ("Foo Bar", "foo@x.org")),
    ("Foo Bar <foo@x.org <mailto:foo@x.org>>", ("Foo Bar", "foo@x.org")),
    ("foo@x.org <mailto:foo@x.org>", ("", "foo@x.org")),
    ("Foo Bar <mailto:Foo@X.org>", ("Foo Bar", "foo@x.org")),
    ("Foo Bar [mailto:foo@x.org]", ("Foo Bar", "foo@x.org")),
    ('"Bar, Foo" <foo@x.org<mailto:foo@x.org>>', ("Bar, Foo", "foo@x.org")),
]


@pytest.mark.parametrize(("text", "expected"), MAILTO)
def test_mailto_junk_is_stripped(text: str, expected: tuple[str, str]) -> None:
    """What a mail client writes when it turns HTML mail back into text."""
    person = parse_person(text)
    assert person is not None and (person.name, person.email) == expected
    assert [(p.name, p.email) for p in parse_people(f"{text}, Other <o@y.org>")] == [expected, ("Other", "o@y.org")]
    (trailer,) = parse_trailers(f"Subject line\n\nBody.\n\nReviewed-by: {text}\n")
    assert trailer.person is not None and (trailer.person.name, trailer.person.email) == expected


@pytest.mark.parametrize("value", ["Foo Bar <foo@x.org<mailto:foo@x.org>>", "Foo Bar <foo@x.org> <mailto:foo@x.org>"])
def test_mailto_address_agrees_with_b4(value: str) -> None:
    ours = parse_trailers(f"S\n\nB.\n\nAcked-by: {value}\n")[0].person
    assert ours is not None and (ours.name, ours.email) == b4.LoreTrailer("Acked-by", value).addr


def test_a_lone_mailto_keeps_its_address_where_b4_loses_it() -> None:
    value = "Foo Bar <mailto:foo@x.org>"
    assert "@" not in b4.LoreTrailer("Acked-by", value).addr[1]  # b4 drops the whole <mailto:…>
    ours = parse_trailers(f"S\n\nB.\n\nAcked-by: {value}\n")[0].person
    assert ours is not None and ours.email == "foo@x.org"


def test_a_reviewer_is_one_per_address_whatever_the_name() -> None:
    ann = "Ann Author <ann@gizmo.test>"
    mails = [
        mail("r0@x", ann, "[PATCH 0/2] f: cover", 2, body="Cover.\n"),
        mail("r1@x", ann, "[PATCH 1/2] f: one", 2, reply_to="r0@x"),
        mail("r2@x", ann, "[PATCH 2/2] f: two", 2, reply_to="r0@x"),
        mail("rv1@x", "Jon Hunter <jonathanh@nv.test>", "Re: [PATCH 1/2] f: one", 3, reply_to="r1@x",
             body="> x\n\nReviewed-by: Jon Hunter <jonathanh@nv.test>\n"),
        mail("rv2@x", "Jonathan Hunter <jonathanh@nv.test>", "Re: [PATCH 2/2] f: two", 4, reply_to="r2@x",
             body="> x\n\nReviewed-by: Jonathan Hunter <jonathanh@nv.test<mailto:jonathanh@nv.test>>\n"),
    ]
    (line,) = series_lines(report_of(mails))
    assert line.count("Reviewed") == 1 and "[on the list: Reviewed-by Jon Hunter]" in line, line


def test_affiliation_and_subdomains_fold() -> None:
    """``Name (Affiliation)`` is one person with ``Name``; subdomains count under the
    organisation's domain; each mail's domain stays its own address's."""
    mails = [
        mail("u1@x", "Uwe Kleine-König (The Capable Hub) <u.kleine-koenig@baylibre.com>", "[PATCH] pwm: a", 2),
        mail("u2@x", "Uwe Kleine-König <ukleinek@kernel.org>", "[PATCH] pwm: b", 3),
        mail("u3@x", "Uwe Kleine-König <ukleinek@kernel.org>", "[PATCH] pwm: c", 4),
        mail("i1@x", "Vaibhav Jain <vaibhav@linux.vnet.ibm.com>", "[PATCH] kvm: d", 5),
        mail("i2@x", "Vaibhav Jain <vajain21@vajain21.in.ibm.com>", "[PATCH] kvm: e", 6),
        mail("g1@x", "Ravi <ravi@gmail.com>", "[PATCH] kvm: f", 7),
    ]
    report = report_of(mails)
    assert [(c.label, c.count) for c in report.contributors] == [
        ("Uwe Kleine-König <ukleinek@kernel.org>", 3),
        ("Vaibhav Jain <vaibhav@linux.vnet.ibm.com>", 2),
        ("Ravi <ravi@gmail.com>", 1),
    ]
    assert {c.label: c.count for c in report.domains} == {
        "ibm.com": 2, "kernel.org": 2, "baylibre.com": 1, "gmail.com (personal)": 1}
    rows = {row["domain"]: row for row in json.loads(json.dumps(report.to_dict()))["domains"]}
    assert rows["gmail.com"] == {"domain": "gmail.com", "personal": True, "count": 1}
    assert rows["ibm.com"] == {"domain": "ibm.com", "personal": False, "count": 2}
    # a domain map still wins over the folding
    mapped = report_of(mails, domain_map=patchtrack.DomainMap.parse("linux.vnet.ibm.com  IBM Research\n"))
    assert {c.label: c.count for c in mapped.domains}["IBM Research"] == 1
    assert {c.label: c.count for c in mapped.domains}["ibm.com"] == 1
    org = next(r for r in mapped.to_dict()["domains"] if r["domain"] is None)
    assert org == {"domain": None, "personal": False, "count": 1, "organisation": "IBM Research"}


@pytest.mark.parametrize(("domain", "organisation"), [
    ("linux.vnet.ibm.com", "ibm.com"), ("vajain21.in.ibm.com", "ibm.com"), ("ibm.com", "ibm.com"),
    ("iscas.ac.cn", "iscas.ac.cn"), ("mail.example.co.uk", "example.co.uk"), ("Linux.Intel.COM", "intel.com"),
    ("[192.0.2.1]", "[192.0.2.1]"), ("localhost", "localhost"), ("", ""),
])
def test_organisation_domain(domain: str, organisation: str) -> None:
    assert organisation_domain(domain) == organisation


@pytest.mark.parametrize("text", [
    "a" + " " * 200_000 + "mailto:", "<mailto:a@b>" * 50_000, "x <mailto:" + "a" * 200_000,
    "A" + " " * 100_000 + "(b)", "(" * 100_000 + ")", "[PATCH " + "1 of 2 " * 30_000 + "AUTOSEL " * 10_000 + "]",
])
def test_hostile_text_costs_little(text: str) -> None:
    """The new readers are linear: a regular expression with a leading ``\\s*`` took
    seconds on 200,000 blanks before a ``mailto:``."""
    start = time.process_time()
    parse_person(text), parse_people(text), plain_name(text), patchtrack.parse_subject(text)
    assert time.process_time() - start < 1.0


def test_plain_name() -> None:
    assert plain_name("Uwe Kleine-König (The Capable Hub)") == "Uwe Kleine-König"
    assert plain_name("(nobody)") == "(nobody)" and plain_name("A (b) c") == "A (b) c"


# --- the rules on every series of linux-pwm and kvm-ppc ------------------------------

_UNFOLD = re.compile(r"\s+")
_LEADING_GROUPS = re.compile(r"^(?:\s*\[[^\]]*\])+")
_BACKPORT_WORD = re.compile(r"\bAUTOSEL\b|\bstable\b|\b\d\.\d+\.[xy]\b", re.IGNORECASE)
_RELEASE = re.compile(r"(?<![\d.])\d\.\d+(?![\d/])")
_AFFILIATION = re.compile(r"\s*\([^()]*\)$")


def _subject(raw: bytes) -> str:
    """The Subject header as the standard library decodes it, whitespace unfolded."""
    header = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    return _UNFOLD.sub(" ", str(header.get("subject", ""))).strip()


def _backport(subject: str) -> tuple[str, ...] | None:
    """The releases a backport's markers name (empty for a bare ``stable``), or None."""
    groups = _LEADING_GROUPS.match(subject)
    if groups is None or not _BACKPORT_WORD.search(groups[0]):
        return None
    return tuple(_RELEASE.findall(groups[0]))


@pytest.fixture(scope="module", params=["linux-pwm.vger.kernel.org.0", "kvm-ppc.vger.kernel.org.0"])
def corpus(request: pytest.FixtureRequest, corpus_clones: dict[str, Path]) -> tuple[patchtrack.Inbox, list, tuple]:
    repo = corpus_clones.get(request.param)
    if repo is None:
        pytest.skip(f"needs the {request.param} corpus")
    return patchtrack.open_inbox(repo), _messages_of(request.param, repo), _series_of(request.param, repo)


@pytest.mark.corpus
def test_corpus_markers_backports_and_people(corpus: tuple[patchtrack.Inbox, list, tuple]) -> None:
    inbox, messages, series = corpus
    report = patchtrack.build_report("t", messages, series, top=100_000)
    subjects: dict[str, str] = {}

    def subject(m: patchtrack.Message) -> str:
        if m.oid not in subjects:
            subjects[m.oid] = _subject(inbox.raw(m.oid))
        return subjects[m.oid]

    def posted(s: patchtrack.Series) -> set[str]:
        return {subject(m) for m in ([s.cover] if s.cover else []) + [p.message for p in s.patches]}

    # every marker shown is the bracket text of a subject of that series, as posted
    shown = 0
    for status, s, line in zip(report.statuses, report.series, series_lines(report)):
        rest = line.removeprefix(f"{status}: ")
        marker = rest[: rest.index(f"{s.title} — ")].strip()
        if marker:
            shown += 1
            assert any(subject.startswith(marker) for subject in posted(s)), (line, posted(s))
    assert shown > 0.9 * len(report.series)

    # no stable backport linked to the original work (as a resend or a revision), and
    # a backport's previous revision is one for the same releases
    by_id = {s.id: s for s in series}
    backports = 0
    for s in series:
        mine = _backport(subject(s.head))
        backports += mine is not None
        if s.previous is not None:
            theirs = _backport(subject(by_id[s.previous.id].head))
            assert mine == theirs, (s.head.subject.raw, by_id[s.previous.id].head.subject.raw)
    assert backports >= 40  # linux-pwm 67 series, kvm-ppc 46

    # no contributor row duplicated by an affiliation suffix (nor a second name)
    names = Counter(
        _AFFILIATION.sub("", c.label.rpartition(" <")[0]).casefold()
        for c in report.contributors if len(c.label.rpartition(" <")[0].split()) >= 2
    )
    assert [name for name, n in names.items() if n > 1] == []
    # and nothing left of HTML mail's <mailto:…> in anyone's address
    people = [p for m in messages for p in (m.author, m.sender, *m.to, *m.cc, *(t.person for t in m.trailers)) if p]
    assert not [p for p in people if "mailto:" in p.email.lower() or "mailto:" in p.name.lower()]


# --- the reference report's own mails ------------------------------------------------

SEED = CORPUS.parent / "seed-kvm"
REFERENCE = CORPUS.parent / "reference" / "kvm-list-update.txt"


def _reference_table(text: str, heading: str) -> Counter[str]:
    """A ranking of the reference report: label → count, names RFC 2047-decoded."""
    lines = text.split(heading, 1)[1].split("\n\n", 2)[1].splitlines()
    table: Counter[str] = Counter()
    for line in lines:
        count, label = line.split(None, 1)
        table[str(email.header.make_header(email.header.decode_header(label)))] = int(count)
    return table


def test_seed_kvm_tables_and_markers(tmp_path: Path) -> None:
    """The reference's own 81 mails (+ 8 replies) built in Date order: the domain and
    contributor tables equal the reference's, and every marker is one a mail carried."""
    if not SEED.is_dir() or not REFERENCE.is_file():
        pytest.skip(f"no {SEED}")
    raws = [p.read_bytes() for p in sorted((SEED / "mails").glob("*.eml")) + sorted((SEED / "replies").glob("*.eml"))]
    raws.sort(key=lambda raw: message_from_bytes(raw, policy=policy.default)["date"].datetime)
    inbox = patchtrack.open_inbox(patchtrack.build_inbox(raws, tmp_path / "kvm"))
    report = inbox.report(top=15)
    reference = REFERENCE.read_text()
    domains = _reference_table(reference, "Top 15 contributor Email domains")
    people = _reference_table(reference, "Top 15 contributors (Based on Email Body)")
    assert {c.label.removesuffix(" (personal)"): c.count for c in report.domains} == domains
    assert {c.label: c.count for c in report.contributors} == people
    subjects = {_subject(raw) for raw in raws}
    for status, s, line in zip(report.statuses, report.series, series_lines(report)):
        rest = line.removeprefix(f"{status}: ")
        marker = rest[: rest.index(f"{s.title} — ")].strip()
        assert marker and any(subject.startswith(marker) for subject in subjects), line
