"""One table of trailer keys (``patchtrack.trailers.TRAILER_KEYS``) and the readers
that agree with it: the commit-message parser (canonical spelling), the reply reader
and its pre-filter, ``links_of``, review counting, revision linking and upstream
tracking. Then the decisions where they used to disagree, on the real archives."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import git, git_env
from patchtrack import Followup, Person, Series
from patchtrack import series as series_module
from patchtrack.revisions import _ARCHIVE_URL
from patchtrack.trailers import (
    LINK_KEYS, MESSAGE_ID_KEYS, MSGID_HOSTS, REPLY_KEYS, REVIEW_KEYS, TRAILER_KEYS, find_reply_trailers, links_of,
    msgid_from_url, parse_trailers,
)
from patchtrack.upstream import Upstream
from patchtrack.vocab import TrailerRole

BOB = Person("Bob Reviewer", "bob@reviewer.dev")
VALUES = {  # a value each role's reply trailer is taken with
    TrailerRole.REVIEW: "Bob Reviewer <bob@reviewer.dev>",
    TrailerRole.PERSON: "Bob Reviewer <bob@reviewer.dev>",
    TrailerRole.CC: "stable@vger.kernel.org # 6.9+",
    TrailerRole.FIXES: '0123456789ab ("gizmo: probe")',
    TrailerRole.LINK: "https://lore.kernel.org/r/20260301.1234-1-dana@dev.example",
}


def test_the_key_sets_are_read_from_the_table() -> None:
    assert REVIEW_KEYS == {"Reviewed-by", "Acked-by", "Tested-by"}
    assert LINK_KEYS == {"Link", "Closes", "BugLink"}
    assert MESSAGE_ID_KEYS == {"Message-ID"}
    assert series_module.REVIEW_KEYS is REVIEW_KEYS
    for keys, role in ((REVIEW_KEYS, TrailerRole.REVIEW), (LINK_KEYS, TrailerRole.LINK),
                       (MESSAGE_ID_KEYS, TrailerRole.MESSAGE_ID)):
        assert keys == {k for k, r in TRAILER_KEYS.items() if r is role}


@pytest.mark.parametrize("key", sorted(TRAILER_KEYS))
def test_the_parser_spells_every_known_key_canonically(key: str) -> None:
    for written in (key.lower(), key.upper()):
        found = parse_trailers(f"gizmo: probe\n\nWhy.\n\nSigned-off-by: Dana <dana@dev.example>\n{written}: x y\n")
        assert [t.key for t in found] == ["Signed-off-by", key]


@pytest.mark.parametrize("key", sorted(k for k in TRAILER_KEYS if k in REPLY_KEYS or k.endswith("-by")))
def test_the_reply_reader_takes_every_reply_key(key: str) -> None:
    """Every key a reply may give passes the pre-filter and the reader, in any case."""
    value = VALUES[TRAILER_KEYS[key]]
    for written in (key, key.lower()):
        found = find_reply_trailers(f"> the patch\n\nLooks right.\n\n{written}: {value}\n")
        assert [t.key for t in found] == [key], written


@pytest.mark.parametrize("key", sorted(k for k in TRAILER_KEYS if k not in REPLY_KEYS and not k.endswith("-by")))
def test_the_reply_reader_leaves_other_keys(key: str) -> None:
    assert find_reply_trailers(f"Looks right.\n\n{key}: <20260301.1234-1-dana@dev.example>\n") == ()


@pytest.mark.parametrize("key", sorted(LINK_KEYS))
def test_every_link_key_is_a_link_in_a_reply_and_a_commit(key: str) -> None:
    url = VALUES[TrailerRole.LINK]
    in_reply = find_reply_trailers(f"Looks right.\n\n{key}: {url}\n")
    in_commit = parse_trailers(f"gizmo: probe\n\nWhy.\n\n{key}: {url}\nSigned-off-by: Dana <dana@dev.example>\n")
    for found in (in_reply, in_commit):
        assert [(link.url, link.msgid) for link in links_of(found)] == [(url, "20260301.1234-1-dana@dev.example")]


@pytest.mark.parametrize("key", sorted(REVIEW_KEYS))
def test_every_review_key_counts_as_review(key: str) -> None:
    (trailer,) = find_reply_trailers(f"{key}: {VALUES[TrailerRole.REVIEW]}\n")
    assert Followup(trailer, "r@x", BOB, None, "reply", False).is_review


@pytest.mark.parametrize("host", MSGID_HOSTS)
def test_revision_links_and_trailer_links_read_the_same_archives(host: str) -> None:
    url = f"https://{host}/r/20260301.1234-1-dana@dev.example"
    assert _ARCHIVE_URL.findall(f"v1: {url}") == [url]
    assert msgid_from_url(url) == "20260301.1234-1-dana@dev.example"
    assert _ARCHIVE_URL.findall("v1: https://lists.example.org/r/x@y") == []


def test_upstream_follows_every_link_and_message_id_key(tmp_path: Path) -> None:
    """A commit per key, each naming a mail: the upstream index finds every one."""
    repo = tmp_path / "upstream"
    git("init", "-q", "-b", "main", str(repo))
    keys = sorted(LINK_KEYS | MESSAGE_ID_KEYS)

    def commit(n: int, message: str) -> None:
        (repo / "f.c").write_text(f"int x = {n};\n")
        env = git_env("Dana Dev", "dana@dev.example", f"2026-03-0{n + 1}T10:00:00+00:00")
        for args in (("add", "f.c"), ("commit", "-q", "-m", message)):
            subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)

    commit(0, "base")  # a root commit is not indexed (no parent to diff against)
    for n, key in enumerate(keys, 1):
        msgid = f"{n}.{key.lower()}@dev.example"
        value = f"<{msgid}>" if key in MESSAGE_ID_KEYS else f"https://patch.msgid.link/{msgid}"
        commit(n, f"gizmo: step {n}\n\nWhy.\n\n{key}: {value}\nSigned-off-by: Dana Dev <dana@dev.example>")
    upstream = Upstream.index(repo)
    assert sorted(upstream.by_msgid) == sorted(f"{n}.{key.lower()}@dev.example" for n, key in enumerate(keys, 1))


# --- the decisions, on the real archives -------------------------------------------------

BUGLINKS = {"linux-pwm.vger.kernel.org": 2}
"""Mails of each corpus with a ``BugLink:`` trailer holding a URL (counted with ``git
interpret-trailers`` semantics: :func:`parse_trailers` agrees with git on every mail).
They had no ``links`` before the table: ``links_of`` read ``Link``/``Closes`` only,
while the reply reader took ``BugLink`` as a link. No other result changed: the
reply pre-filter, reply trailers and upstream keys read the same keys as before, and
no corpus mail has a ``BugLink`` to a mail archive."""


@pytest.mark.corpus
def test_a_buglink_is_a_link(corpus_name: str, corpus_messages: list) -> None:
    with_buglink = [m for m in corpus_messages
                    if any(t.key == "BugLink" and re.search(r"https?://", t.value) for t in m.trailers)]
    assert len(with_buglink) == BUGLINKS.get(corpus_name.removesuffix(".0"), 0)
    for m in with_buglink:
        urls = {link.url for link in m.links}
        assert all(url in urls for t in m.trailers if t.key == "BugLink" for url in re.findall(r"https?://\S+", t.value))


CONTENT_LINKS = {
    # hand-checked: the same work by the same author, retitled (a Fixes: line, a Link:
    # and a Cc: list in common say so); linked by ``content`` only while the trailer
    # lines other than ``…-by`` stay in the words compared
    "linux-pwm.vger.kernel.org": [
        ("e031db45-add0-4da7-97fa-dee95ee936ad@moroto.mountain", "917e3890-7895-4b1c-bcee-4eecb3b7fe09@moroto.mountain"),
    ],
    "linux-man.vger.kernel.org": [
        ("20230421202718.21831-1-alx@kernel.org", "20230330171310.12330-1-alx@kernel.org"),
    ],
    "linux-fpga.vger.kernel.org": [
        ("20190723221838.12024-3-suzuki.poulose@arm.com", "1560534863-15115-7-git-send-email-suzuki.poulose@arm.com"),
    ],
}


@pytest.mark.corpus
def test_trailer_lines_other_than_people_say_what_the_work_is(corpus_name: str, corpus_series: tuple) -> None:
    """Revision linking drops only the ``…-by`` lines from the words it compares (the
    old expression meant to drop ``Cc``/``Link``/``Fixes``/``Closes`` lines too but never
    matched the lower-cased text; making it match loses these three true links)."""
    expected = CONTENT_LINKS.get(corpus_name.removesuffix(".0"), [])
    by_mail: dict[str, Series] = {m.msgid: s for s in corpus_series for m in s.messages}
    for newer, older in expected:
        s = by_mail[newer]
        assert s.previous is not None and by_mail[s.previous.msgid] is by_mail[older], newer
        assert "content" in s.evidence
