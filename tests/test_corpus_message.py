"""parse_message against git's own tools on every patch mail of every corpus, and
whole-corpus walks that must never fail."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import patchtrack
from agreement import FIELDS, agreement

pytestmark = pytest.mark.corpus

TARGET = 0.995
_ENCODED = re.compile(r"=\?[^?\s]+\?[bBqQ]\?")


def test_patch_fields_agree_with_git(corpus_name: str, corpus_patch_views) -> None:  # type: ignore[no-untyped-def]
    mails, views = corpus_patch_views
    table = agreement(mails, views)
    rates = {f: table[f]["agree"] / table[f]["checked"] for f in FIELDS if table[f]["checked"]}
    low = {f: f"{rates[f]:.3%} ({table[f]['checked'] - table[f]['agree']} of {table[f]['checked']})"
           for f in rates if rates[f] < TARGET}
    assert not low, f"{corpus_name}: below {TARGET:.1%}: {low}; first: " + repr(
        {f: table[f]["examples"][:2] for f in low}
    )
    assert table["commit_message"]["checked"] >= 0.95 * len(mails)


def test_whole_corpus_parses_without_undecoded_names_and_holds_bodies_compressed(corpus_repo: Path) -> None:
    inbox = patchtrack.open_inbox(corpus_repo)
    kinds: Counter[str] = Counter()
    undecoded = []
    text = held = 0
    for m in inbox.messages():
        kinds[m.kind] += 1
        text += len(m.body.encode("utf-8", "surrogatepass"))
        held += len(m._body)  # the body as the record holds it (see Message.body)
        assert not any(p.startswith("unparsable") for p in m.problems), (m.oid, m.problems)
        for person in (m.sender, m.author, *m.to, *m.cc):
            if person is not None and _ENCODED.search(person.name):
                undecoded.append((m.oid, person.name))
        for t in m.trailers:
            if t.person is not None and _ENCODED.search(t.person.name):
                undecoded.append((m.oid, t.person.name))
    assert undecoded == []
    assert kinds["patch"] > 0 and kinds["reply"] > 0
    assert held < 0.6 * text, (held, text)  # what docs/performance.md's memory figures rest on


def test_every_date_header_reads_as_the_standard_library_reads_it(corpus_repo: Path) -> None:
    """``mail_date``'s own reading of the common form, and its fallback, give what
    ``email.utils.parsedate_to_datetime`` gives on every ``Date:`` of the corpus."""
    from patchtrack._dates import _MAIL_DATE, mail_date
    from patchtrack._mime import split_mail
    from test_dates import stdlib_mail_date

    values = [
        v for r in patchtrack.open_inbox(corpus_repo).walk(dedupe=False)
        for v in split_mail(r.data).headers.get("date", [])
    ]
    differ = [(v, mail_date(v), stdlib_mail_date(v)) for v in values if mail_date(v) != stdlib_mail_date(v)]
    assert differ == []
    # the comparison includes offsets: equal aware datetimes may sit in different zones
    assert all(
        mail_date(v) is None or mail_date(v).utcoffset() == stdlib_mail_date(v).utcoffset() for v in values  # type: ignore[union-attr]
    )
    fast = sum(1 for v in values if _MAIL_DATE.fullmatch(v))
    assert fast > 0.9 * len(values), (fast, len(values))  # the common form is the common case
