"""A short fuzzing campaign on the corpora (issue 19); ``tests/fuzz.py`` runs long ones.

Mutated real mails — bytes flipped, inserted, deleted, headers duplicated, hostile
shapes spliced in — never make ``parse_message`` raise or give up on a mail, never
lose the Message-ID, date or sender to a header they did not touch, and always give
a record that can be written (JSON, UTF-8, the cache's encoding).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fuzz import campaign, percentile, read_mails

pytestmark = pytest.mark.corpus


def test_mutated_corpus_mails(corpus_clones: dict[str, Path]) -> None:
    mails = read_mails([str(p) for p in corpus_clones.values()])
    sample = random.Random(19).sample(mails, 2000)
    out = campaign(sample, 1500, seed=19, workers=1)
    assert out.mails == 1500
    assert not out.failures, [(how, what) for how, what, _ in out.failures[:5]]
    slowest = max(out.cpu)
    assert slowest < 2.0, f"{slowest:.2f} s of CPU for one mail"  # the long campaign's figures: docs/message.md
    assert percentile(out.cpu, 0.5) < 0.005
