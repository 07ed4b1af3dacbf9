"""Mail text cannot act on the reader: text output shows terminal control sequences
instead of obeying them, Markdown escapes what would become HTML, links, headings or
table cells (and fences code longer than any backtick run inside), HTML escapes
everything, and JSON says the same values with the dangerous characters escaped.

A crafted series (written here) and, when present, the campaign's hostile series
(``../shared/hostile/security``; ``PATCHTRACK_HOSTILE`` names another ``hostile``)
go through every command and format."""

from __future__ import annotations

import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import patchtrack
from conftest import ROOT, git_env
from patchtrack import _render
from patchtrack._escape import md_code_block, md_inline
from patchtrack.cli import main
from patchtrack.report import lore_link, safe_line, safe_lines

HOSTILE = Path(os.environ.get("PATCHTRACK_HOSTILE", ROOT.parent / "shared" / "hostile")) / "security"

ESC, BEL, CSI8, RLO = "\x1b", "\x07", "\x9b", "\u202e"
RETITLE = f"{ESC}]0;PWNED{BEL}{ESC}[2J{ESC}[31m"
# anything a terminal acts on (tab and newline aside, which the layout itself uses)
ACTS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _b64(text: str) -> str:
    import base64

    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _crafted() -> list[bytes]:
    """A cover letter and two patches and a review, with markup, links, fences and
    terminal escapes in names, subjects, Message-IDs, trailers and bodies."""
    diff = (
        "---\n diff --git a/drivers/<b>x.c b/drivers/<b>x.c\n"
        "diff --git a/drivers/<b>x.c b/drivers/<b>x.c\nindex 1111111..2222222 100644\n"
        "--- a/drivers/<b>x.c\n+++ b/drivers/<b>x.c\n@@ -1 +1 @@\n-old\n+new <script>alert(4)</script>\n"
    )
    mails = [
        (
            f'From: "Eve | <img src=x onerror=alert(2)>" <eve@evil.example>\n'
            f"Subject: [PATCH 0/2] # <script>alert(1)</script> [click](javascript:alert(3)) `x` *b* ~~s~~\n"
            f"Message-ID: <cover<script>@evil.example>\n"
            f"Date: Mon, 01 Jan 2024 10:00:00 +0000\n\n"
            f"Cover <script>alert(1)</script>\n````\n<img src=x onerror=alert(6)>\n````\n``````\n"
        ),
        (
            f"From: {_b64('Mallory ' + RETITLE)} <mal@evil.example>\n"
            f"Subject: {_b64('[PATCH 1/2] one ' + RETITLE + CSI8 + '2J ' + RLO + 'gnp.exe')}\n"
            f"Message-ID: <p1\"onerror=alert(8)@evil.example>\n"
            f"In-Reply-To: <cover<script>@evil.example>\n"
            f"Date: Mon, 01 Jan 2024 10:00:01 +0000\n\n"
            f"Body {RETITLE}\n```\n</pre><script>alert(7)</script>\n```\n\n"
            f"Fixes: 123456789abc (\"<script>alert(1)</script>\")\n"
            f"Signed-off-by: Mallory <mal@evil.example>\n{diff}"
        ),
        (
            f"From: {_b64('Nl' + chr(13) + chr(10) + 'Bcc: victim@example.org')} <nl@evil.example>\n"
            f"Subject: {_b64('[PATCH 2/2] two' + chr(10) + 'X-Injected: header' + chr(13) + chr(10) + 'body')}\n"
            f"Message-ID: <p2|x]@evil.example>\n"
            f"In-Reply-To: <cover<script>@evil.example>\n"
            f"Date: Mon, 01 Jan 2024 10:00:02 +0000\n\n"
            f"Two\n\nSigned-off-by: Nl <nl@evil.example>\n{diff}"
        ),
        (
            f'From: "<script>alert(1)</script>" <rev@evil.example>\n'
            f"Subject: Re: [PATCH 1/2] one\n"
            f"Message-ID: <rev@evil.example>\n"
            f"In-Reply-To: <p1\"onerror=alert(8)@evil.example>\n"
            f"Date: Mon, 01 Jan 2024 11:00:00 +0000\n\n"
            f"Reviewed-by: \"<script>alert(1)</script>\" <rev@evil.example>\n"
        ),
    ]
    return [m.encode() for m in mails]


