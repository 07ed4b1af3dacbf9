"""Revision links on the real archives against hand-checked chains.

``tests/data/revision_chains.json`` holds v2+ series of the corpora, each with the
previous revision a person found by reading the mails (cover-letter changelogs, lore
links, change-ids, patch contents) — or none, when the earlier versions never reached
that list. Only ids and expected links are stored, not the mails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from patchtrack import RevisionLink, Series

pytestmark = pytest.mark.corpus

CHAINS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "data" / "revision_chains.json").read_text())


def _corpus_of(corpus_name: str) -> str:
    return corpus_name.split(".")[0]


def judge(series: tuple[Series, ...], chains: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Each hand-checked chain against our links: right, wrong (a false link), missed."""
    by_mail: dict[str, Series] = {}
    for s in series:
        for m in s.messages:
            by_mail.setdefault(m.msgid, s)
    by_id = {s.id: s for s in series}

    def previous_version(s: Series) -> RevisionLink | None:
        """The previous *lower* version: a resend links to the posting it repeats,
        whose own link then leads to the version before (what the chains note)."""
        link = s.previous
        while link is not None and link.version == s.version:
            link = by_id[link.id].previous
        return link

    verdict: dict[str, list[Any]] = {"right": [], "wrong": [], "missed": []}
    for chain in chains:
        s = by_mail.get(chain["msgid"])
        assert s is not None, f"{chain['msgid']} is in no series"
        assert s.version == chain["version"], f"{chain['msgid']}: version {s.version}"
        link = previous_version(s)
        got = link.msgid if link else None
        expected = chain["expected_previous"]
        if (got is None and not expected) or got in expected:
            verdict["right"].append(chain["msgid"])
        elif got is None:
            verdict["missed"].append((chain["msgid"], expected))
        else:
            verdict["wrong"].append((chain["msgid"], got, expected))
    return verdict


def test_the_sample_is_large_and_varied() -> None:
    assert len(CHAINS) >= 50
    assert sum(1 for c in CHAINS if not c["expected_previous"]) >= 10
    assert len({c["corpus"] for c in CHAINS}) >= 4


def test_no_false_revision_links(corpus_name: str, corpus_series: tuple[Series, ...]) -> None:
    mine = [c for c in CHAINS if c["corpus"] == _corpus_of(corpus_name)]
    assert mine or _corpus_of(corpus_name) == "ksummit"  # too few revisions there to sample
    assert judge(corpus_series, mine)["wrong"] == []


def test_revision_links_match_95_percent(all_corpus_series: dict[str, tuple[Series, ...]]) -> None:
    right, missed = 0, []
    for name, series in all_corpus_series.items():
        verdict = judge(series, [c for c in CHAINS if c["corpus"] == _corpus_of(name)])
        right += len(verdict["right"])
        missed += verdict["missed"]
    assert right / len(CHAINS) >= 0.95, f"missed: {missed}"
