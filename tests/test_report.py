"""The mailing list update report: counts recomputed independently, status words,
no encoded names, no silent empty section."""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from email import message_from_bytes, policy
from email.utils import getaddresses
from pathlib import Path

import pytest
from publicsuffixlist import PublicSuffixList

import patchtrack
from conftest import git
from patchtrack.cli import main

PATCH_SUBJECT = re.compile(r"^\s*\[[^\]]*\b(?:PATCH|RFC)\b[^\]]*\]", re.IGNORECASE)


def author_email(raw: bytes) -> str:
    """The author as the report documents it — the in-body ``From:`` opening the body,
    else the header ``From:`` — read with the standard library only."""
    msg = message_from_bytes(raw, policy=policy.default)
    part = msg.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    first = body.lstrip("\n").split("\n", 1)[0]
    source = first[5:] if first.lower().startswith("from:") else str(msg.get("from", ""))
    addresses = [a for _, a in getaddresses([source]) if "@" in a]
    return addresses[0].lower() if addresses else ""


_PSL = PublicSuffixList()


def independent_counts(mails: list[bytes]) -> tuple[Counter[str], Counter[str]]:
    """Domain and address counts over the patch/cover mails, with the standard
    library only (and the Public Suffix List: domains by organisation)."""
    domains: Counter[str] = Counter()
    addresses: Counter[str] = Counter()
    for raw in mails:
        subject = str(message_from_bytes(raw, policy=policy.default).get("subject", ""))
        if not PATCH_SUBJECT.match(subject):
            continue
        email = author_email(raw)
        addresses[email] += 1
        domain = email.rpartition("@")[2]
        domains[_PSL.privatesuffix(domain) or domain] += 1
    return domains, addresses


def report_counts(report: patchtrack.Report) -> tuple[Counter[str], Counter[str]]:
    domains = Counter({c.label.removesuffix(" (personal)"): c.count for c in report.domains})
    addresses = Counter({c.label.rpartition("<")[2].rstrip(">"): c.count for c in report.contributors})
    return domains, addresses


def test_demo_report(tmp_path: Path, mails: list[bytes]) -> None:
    inbox = patchtrack.open_inbox(patchtrack.build_demo_inbox(tmp_path / "demo"))
    report = inbox.report(top=100, include_bots=True, merge_names=False)
    assert report_counts(report) == independent_counts(mails)
    text = report.to_text()
    assert "=?" not in text and "linux-gizmo mailing list update" in text
    assert "v2 revision of a series first seen on 2026-03-02: [PATCH v2 0/3] gizmo: add bus clock support" in text
    assert "Resend: [PATCH RESEND] gizmo: sysfs: use sysfs_emit() in show callbacks" in text
    assert "on the list: Acked-by Ingrid Halvorsen" in text
    assert "[previous v1: https://lore.kernel.org/linux-gizmo/20260302-gizmo-clocks-v1-0-4c1e2d5f7a9b@linux.acme-semi.com/]" in text
    assert "Link: https://lore.kernel.org/linux-gizmo/20260309-gizmo-clocks-v2-0-9e8d7c6b5a41@linux.acme-semi.com/" in text
    assert " 2 files changed, 34 insertions(+), 1 deletion(-)" in text


