"""The vocabularies (``patchtrack.vocab``): ``str`` enums that print, compare, hash and
dump to JSON as their plain values, that the records hold whatever they were built
from, and that the cache stores as plain values and gives back as members."""

from __future__ import annotations

import json
import pickle
import random
import re
from enum import Enum
from pathlib import Path

import attrs
import pytest

import patchtrack
from patchtrack import parse_message
from patchtrack._engine import _codec, _series_codec
from patchtrack.vocab import (
    Evidence, Kind, Layout, Method, Problem, ReviewSource, SeriesProblem, State, Status, TrailerRole, Via,
)

ROOT = Path(__file__).resolve().parent.parent
MAILS = sorted((ROOT / "fixtures" / "mails").glob("*.eml"))
VOCABS = (Kind, Via, Status, Evidence, Layout, Method, State, ReviewSource, Problem, SeriesProblem, TrailerRole)


@pytest.mark.parametrize("vocab", VOCABS, ids=lambda v: v.__name__)
def test_a_member_is_its_value_everywhere(vocab: type[Enum]) -> None:
    for member in vocab:
        value = member.value
        assert type(value) is str and isinstance(member, str)
        assert member == value and hash(member) == hash(value) and {value: 1}[member] == 1
        assert str(member) == f"{member}" == "%s" % member == format(member, "") == value
        assert f"{member:>40}" == f"{value:>40}"
        assert json.dumps(member) == json.dumps(value)
        assert json.dumps({"k": [member]}, indent=2) == json.dumps({"k": [value]}, indent=2)
        assert json.dumps({member: 1}) == json.dumps({value: 1})
        assert pickle.loads(pickle.dumps(member)) is member
        assert repr(member) == f"{vocab.__name__}.{member.name}"
        assert member.__doc__, f"{vocab.__name__}.{member.name} is undocumented"


def test_the_vocabularies_are_exported() -> None:
    for vocab in VOCABS:
        assert getattr(patchtrack, vocab.__name__) is vocab
        assert vocab.__name__ in patchtrack.__all__
    # the old tuples are the vocabularies, in their documented order
    from patchtrack.message import KINDS
    from patchtrack.revisions import EVIDENCE, OTHER_AUTHOR
    from patchtrack.series import REVIEW_SOURCES, SERIES_PROBLEMS, STATUSES, VIAS

    assert KINDS == ("patch", "cover", "reply", "pull", "other")
    assert VIAS == ("reply", "thread", "cover", "carried")
    assert STATUSES == ("new", "revision", "resend", "superseded")
    assert EVIDENCE == ("change-id", "link", "in-reply-to", "patch-id", "title", "content")
    assert OTHER_AUTHOR == "other-author"
    assert REVIEW_SOURCES == ("posted", "list")
    assert SERIES_PROBLEMS == ("implausible-total", "cover-count-mismatch")


def test_records_hold_members_however_built() -> None:
    m = parse_message(MAILS[1].read_bytes())
    assert m.kind is Kind.PATCH
    built = attrs.evolve(m, kind="cover")  # a plain string becomes the member
    assert built.kind is Kind.COVER and built.kind == "cover"
    with pytest.raises(ValueError, match="not a Kind"):
        attrs.evolve(m, kind="patches")
    followup = patchtrack.Followup(m.trailers[0], m.msgid, m.sender, m.date, "carried", False)
    assert followup.via is Via.CARRIED


def test_the_cache_codec_stores_plain_values_and_gives_back_members(inbox_series: list) -> None:
    messages = [parse_message(p.read_bytes()) for p in MAILS]
    for m in messages:
        back = _codec.decode(_codec.encode(m))  # marshal would refuse an enum member
        assert back == m and type(back.kind) is Kind
    by_oid = {m.oid: m for s in inbox_series for m in s.messages}
    for s in inbox_series:
        row = _series_codec.encode_series(s)
        back = _series_codec.decode_series(row, by_oid, {})
        assert back == s
        assert type(back.status) is Status and all(type(e) is Evidence for e in back.evidence)
        assert all(type(f.via) is Via for p in back.patches for f in p.followups)
        relinked = _series_codec.relink_row(row, s.previous, s.next, s.status, s.evidence)
        assert relinked == row


@pytest.fixture(scope="module")
def inbox_series(tmp_path_factory: pytest.TempPathFactory) -> list:
    """The demo traffic's series, linked: statuses, evidence and follow-ups."""
    dest = tmp_path_factory.mktemp("vocab") / "inbox"
    inbox = patchtrack.open_inbox(patchtrack.build_inbox(ROOT / "fixtures" / "mails", dest))
    found = inbox.series()
    assert {s.status for s in found} >= {Status.NEW, Status.SUPERSEDED}
    assert any(s.evidence for s in found) and any(p.followups for s in found for p in s.patches)
    return found


def test_every_problem_met_is_a_problem_code() -> None:
    """Parse mutated mail (tests/fuzz.py's mutations, a fixed seed): each problem is a
    code of the vocabulary, alone or with a detail as the vocabulary says."""
    import fuzz

    mails = [p.read_bytes() for p in MAILS]
    rng = random.Random(21)
    met: set[Problem] = set()
    for _ in range(1500):
        for problem in parse_message(fuzz.mutate(rng.choice(mails), rng, mails).data).problems:
            code = Problem.of(problem)
            assert code.detail or problem == code, problem
            assert problem == code or problem.startswith(code + ":"), problem
            met.add(code)
    assert len(met) >= 15  # the mutations reach most codes


@pytest.mark.corpus
def test_every_problem_of_the_corpora_is_a_problem_code(corpus_messages: list) -> None:
    for m in corpus_messages:
        for problem in m.problems:
            Problem.of(problem)


def test_the_documented_problem_codes_are_the_vocabulary() -> None:
    text = (ROOT / "docs" / "message.md").read_text()
    table = text[text.index("## Problem codes"):text.index("## Hostile input")]
    documented = {code.split(":")[0] for row in table.splitlines() if row.startswith("| `")
                  for code in re.findall(r"`([a-z0-9-]+(?::<[^>]+>)?)`", row.split("|")[1])}
    documented |= {"unreadable"}  # docs/inbox.md: the record of a mail the archive could not give
    assert documented == {p.value for p in Problem}
    with pytest.raises(ValueError):
        Problem.of("no-such-problem:x")
    assert Problem.of("header-truncated:in-body") is Problem.HEADER_TRUNCATED
    assert Problem.HEADER_TRUNCATED.at("from") == "header-truncated:from"


def test_export_rows_hold_plain_values(inbox_series: list) -> None:
    """Rows (and so pandas' "string" columns, which keep the objects given) hold the
    plain str of a vocabulary field, as before it was an enum."""
    from patchtrack import rows

    messages = [m for s in inbox_series for m in s.messages]
    assert all(type(r["kind"]) is str for r in rows(messages, "messages"))
    assert all(type(r["status"]) is str for kind in ("patches", "series") for r in rows(inbox_series, kind))
    trailers = rows(inbox_series, "trailers")
    assert trailers and all(type(r["via"]) is str for r in trailers)
