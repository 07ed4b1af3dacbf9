"""patchtrack next to b4 on real threads: the same patches per revision, the same
follow-up trailers. Runnable: ``python tests/parity.py /tmp/corpus/*.git``.

For every revision b4 finds in a thread, the series of ours holding most of its patch
mails is compared with it: the patch map (counter → Message-ID), and per patch the
follow-up trailers ``b4 am`` adds — ours being the unflagged follow-ups the patch does
not already carry, as ``(key, address or value)``.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

import attrs

import patchtrack
from patchtrack import Series, parse_message
from patchtrack.mbox import added_trailers, am_followups


@attrs.frozen
class Difference:
    thread: str
    version: int
    kind: str  # "patches", "followups", "order" (same trailers, another order), "text" (same order, other words)
    index: int | None
    ours: Any
    b4: Any


def trailer_key(key: str, email: str | None, value: str) -> tuple[str, str]:
    return (key.lower(), email.lower() if email else value)


def our_followups(series: Series) -> dict[int, list[tuple[str, str]]]:
    found = {}
    for p in series.patches:
        own = {trailer_key(t.key, t.person.email if t.person else None, t.value) for t in p.trailers}
        keys = {
            trailer_key(f.key, f.person.email if f.person else None, f.trailer.value)
            for f in p.followups
            if not f.flagged
        }
        found[p.index] = sorted(keys - own)
    return found


def our_am_order(series: Series) -> dict[int, list[tuple[str, str]]]:
    """Per patch, the trailers our am mbox adds, in the order it writes them."""
    return {
        p.index: [trailer_key(f.key, f.person.email if f.person else None, f.trailer.value) for f in am_followups(p)]
        for p in series.patches
    }


def compare(root: str, mails: list[bytes], b4: dict[int, dict[str, Any]]) -> tuple[int, int, int, list[Difference]]:
    """(revisions compared, patches compared, patches whose order was compared,
    differences) for one thread.

    A patch whose follow-ups agree as a set is also compared in am order; it counts
    as order-compared when b4 adds two or more trailers to it (where order can differ)."""
    ours = patchtrack.assemble(parse_message(m) for m in mails)
    holder = {p.msgid: s for s in ours for p in s.patches}
    diffs: list[Difference] = []
    revisions = patches = ordered = 0
    for entry in b4.values():
        if "error" in entry or not entry["patches"]:
            continue
        revisions += 1
        votes = collections.Counter(holder[m].id for m in entry["patches"].values() if m in holder)
        mine = next((s for s in ours if votes and s.id == votes.most_common(1)[0][0]), None)
        b4_patches = {int(k): v for k, v in entry["patches"].items()}
        our_patches = {p.index: p.msgid for p in mine.patches} if mine else {}
        if our_patches != b4_patches:
            diffs.append(Difference(root, entry["version"], "patches", None, our_patches, b4_patches))
        ours_f = our_followups(mine) if mine else {}
        for index, msgid in b4_patches.items():
            if our_patches.get(index) != msgid:
                continue
            patches += 1
            b4_f = sorted({tuple(t) for t in entry["followups"].get(index, [])})
            if ours_f.get(index, []) != b4_f:
                diffs.append(Difference(root, entry["version"], "followups", index, ours_f.get(index, []), b4_f))
                continue
            b4_order = [tuple(t) for t in entry["am_order"].get(index, [])]
            mine_order = our_am_order(mine)[index] if mine else []
            ordered += len(b4_order) >= 2
            if mine_order != b4_order:
                diffs.append(Difference(root, entry["version"], "order", index, mine_order, b4_order))
                continue
            mine_lines = added_trailers(mine.patches[[p.index for p in mine.patches].index(index)], followups=True, link=None)
            b4_lines = [" ".join(line.split()) for line in entry["am_lines"].get(index, [])]
            if [" ".join(line.split()) for line in mine_lines] != b4_lines:
                diffs.append(Difference(root, entry["version"], "text", index, mine_lines, b4_lines))
    return revisions, patches, ordered, diffs


def main(paths: list[str]) -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from b4ref import b4_view, select_thread_records

    for path in paths:
        limit = 10 if "ksummit" in path else 70
        revisions = patches = ordered = 0
        diffs: list[Difference] = []
        for t in select_thread_records(path, limit):
            r, p, o, d = compare(t.root, t.mails, b4_view(t.mails))
            revisions, patches, ordered = revisions + r, patches + p, ordered + o
            diffs += d
        print(f"## {path}: revisions {revisions}, patches {patches} ({ordered} with 2+ trailers added), "
              f"differences {len(diffs)}")
        for d in diffs:
            print(f"--- {d.kind} {d.thread} v{d.version} #{d.index}\n  ours: {d.ours}\n    b4: {d.b4}")


if __name__ == "__main__":
    main(sys.argv[1:])