def test_empty_range_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = patchtrack.build_demo_inbox(tmp_path / "demo")
    assert main(["report", str(path), "--since", "2030-01-01"]) == 0
    out = capsys.readouterr().out
    assert "No patch or cover letter was posted in this range." in out and "(no patch mail in this range)" in out
    assert main(["report", str(path), "--format", "json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["contributors"]) == 3 and data["series"] and data["series"][0]["status"]


@pytest.mark.corpus
def test_kvm_ppc_range_counts_and_series(corpus_clones: dict[str, Path]) -> None:
    (repo,) = [p for name, p in corpus_clones.items() if name.startswith("kvm-ppc")]
    commits = git("rev-list", "HEAD", cwd=repo).split()
    start, end = commits[400][:9], commits[0][:9]
    report = patchtrack.open_inbox(repo).report(f"{start}..{end}", top=1000, include_bots=True, merge_names=False)
    blobs = [git("rev-parse", f"{c}:m", cwd=repo).strip() for c in commits[:400]]
    mails = [subprocess.run(["git", "cat-file", "blob", b], cwd=repo, capture_output=True, check=True).stdout for b in blobs]
    assert report_counts(report) == independent_counts(mails)
    # the series listed are those with a patch or cover among these mails, each once
    ids = {m["Message-ID"].strip().strip("<>") for m in (message_from_bytes(raw, policy=policy.default) for raw in mails) if m["Message-ID"]}
    for s in report.series:
        assert any(m.msgid in ids for m in ([s.cover] if s.cover else []) + [p.message for p in s.patches])
    text = report.to_text()
    assert report.series and "=?" not in text and text.count("===== ") == 2


def _mail(msgid: str, sender: str, subject: str, day: int) -> patchtrack.Message:
    raw = (
        f"From: {sender}\nSubject: {subject}\nDate: Mon, {day:02d} Mar 2026 10:00:00 +0000\n"
        f"Message-ID: <{msgid}>\n\nx\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-{msgid}\n+y\n"
    )
    return patchtrack.parse_message(raw.encode())


def test_mailmap_organisations_and_bots() -> None:
    mails = [
        _mail("a1@x", "Jane Doe <jane@old.example.net>", "[PATCH] a: one", 2),
        _mail("a2@x", "Jane Doe <jane@linux.corp.test>", "[PATCH] a: two", 3),
        _mail("a3@x", "J. Doe <jdoe@gmail.com>", "[PATCH] a: three", 4),
        _mail("b1@x", "Ravi <ravi@gmail.com>", "[PATCH] b: one", 5),
        _mail("c1@x", "kernel test robot <lkp@intel.com>", "[PATCH] c: robot fix", 6),
    ]
    mailmap = patchtrack.Mailmap.parse(
        "Jane Doe <jane@linux.corp.test> <jane@old.example.net>\nJane Doe <jane@linux.corp.test> J. Doe <jdoe@gmail.com>\n"
    )
    orgs = patchtrack.DomainMap.parse("corp.test  Corp Inc.\nold.example.net  Old Ltd  < 2026-01-01\n")
    report = patchtrack.build_report("t", mails, patchtrack.assemble(mails), mailmap=mailmap, domain_map=orgs)
    assert [(c.label, c.count) for c in report.contributors] == [
        ("Jane Doe <jane@linux.corp.test>", 3),
        ("Ravi <ravi@gmail.com>", 1),
    ]
    assert [(c.label, c.count) for c in report.domains] == [("Corp Inc.", 3), ("gmail.com (personal)", 1)]
    assert [(c.label, c.count) for c in report.bots] == [("kernel test robot <lkp@intel.com>", 1)]
    assert "Bots (kept out of the rankings above)" in report.to_text()
    with_bots = patchtrack.build_report("t", mails, patchtrack.assemble(mails), include_bots=True)
    assert with_bots.bots == () and any("lkp@intel.com" in c.label for c in with_bots.contributors)


def test_one_line_per_person_and_renderings(tmp_path: Path) -> None:
    mails = [
        _mail("k1@x", "Kautuk Consul <kconsul@linux.ibm.com>", "[PATCH] k: one", 2),
        _mail("k2@x", "Kautuk Consul <kconsul@linux.ibm.com>", "[PATCH] k: two", 3),
        _mail("k3@x", "Kautuk Consul <kconsul@linux.vnet.ibm.com>", "[PATCH] k: three", 4),
        _mail("r1@x", "René <r&d@lab.test>", "[PATCH] r: <script>", 4),
    ]
    report = patchtrack.build_report("lab", mails, patchtrack.assemble(mails))
    assert [(c.label, c.count) for c in report.contributors] == [
        ("Kautuk Consul <kconsul@linux.ibm.com>", 3),
        ("René <r&d@lab.test>", 1),
    ]
    assert report.per_day == (("2026-03-02", 1), ("2026-03-03", 1), ("2026-03-04", 2))
    html = report.to_html()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "&lt;script&gt;" in html
    assert html.count('class="bin"') == 3 and html.count('class="bar"') == len(report.domains)
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="patchtrack">') and "<script" not in fragment and "&lt;script&gt;" in fragment
    md = report.to_markdown()
    assert "| 3 | Kautuk Consul &lt;kconsul@linux.ibm.com&gt; |" in md and "## Patch list in this time period" in md
    assert "| 1 | René &lt;r&amp;d@lab.test&gt; |" in md and "r: &lt;script&gt;" in md  # mail text is escaped
    assert md.count("```") == 2 * len(report.series)