@pytest.fixture(scope="module", params=["crafted", "hostile"])
def inbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "hostile":
        if not HOSTILE.is_dir():
            pytest.skip(f"no hostile series in {HOSTILE}")
        return patchtrack.build_inbox(HOSTILE, tmp / "evil")
    return patchtrack.build_inbox(_crafted(), tmp / "evil")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("up")
    env = git_env("U", "u@example.org", "2024-01-02T00:00:00+00:00")
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    (repo / "f").write_text("x\n")
    subprocess.run(["git", "add", "f"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "base"], cwd=repo, check=True, env=env)
    return repo


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    code = main([*argv, "--no-cache"] if argv[0] != "demo" else list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


TEXT_COMMANDS = [
    ("report", "--format", "text"),
    ("series", "--format", "text"),
    ("messages", "--format", "text"),
    ("track", "--format", "text"),
]


@pytest.mark.parametrize("command", TEXT_COMMANDS, ids=lambda c: c[0])
def test_text_output_shows_control_sequences_instead_of_obeying_them(capsys, command, inbox: Path, upstream: Path) -> None:  # type: ignore[no-untyped-def]
    extra = ["--upstream", str(upstream)] if command[0] == "track" else []
    out, err = _run(capsys, command[0], str(inbox), *command[1:], *extra)
    assert out and not ACTS.search(out) and not ACTS.search(err)
    assert "\u241b" in out  # ESC, shown as its picture
    # a subject's encoded line break does not start a line of its own
    assert not re.search(r"^(X-Injected|Bcc):", out, re.MULTILINE)


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
@pytest.mark.parametrize("command", ["messages", "series"])
def test_json_output_is_the_same_values_with_controls_escaped(capsys, command: str, fmt: str, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = _run(capsys, command, str(inbox), "--format", fmt)
    assert not ACTS.search(out)
    rows = json.loads(out) if fmt == "json" else [json.loads(line) for line in out.splitlines()]
    subjects = [r["subject"]["raw"] for r in rows] if command == "messages" else [
        p["subject"] for r in rows for p in r["patches"]
    ]
    if command == "messages":
        parsed = [m.subject.raw for m in patchtrack.open_inbox(inbox, workers=1).messages()]
    else:
        parsed = [p.message.subject.raw for s in patchtrack.open_inbox(inbox, workers=1).series() for p in s.patches]
    assert subjects == parsed and any(ESC in s for s in subjects)  # nothing lost


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_html_report_escapes_everything(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = _run(capsys, "report", str(inbox), "--format", "html")
    tags = _tags(out)
    assert {t for t, _ in tags} <= {
        "html", "head", "meta", "title", "style", "body", "div", "section", "h1", "h2", "p", "b", "span", "code",
        "svg", "g", "line", "text", "rect", "table", "tr", "th", "td", "pre", "a",
    }
    assert not any(name.startswith("on") or "javascript:" in (value or "") for _, attrs in tags for name, value in attrs)
    # links lead only to lore or within the page (the mail's text makes none of its own)
    hrefs = [value or "" for _, attrs in tags for name, value in attrs if name == "href"]
    assert hrefs and all(h.startswith(("https://lore.kernel.org/", "#pt-")) for h in hrefs), hrefs
    assert not ACTS.search(out)


def _rendered(markdown: str) -> str:
    cmarkgfm = pytest.importorskip("cmarkgfm")
    # UNSAFE: raw HTML passed through, as the laxest renderer would
    return str(cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE))


def test_markdown_report_renders_no_mail_markup(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    out, _ = _run(capsys, "report", str(inbox), "--format", "markdown")
    assert not ACTS.search(out)
    report = patchtrack.open_inbox(inbox, workers=1).report()
    html = _rendered(out)
    tags = _tags(html)
    assert {t for t, _ in tags} <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "pre", "code", "a"}
    hrefs = [value or "" for t, attrs in tags if t == "a" for name, value in attrs if name == "href"]
    assert all(h.startswith(("https://lore.kernel.org/", "mailto:")) for h in hrefs), hrefs
    assert not any(name != "href" and t == "a" for t, attrs in tags for name, _ in attrs)
    # the structure is the report's: no heading, cell, item or code block more or less
    assert [t for t, _ in tags].count("h1") == 1 and [t for t, _ in tags].count("h2") == 4 + bool(report.bots)
    rows = len(report.domains) + len(report.contributors) + len(report.bots)
    assert [t for t, _ in tags].count("tr") == rows + 2 + bool(report.bots)
    assert [t for t, _ in tags].count("td") == 2 * rows
    assert [t for t, _ in tags].count("li") == len(report.series)
    assert [t for t, _ in tags].count("pre") == len(report.series)
    # each commit-message block comes out whole: its text, fences and all, is the code
    codes = re.findall(r"<pre><code>(.*?)</code></pre>", html, re.DOTALL)
    from html import unescape

    assert [unescape(c) for c in codes] == [safe_lines(b) + "\n" for b in _render.blocks(report)]


def test_markdown_without_a_renderer() -> None:
    assert md_inline("# <img src=x onerror=a()> [x](javascript:y) a|b `c` *d* _e_ ~f~ & \\") == (
        "\\# &lt;img src=x onerror=a()&gt; \\[x\\](javascript:y) a\\|b \\`c\\` \\*d\\* \\_e\\_ \\~f\\~ &amp; \\\\"
    )
    assert md_inline("line\nbreak\x1b[2J") == "line\u240abreak\u241b\\[2J"
    # our links are autolinks; a lookalike made of other characters is text
    link = lore_link("l", 'a_b"<x>@y')
    assert link == "https://lore.kernel.org/l/a_b%22%3Cx%3E@y/"
    assert md_inline(f"see {link} and https://x/<img>") == f"see <{link}> and <https://x/>&lt;img&gt;"
    assert md_code_block(["a", "``` x", "`````"]) == "``````\na\n``` x\n`````\n``````"
    assert md_code_block(["plain `x` ``y``"]) == "```\nplain `x` ``y``\n```"


def test_safe_line() -> None:
    assert safe_line("plain\ttext é ∑") == "plain\ttext é ∑"
    assert safe_line(f"a{RETITLE}b") == "a\u241b]0;PWNED\u2407\u241b[2J\u241b[31mb"
    assert safe_line(f"x{CSI}y{RLO}z\u2066\x7f\n\r\x00\ud800") == "x\ufffdy\ufffdz\ufffd\u2421\u240a\u240d\u2400\ufffd"
    assert safe_lines(["a", "b\nc", "\x1b"]) == "a\nb\u240ac\n\u241b"
    assert safe_lines(["a", "b"]) == "a\nb"


CSI = CSI8


def test_demo_output_is_safe(capsys) -> None:  # type: ignore[no-untyped-def]
    out, err = _run(capsys, "demo")
    assert out and not ACTS.search(out + err)
