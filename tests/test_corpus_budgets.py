"""The parse budgets of issue 19 never touch a real mail: on a sample of every corpus no
budget's problem code fires, the bounded diff reader gives what the unbounded one gives,
and every id reads as public-inbox reads it. (``benchmarks/record_identity.py`` compares
whole records of every corpus mail with the code before the budgets.)"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pygit2
import pytest

from patchtrack._mime import split_mail
from patchtrack.diff import diff_start, diffstat_and_patch_id, read_diff
from patchtrack.message import message_ids, parse_message

pytestmark = pytest.mark.corpus

SAMPLE = 3000
BUDGET_CODES = ("diffstat-truncated", "patch-id-skipped", "trailers-truncated", "flowed-truncated", "mime-truncated",
                "header-truncated")


def _sample(repo_path: Path) -> list[bytes]:
    repo = pygit2.Repository(str(repo_path))
    blobs = [c.tree["m"].id for c in repo.walk(repo.head.target) if "m" in c.tree]
    chosen = random.Random(19).sample(blobs, min(SAMPLE, len(blobs)))
    return [repo[oid].data for oid in chosen]  # type: ignore[union-attr]


def test_no_budget_cuts_a_real_mail(corpus_repo: Path) -> None:
    cut, ids_differ, diffs_differ = [], [], []
    for data in _sample(corpus_repo):
        m = parse_message(data)
        cut += [(m.oid, p) for p in m.problems if p.startswith(BUDGET_CODES)]
        headers = split_mail(data).headers
        for name in ("message-id", "in-reply-to", "references"):
            value = " ".join(headers.get(name, []))
            if message_ids(value) != re.findall(r"<([^>]+)>", value):
                ids_differ.append((m.oid, name))
        start = diff_start(m.body)
        if start is not None:
            stat, pid, problems = read_diff(m.body[start:])
            if (stat, pid) != diffstat_and_patch_id(m.body[start:]) or problems:
                diffs_differ.append(m.oid)
    assert cut == [] and ids_differ == [] and diffs_differ == []
