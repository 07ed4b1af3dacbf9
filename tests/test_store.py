"""The store (patchtrack.store.Store) through what users touch: Archive.ingest,
Archive.sql, Archive.to_parquet and the CLI's ingest, sql and export — on small
built lists (no corpus).

Two lists, ``alpha`` and ``beta``, each a v2 inbox written mail by mail with
:class:`patchtrack.builder.V2Writer` (kept open, so a test can deliver more mail
later); a cross-posted mail is one copy per list with that list's ``List-Id`` and
footer (different blobs, one Message-ID, as on lore). Every view is checked against
what the library computes in memory without a store (``Archive.messages``,
``Archive.walk``, ``patchtrack.export.rows`` of ``Archive.series``), or against a
fresh store's ingest of the same archive.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from patchtrack import Archive, open_archive
from patchtrack.builder import V2Writer, mail_meta
from patchtrack.cli import main
from patchtrack.export import rows
from patchtrack.errors import RevisionError
from patchtrack.store import Store, StoreError
from stores import assert_same_views, snapshot

ROOT = Path(__file__).resolve().parent.parent
UTC = timezone.utc
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# --- the mail ------------------------------------------------------------------------


def mail(msgid: str, subject: str, *, minutes: int, parent: str | None = None, body: str | None = None,
         sender: str = "Ann Dev <ann@devs.test>", extra: Sequence[str] = ()) -> dict[str, Any]:
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=minutes))}",
        f"Message-ID: <{msgid}>",
        *extra,
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    if body is None:
        stem = msgid.split("@")[0]
        body = (f"Change {stem}.\n\nSigned-off-by: {sender}\n---\n"
                f"diff --git a/{stem}.c b/{stem}.c\n--- a/{stem}.c\n+++ b/{stem}.c\n@@ -1 +1,2 @@\n-old\n+new\n+more\n")
    return {"msgid": msgid, "headers": headers, "body": body, "minutes": minutes}


def copy(m: dict[str, Any], name: str) -> bytes:
    """The list ``name``'s copy: its List-Id, its footer."""
    headers = [*m["headers"], f"List-Id: <{name}.lists.test>"]
    return ("\n".join(headers) + "\n\n" + m["body"] + f"\n--\n{name} list footer\n").encode()


def reply(msgid: str, parent: dict[str, Any], minutes: int, tag: str, sender: str) -> dict[str, Any]:
    subject = "Re: " + parent["headers"][1].removeprefix("Subject: ")
    return mail(msgid, subject, minutes=minutes, parent=parent["msgid"], sender=sender,
                body=f"> Change\n\nLooks right.\n\n{tag}: {sender}\n")


ADDRESSED = ("To: Alpha List <alpha@lists.test>", "Cc: Rita Rev <rita@rev.test>, bob@other.test")
SHARED = mail("shared-1@devs.test", "[PATCH] gizmo: fix the widget", minutes=0, extra=ADDRESSED)
REVIEW_ON_BETA = reply("review-1@rev.test", SHARED, 30, "Reviewed-by", "Rita Rev <rita@rev.test>")
COVER = mail("knob-0@devs.test", "[PATCH 0/2] knob: two steps", minutes=40, body="Two steps.\n")
STEP1 = mail("knob-1@devs.test", "[PATCH 1/2] knob: first step", minutes=41, parent="knob-0@devs.test")
STEP2 = mail("knob-2@devs.test", "[PATCH 2/2] knob: second step", minutes=42, parent="knob-0@devs.test")
ACK_ON_ALPHA = reply("ack-1@rev.test", STEP1, 90, "Acked-by", "Bob Maint <bob@maint.test>")
V1_ON_BETA = mail("frob-v1@devs.test", "[PATCH] frob: add the knob", minutes=60)
ALPHA_ONLY = mail("alpha-1@devs.test", "[PATCH] alpha: only here", minutes=120)
QUOTED = mail("quoted-1@devs.test", '[PATCH] quote: "a, b" and \'c\'', minutes=150,
              sender="Zoë Quinn <zoe@devs.test>", extra=("Cc: Ann Dev <ann@devs.test>",))
RESENT = mail("twice@devs.test", "[PATCH] twice: the first post", minutes=200)
RESENT_AGAIN = mail("twice@devs.test", "[RESEND PATCH] twice: the first post", minutes=300)
V2_ON_ALPHA = mail("frob-v2@devs.test", "[PATCH v2] frob: add the knob", minutes=600)

ALPHA = [SHARED, COVER, STEP1, STEP2, ACK_ON_ALPHA, ALPHA_ONLY, QUOTED, RESENT, RESENT_AGAIN, V2_ON_ALPHA]
BETA = [SHARED, REVIEW_ON_BETA, COVER, STEP1, STEP2, V1_ON_BETA]
CROSS_POSTED = 4  # SHARED, COVER, STEP1, STEP2
"""ALPHA + BETA: a one-list resend (two mails with one Message-ID on alpha) but no
resend whose Message-ID is on both lists (see the known gaps at the end)."""

LATE = mail("late-1@devs.test", "[PATCH] late: new on beta", minutes=5000)
LATE_REVIEW = reply("late-review@rev.test", STEP2, 5010, "Reviewed-by", "Rita Rev <rita@rev.test>")


class Lists:
    """Two (or more) lists written mail by mail; ``add`` delivers more later."""

    def __init__(self, root: Path, content: dict[str, list[dict[str, Any]]]) -> None:
        self.root = root
        self.writers: dict[str, V2Writer] = {}
        for name, mails in content.items():
            self.writers[name] = V2Writer(root / name)
            for m in mails:
                self.add(name, m)

    def add(self, name: str, m: dict[str, Any], at: datetime | None = None) -> None:
        raw = copy(m, name)
        self.writers[name].add(raw, arrival=at or mail_meta(raw).arrival)

    @property
    def paths(self) -> dict[str, Path]:
        return {name: self.root / name for name in self.writers}

    def archive(self, store: Store | None = None, names: Iterable[str] | None = None) -> Archive:
        paths = self.paths
        return open_archive({n: paths[n] for n in (names or paths)}, cache=store, workers=1)

    def argv(self, names: Iterable[str] | None = None) -> list[str]:
        """INBOX --also … for the CLI."""
        first, *rest = [str(self.paths[n]) for n in (names or self.paths)]
        return [first, *(x for p in rest for x in ("--also", p)), "--workers", "1"]


@pytest.fixture(autouse=True)
def _close_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every store a test opened (the CLI's too) when it ends: a DuckDB file
    left open in this process is inherited by the parsing pools later tests fork."""
    opened: list[Store] = []
    init = Store.__init__

    def tracked(self: Store, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Store, "__init__", tracked)
    yield
    for store in opened:
        try:
            store.close()
        except Exception:  # noqa: BLE001 - closed already
            pass


@pytest.fixture
def lists(tmp_path: Path) -> Lists:
    return Lists(tmp_path / "lists", {"alpha": ALPHA, "beta": BETA})


# --- comparing ------------------------------------------------------------------------


def norm(value: Any) -> Any:
    """A value as both sides give it: dates as UTC, enums as their value, tuples as lists."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, (tuple, list)):
        return [norm(v) for v in value]
    return getattr(value, "value", value)


def table(found: Iterable[dict[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows as a sorted multiset of tuples of ``columns``."""
    return sorted((tuple(norm(r[c]) for c in columns) for r in found), key=repr)


def view(archive: Archive, name: str) -> list[dict[str, Any]]:
    return archive.sql(f"SELECT * FROM {name}", ingest=False).to_pylist()  # type: ignore[no-any-return]






MESSAGE_COLUMNS = (
    "oid", "list", "lists", "deliveries", "arrived", "msgid", "subject", "title", "date", "kind", "author_name",
    "author_email", "in_reply_to", "references", "list_id", "patch_id", "insertions", "deletions", "files",
    "problems",
)
"""The columns of the messages view compared with Archive.messages (``lists``
sorted by name in the view, by first arrival in ``Message.lists``)."""


def assert_views_are_in_memory(archive: Archive) -> None:
    """Every view of ``archive`` (ingested) equals what the library computes with no store."""
    memory = open_archive({name: source.path for name, source in archive.sources.items()}, workers=1)
    messages = list(memory.messages())
    walked = list(memory.walk())
    series = memory.series()
    assert messages and walked and series

    # messages: each distinct mail once, as Archive.messages gives it
    assert table(view(archive, "messages"), MESSAGE_COLUMNS) == table(({
        "oid": m.oid, "list": m.deliveries[0].list, "lists": sorted(m.lists), "deliveries": len(m.deliveries),
        "arrived": m.deliveries[0].time, "msgid": m.msgid, "subject": m.subject.raw, "title": m.subject.title,
        "date": m.date, "kind": m.kind, "author_name": m.author.name if m.author else None,
        "author_email": m.author.email if m.author else None, "in_reply_to": m.in_reply_to,
        "references": list(m.references), "list_id": m.list_id, "patch_id": m.patch_id,
        "insertions": m.diffstat.insertions if m.diffstat else 0,
        "deletions": m.diffstat.deletions if m.diffstat else 0,
        "files": len(m.diffstat.files) if m.diffstat else 0, "problems": list(m.problems),
    } for m in messages), MESSAGE_COLUMNS)

    # deliveries: one row per delivery the walk yields, naming the mail it is a copy of
    mail_of = {(d.list, d.commit): m for m in messages for d in m.deliveries}
    assert table(view(archive, "deliveries"), ("list", "epoch", "commit", "arrived", "oid", "mail", "msgid")) == table(
        ({"list": r.list, "epoch": r.epoch, "commit": r.commit, "arrived": r.time, "oid": r.oid,
          "mail": mail_of[r.list, r.commit].oid, "msgid": mail_of[r.list, r.commit].msgid} for r in walked),
        ("list", "epoch", "commit", "arrived", "oid", "mail", "msgid"),
    )

    # what each mail carries: trailers, files, addresses
    assert table(view(archive, "mail_trailers"), ("oid", "msgid", "pos", "key", "value", "name", "email")) == table(
        ({"oid": m.oid, "msgid": m.msgid, "pos": i, "key": t.key, "value": t.value,
          "name": t.person.name if t.person else None, "email": t.person.email if t.person else None}
         for m in messages for i, t in enumerate(m.trailers)),
        ("oid", "msgid", "pos", "key", "value", "name", "email"),
    )
    file_columns = ("oid", "msgid", "path", "old_path", "added", "removed", "binary", "status")
    assert table(view(archive, "files"), file_columns) == table(
        ({"oid": m.oid, "msgid": m.msgid, "path": f.path, "old_path": f.old_path, "added": f.added,
          "removed": f.removed, "binary": f.binary, "status": f.status}
         for m in messages if m.diffstat for f in m.diffstat.files), file_columns,
    )
    assert table(view(archive, "addresses"), ("oid", "field", "pos", "name", "email")) == table(
        ({"oid": m.oid, "field": field, "pos": i, "name": p.name, "email": p.email}
         for m in messages for field, people in (("to", m.to), ("cc", m.cc)) for i, p in enumerate(people)),
        ("oid", "field", "pos", "name", "email"),
    )

    # series, patches, trailers: export.rows of the archive's series, column for column
    for name, kind in (("series", "series"), ("patches", "patches"), ("trailers", "trailers")):
        expected = rows(series, kind)
        assert expected, kind
        columns = list(expected[0])
        assert table(view(archive, name), columns) == table(expected, columns), name
    columns = list(rows(series, "trailers")[0])
    reviews = view(archive, "reviews")
    assert reviews and set(table(reviews, columns)) <= set(table(view(archive, "trailers"), columns))
    # the reviews given on the list are exactly the patches' reviews (Patch.reviews)
    assert sorted((r["series_id"], r["index"], r["key"], r["email"]) for r in reviews if r["via"] != "patch") == sorted(
        (s.id, p.index, f.trailer.key, f.trailer.person.email if f.trailer.person else None)
        for s in series for p in s.patches for f in p.reviews
    )


def store_counts(store: Store, lists: Sequence[str]) -> dict[str, int]:
    """Rows of every table of the store file (read through a SELECT)."""
    names = [r["table_name"] for r in store.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'",
        lists,
    ).to_pylist()]
    assert "mail" in names and "delivery" in names
    return {t: store.sql(f"SELECT count(*) AS n FROM {t}", lists).to_pylist()[0]["n"] for t in names}


# --- ingest --------------------------------------------------------------------------


def test_views_are_the_archives_mail_deliveries_and_series(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    done = archive.ingest()
    distinct = len(ALPHA) + len(BETA) - CROSS_POSTED
    assert (done.deliveries, done.mails, done.parsed, done.joined) == (len(ALPHA) + len(BETA), distinct, distinct, 0)
    assert done.series == len(open_archive(lists.paths, workers=1).series()) and done.reread == ()
    assert_views_are_in_memory(archive)
    # one Message-ID twice on one list is two mails, never joined
    assert sorted(r["lists"] for r in view(archive, "messages") if r["msgid"] == RESENT["msgid"]) == [["alpha"]] * 2


def test_a_second_ingest_writes_nothing_and_new_mail_only_what_is_new(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    archive.ingest()
    before = snapshot(archive)
    again = archive.ingest()
    assert (again.deliveries, again.mails, again.parsed, again.joined, again.reread) == (0, 0, 0, 0, ())
    assert_same_views(snapshot(archive), before)

    # new mail on beta alone: a patch, a review of a patch stored before, and beta's
    # copy of a mail alpha carried hours ago (joined to alpha's, never a new mail)
    lists.add("beta", LATE)
    lists.add("beta", LATE_REVIEW)
    lists.add("beta", ALPHA_ONLY, at=T0 + timedelta(minutes=5020))
    assert archive.sql("SELECT count(*) AS n FROM deliveries").to_pylist() == [{"n": len(ALPHA) + len(BETA) + 3}]
    assert archive.ingest().deliveries == 0  # sql (ingest=True) took the new mail in already
    grown = snapshot(archive)
    assert grown["deliveries"].num_rows == before["deliveries"].num_rows + 3
    assert grown["messages"].num_rows == before["messages"].num_rows + 2
    joined = [r for r in view(archive, "messages") if r["msgid"] == ALPHA_ONLY["msgid"]]
    assert [(r["lists"], r["deliveries"], r["list_id"]) for r in joined] == [(["alpha", "beta"], 2, "alpha.lists.test")]
    (knob,) = [r for r in view(archive, "series") if r["title"] == "knob: two steps"]
    assert knob["reviews"] == 2  # the stored series were assembled again: STEP2's new review counts
    runs = {r["run"]: r["n"] for r in archive.sql(
        "SELECT run, count(*) AS n FROM deliveries GROUP BY run", ingest=False).to_pylist()}
    assert runs == {1: len(ALPHA) + len(BETA), 2: 3}  # the ingest that wrote nothing took no number

    fresh = lists.archive(Store(tmp_path / "fresh.duckdb"))
    fresh.ingest()
    assert_same_views(grown, snapshot(fresh))
    assert_views_are_in_memory(archive)


def test_the_next_ingest_writes_exactly_the_new_deliveries(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    archive.ingest()
    lists.add("beta", LATE)
    lists.add("alpha", LATE)  # cross-posted, on both
    lists.add("alpha", LATE_REVIEW)
    done = archive.ingest()
    assert (done.deliveries, done.mails, done.joined) == (3, 2, 0)
    assert done.parsed == 2  # one copy of the cross-posted mail parsed, as Archive.messages does
    assert_views_are_in_memory(archive)


@pytest.mark.parametrize("window", [1, 3])
def test_copies_split_across_windows_are_one_mail(lists: Lists, tmp_path: Path, window: int) -> None:
    whole = lists.archive(Store(tmp_path / "whole.duckdb"))
    assert whole.ingest().joined == 0
    split = lists.archive(Store(tmp_path / "split.duckdb"))
    done = split.ingest(window=window)
    assert done.deliveries == len(ALPHA) + len(BETA)
    assert done.mails == len(ALPHA) + len(BETA) - CROSS_POSTED
    if window == 1:  # every copy in a window of its own: each of beta's copies moved to alpha's mail
        assert done.joined == CROSS_POSTED
    assert_same_views(snapshot(split), snapshot(whole))
    shared = [r for r in view(split, "messages") if r["msgid"] == SHARED["msgid"]]
    assert [(r["lists"], r["deliveries"]) for r in shared] == [(["alpha", "beta"], 2)]


def test_purged_history_is_read_again_without_doubling(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    archive.ingest()
    assert lists.writers["beta"].purge(REVIEW_ON_BETA["msgid"]) == 1  # beta's history rewritten
    lists.add("beta", LATE)
    done = archive.ingest()
    assert done.reread == ("beta",)
    assert done.deliveries == len(BETA)  # beta whole again (the purged mail an empty commit now), alpha nothing
    per_list = {r["list"]: r["n"] for r in archive.sql(
        "SELECT list, count(*) AS n FROM deliveries GROUP BY list", ingest=False).to_pylist()}
    assert per_list == {"alpha": len(ALPHA), "beta": len(BETA)}
    assert REVIEW_ON_BETA["msgid"] not in {r["msgid"] for r in view(archive, "messages")}
    fresh = lists.archive(Store(tmp_path / "fresh.duckdb"))
    fresh.ingest()
    assert_same_views(snapshot(archive), snapshot(fresh))
    assert_views_are_in_memory(archive)


def test_a_list_pointed_at_another_archive_is_read_again(lists: Lists, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    lists.archive(store).ingest()
    other = Lists(tmp_path / "other", {"beta": [LATE, V1_ON_BETA, REVIEW_ON_BETA]})
    moved = open_archive({"alpha": lists.paths["alpha"], "beta": other.paths["beta"]}, cache=store, workers=1)
    done = moved.ingest()
    assert done.reread == ("beta",) and done.deliveries == 3
    deliveries = view(moved, "deliveries")
    assert sorted(r["commit"] for r in deliveries if r["list"] == "beta") == sorted(
        r.commit for r in moved.walk(lists=["beta"])
    )
    assert len(deliveries) == len(ALPHA) + 3
    assert_views_are_in_memory(moved)
    fresh = open_archive({"alpha": lists.paths["alpha"], "beta": other.paths["beta"]},
                         cache=Store(tmp_path / "fresh.duckdb"), workers=1)
    fresh.ingest()
    assert_same_views(snapshot(moved), snapshot(fresh))


def test_views_are_scoped_to_the_archives_lists(lists: Lists, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    both = lists.archive(store)
    both.ingest()
    before = snapshot(both)
    alpha = lists.archive(store, ["alpha"])
    done = alpha.ingest()
    assert done.deliveries == 0  # alpha's mail is stored: only alpha's own series are assembled
    alone = open_archive({"alpha": lists.paths["alpha"]}, workers=1)
    assert table(view(alpha, "deliveries"), ("list", "epoch", "commit", "oid")) == table(
        ({"list": r.list, "epoch": r.epoch, "commit": r.commit, "oid": r.oid} for r in alone.walk()),
        ("list", "epoch", "commit", "oid"),
    )
    assert table(view(alpha, "messages"), ("msgid", "subject", "lists", "deliveries")) == table(
        ({"msgid": m.msgid, "subject": m.subject.raw, "lists": list(m.lists), "deliveries": len(m.deliveries)}
         for m in alone.messages()), ("msgid", "subject", "lists", "deliveries"),
    )
    for name, kind in (("series", "series"), ("patches", "patches"), ("trailers", "trailers")):
        expected = rows(alone.series(), kind)
        assert table(view(alpha, name), list(expected[0])) == table(expected, list(expected[0])), name
    # the review given on beta is not alpha's: the series of alpha alone have no reviews from it
    assert "rita@rev.test" not in {r["email"] for r in view(alpha, "reviews")}
    assert "rita@rev.test" in {r["email"] for r in view(both, "reviews")}
    # and the archive of both lists still reads its own series
    assert_same_views(snapshot(both), before)


# --- sql ------------------------------------------------------------------------------

REFUSED = [
    "DROP TABLE mail",
    "INSERT INTO meta VALUES ('x', 'y')",
    "DELETE FROM delivery",
    "UPDATE delivery SET list = 'gamma'",
    "CREATE TABLE t AS SELECT 1",
    "SELECT 1; SELECT 2",
    "SELECT count(*) FROM messages; DROP TABLE mail",
    "COPY mail TO '{out}'",
    "ATTACH '{out}.db' AS other",
    "CHECKPOINT",
    "SET memory_limit = '1GB'",
]


def test_sql_runs_one_select_and_refuses_anything_else(lists: Lists, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.duckdb")
    archive = lists.archive(store)
    archive.ingest()
    counts, views = store_counts(store, archive.lists), snapshot(archive)
    out = tmp_path / "leak.csv"
    for query in REFUSED:
        with pytest.raises(StoreError, match="one SELECT statement") as refused:
            archive.sql(query.format(out=out), ingest=False)
        assert "\n" not in str(refused.value), query
    assert not out.exists() and not Path(f"{out}.db").exists()
    assert store_counts(store, archive.lists) == counts
    assert_same_views(snapshot(archive), views)
    # what is a SELECT: one statement (a trailing semicolon, a WITH), parameters
    assert archive.sql("SELECT count(*) AS n FROM deliveries;", ingest=False).to_pylist() == [
        {"n": len(ALPHA) + len(BETA)}
    ]
    assert archive.sql(
        "WITH b AS (SELECT * FROM deliveries WHERE list = ?) SELECT count(*) AS n FROM b", ["beta"], ingest=False
    ).to_pylist() == [{"n": len(BETA)}]
    # a query DuckDB refuses: one line, its reason
    for query, said in (("SELECT nosuch FROM messages", "nosuch"), ("SELEC 1", "syntax error"),
                        ("SELECT * FROM no_such_view", "no_such_view")):
        with pytest.raises(StoreError, match=said) as bad:
            archive.sql(query, ingest=False)
        assert str(bad.value).startswith("query: ") and "\n" not in str(bad.value), query
    assert store_counts(store, archive.lists) == counts


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def test_cli_sql_refuses_a_change_in_one_line(lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.duckdb"
    code, _, err = run(capsys, "ingest", *lists.argv(), "--cache", str(path))
    assert code == 0 and len(err) == 1 and err[0].startswith(f"patchtrack: ingested {len(ALPHA) + len(BETA)} deliveries")
    for query in ("DROP TABLE mail", "SELECT 1; DELETE FROM delivery", "SELECT nosuch FROM messages"):
        code, out, err = run(capsys, "sql", *lists.argv(), "--cache", str(path), query)
        assert (code, out, len(err)) == (2, "", 1), (query, err)
        assert err[0].startswith("patchtrack: error: query: "), err
    with Store(path) as store:
        assert store.sql("SELECT count(*) AS n FROM delivery", ["alpha", "beta"]).to_pylist() == [
            {"n": len(ALPHA) + len(BETA)}
        ]


def _cells(cell: str, kind: pa.DataType) -> Any:
    """A CSV cell read back as the column's type."""
    if pa.types.is_list(kind):
        return json.loads(cell)
    if cell == "" and not pa.types.is_string(kind):
        return None
    if pa.types.is_integer(kind):
        return int(cell)
    if pa.types.is_boolean(kind):
        return {"True": True, "False": False}[cell]
    if pa.types.is_timestamp(kind):
        return datetime.fromisoformat(cell)
    return cell


def test_cli_sql_formats_read_back_as_the_rows(lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.duckdb"
    query = "SELECT * FROM messages ORDER BY oid"
    base = ["sql", *lists.argv(), "--cache", str(path)]
    code, out, _ = run(capsys, *base, query, "--format", "csv")
    assert code == 0
    with Store(path) as store:
        expected = store.sql(query, ["alpha", "beta"])
    schema = expected.schema
    want = [{k: norm(v) for k, v in r.items()} for r in expected.to_pylist()]
    assert len(want) == len(ALPHA) + len(BETA) - CROSS_POSTED
    assert any("," in (r["subject"] or "") and '"' in r["subject"] for r in want)  # quoting is exercised
    assert any(r["change_id"] is None for r in want) and any(len(r["lists"]) == 2 for r in want)

    reader = csv.reader(io.StringIO(out))
    header = next(reader)
    assert header == schema.names
    got = [{n: norm(_cells(c, schema.field(n).type)) for n, c in zip(header, line)} for line in reader]
    # CSV has one empty cell for both "" and NULL text
    assert got == [{k: ("" if v is None and pa.types.is_string(schema.field(k).type) else v) for k, v in r.items()}
                   for r in want]

    code, default, _ = run(capsys, *base, "--no-ingest", query)
    assert code == 0 and default == out  # not a terminal: CSV

    code, out, _ = run(capsys, *base, "--no-ingest", query, "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [{k: norm(datetime.fromisoformat(v) if pa.types.is_timestamp(schema.field(k).type) and v else v)
             for k, v in r.items()} for r in lines] == want
    assert [list(r) for r in lines] == [schema.names] * len(lines)

    narrow = "SELECT oid, list, deliveries, msgid FROM messages ORDER BY oid"
    code, out, err = run(capsys, *base, "--no-ingest", narrow, "--format", "text")
    assert code == 0 and err == [f"patchtrack: {len(want)} rows"]
    head, *body = out.splitlines()
    assert head.split() == ["oid", "list", "deliveries", "msgid"]
    assert [line.split() for line in body] == [[r["oid"], r["list"], str(r["deliveries"]), r["msgid"]] for r in want]


# --- parquet --------------------------------------------------------------------------

PARTITION = re.compile(r"^(?P<view>\w+)/list=(?P<list>[\w-]+)/year=(?P<year>\d{4})/[^/]+\.parquet$")


def _read_back(directory: Path, name: str) -> pa.Table:
    return ds.dataset(directory / name, partitioning="hive", format="parquet").to_table()


def test_to_parquet_partitions_by_list_and_year(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    lists.add("alpha", LATE, at=datetime(2027, 1, 3, tzinfo=UTC))  # a second year on alpha
    out = tmp_path / "pq"
    written = archive.to_parquet(out)  # ingests first
    assert set(written) == {"messages", "deliveries", "mail_trailers", "files", "addresses", "series", "patches",
                            "trailers"}
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert files and all(PARTITION.match(f) for f in files), files
    assert {(m["view"], m["list"], m["year"]) for f in files if (m := PARTITION.match(f)) and m["view"] == "messages"} == {
        ("messages", "alpha", "2026"), ("messages", "alpha", "2027"), ("messages", "beta", "2026"),
    }
    for name, count in written.items():
        back = _read_back(out, name)
        assert back.num_rows == count == len(view(archive, name)), name
    messages = _read_back(out, "messages").to_pylist()
    stored = view(archive, "messages")
    assert sorted(r["oid"] for r in messages) == sorted(r["oid"] for r in stored)
    # each mail under the list and the year of its first delivery
    assert sorted((r["oid"], str(r["list"]), int(r["year"])) for r in messages) == sorted(
        (r["oid"], r["list"], r["arrived"].astimezone(UTC).year) for r in stored
    )
    # a second export replaces the first; an export of alpha alone leaves no beta behind
    assert archive.to_parquet(out) == written
    for name, count in written.items():
        assert _read_back(out, name).num_rows == count, name
    alpha = lists.archive(archive.cache, ["alpha"])
    alone = alpha.to_parquet(out)
    assert alone["deliveries"] == len(ALPHA) + 1 < written["deliveries"]
    assert not list(out.glob("*/list=beta"))
    assert _read_back(out, "messages").num_rows == alone["messages"] == len(view(alpha, "messages"))


def test_cli_export_counts_what_it_wrote(lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pq"
    argv = ["export", *lists.argv(), "--cache", str(tmp_path / "s.duckdb"), "--parquet", str(out)]
    for _ in range(2):  # the second export replaces the first
        code, stdout, err = run(capsys, *argv)
        assert code == 0 and stdout == "" and len(err) == 1, err
        said = re.fullmatch(r"patchtrack: wrote .*: (.*) rows", err[0])
        assert said, err
        counts = {name: int(n) for name, n in (part.rsplit(" ", 1) for part in said[1].split(", "))}
        assert counts["messages"] == len(ALPHA) + len(BETA) - CROSS_POSTED
        assert counts["deliveries"] == len(ALPHA) + len(BETA)
        assert {name: _read_back(out, name).num_rows for name in counts} == counts
    (tmp_path / "a-file").write_text("")
    code, _, err = run(capsys, *argv[:-1], str(tmp_path / "a-file"))
    assert code == 2 and len(err) == 1 and "not a folder" in err[0]


@pytest.mark.parametrize("verb", ["ingest", "sql", "export"])
def test_no_cache_is_refused_in_one_line(
    lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    extra = {"ingest": [], "sql": ["SELECT 1"], "export": ["--parquet", str(tmp_path / "pq")]}[verb]
    code, out, err = run(capsys, verb, *lists.argv(), "--no-cache", *extra)
    assert (code, out, len(err)) == (2, "", 1), err
    assert err[0].startswith("patchtrack: error: ") and "--no-cache" in err[0]
    assert not (tmp_path / "pq").exists()


# --- the file: fingerprints, another process -----------------------------------------

PARSED_TABLES = ("blob", "mail", "mail_trailer", "mail_file", "mail_address", "delivery", "ingested",
                 "assembled_series", "assembled_patch", "assembled_trailer")


def _counts(path: Path) -> dict[str, int]:
    db = duckdb.connect(str(path))
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in PARSED_TABLES}
    finally:
        db.close()


def _set_meta(path: Path, key: str, value: str) -> None:
    db = duckdb.connect(str(path))
    try:
        assert db.execute("UPDATE meta SET value = ? WHERE key = ? RETURNING key", [value, key]).fetchall() == [(key,)]
    finally:
        db.close()


def test_a_new_parser_fingerprint_empties_the_parsed_tables(lists: Lists, tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    store = Store(path)
    archive = lists.archive(store)
    archive.ingest()
    before = snapshot(archive)
    store.close()
    assert all(_counts(path).values())
    _set_meta(path, "fingerprint", "another parser")
    store = Store(path)
    store.close()
    assert _counts(path) == dict.fromkeys(PARSED_TABLES, 0)
    store = Store(path)
    archive = lists.archive(store)
    done = archive.ingest()
    assert done.deliveries == len(ALPHA) + len(BETA) and done.parsed == len(ALPHA) + len(BETA) - CROSS_POSTED
    after = snapshot(archive)
    for name in ("messages", "deliveries", "mail_trailers", "files", "addresses"):
        assert after[name].equals(before[name]), name
    store.close()


@pytest.mark.parametrize("key", ["fingerprint", "series_fingerprint"])
def test_after_a_fingerprint_change_the_next_ingest_rebuilds_every_view(lists: Lists, tmp_path: Path, key: str) -> None:
    path = tmp_path / "s.duckdb"
    store = Store(path)
    archive = lists.archive(store)
    first = archive.ingest()
    before = snapshot(archive)
    store.close()
    _set_meta(path, key, "another")
    store = Store(path)
    archive = lists.archive(store)
    again = archive.ingest()
    try:
        assert again.series == first.series
        assert_same_views(snapshot(archive), before)
    finally:
        store.close()


HOLDER = textwrap.dedent("""
    import os, sys, time
    from patchtrack.store import Store
    store = Store(sys.argv[1])
    print(os.getpid(), flush=True)
    time.sleep(120)
""")


def test_a_store_held_by_another_process_is_refused_in_one_line(
    lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI has no option for the store's wait: it waits its 10 s default."""
    path = tmp_path / "s.duckdb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None
        pid = int(holder.stdout.readline())
        start = time.monotonic()
        code, out, err = run(capsys, "ingest", *lists.argv(), "--cache", str(path))
        waited = time.monotonic() - start
        assert (code, out, len(err)) == (2, "", 1), err
        assert err[0].startswith(f"patchtrack: error: {path}: in use by another process"), err
        assert f"(PID {pid})" in err[0] and "waited 10 s" in err[0]
        assert waited >= 10
    finally:
        holder.kill()
        holder.wait()
    code, _, err = run(capsys, "ingest", *lists.argv(), "--cache", str(path))
    assert code == 0, err


# --- Dask -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Any:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dask_ingest_equals_a_serial_ingest(lists: Lists, tmp_path: Path, dask_client: Any) -> None:
    serial = lists.archive(Store(tmp_path / "serial.duckdb"))
    serial.ingest()
    parallel = lists.archive(Store(tmp_path / "dask.duckdb"))
    done = parallel.ingest(client=dask_client)
    assert done.deliveries == len(ALPHA) + len(BETA)
    assert done.joined == CROSS_POSTED  # every copy parsed on the cluster, then made one
    assert done.mails == len(ALPHA) + len(BETA) - CROSS_POSTED
    assert_same_views(snapshot(parallel), snapshot(serial))
    assert not (tmp_path / "dask.duckdb.staging").exists()  # the workers' files are removed
    lists.add("beta", LATE)
    assert parallel.ingest(client=dask_client).deliveries == 1
    serial.ingest()
    assert_same_views(snapshot(parallel), snapshot(serial))


# --- known gaps (strict: they fail today; fix the library, then drop the mark) --------


@pytest.fixture
def resent_lists(tmp_path: Path) -> Lists:
    """ALPHA + BETA with the first post of ``twice`` cross-posted to beta too."""
    return Lists(tmp_path / "resent", {"alpha": ALPHA, "beta": [*BETA, RESENT]})


def test_a_resend_of_a_cross_posted_mail_split_across_windows(resent_lists: Lists, tmp_path: Path) -> None:
    whole = resent_lists.archive(Store(tmp_path / "whole.duckdb"))
    whole.ingest()
    assert sorted(len(r["lists"]) for r in view(whole, "messages") if r["msgid"] == RESENT["msgid"]) == [1, 2]
    split = resent_lists.archive(Store(tmp_path / "split.duckdb"))
    split.ingest(window=1)
    assert sorted(len(r["lists"]) for r in view(split, "messages") if r["msgid"] == RESENT["msgid"]) == [1, 2]
    assert_same_views(snapshot(split), snapshot(whole))


def test_a_resend_of_a_cross_posted_mail_on_dask(resent_lists: Lists, tmp_path: Path, dask_client: Any) -> None:
    serial = resent_lists.archive(Store(tmp_path / "serial.duckdb"))
    serial.ingest()
    parallel = resent_lists.archive(Store(tmp_path / "dask.duckdb"))
    parallel.ingest(client=dask_client)
    assert sorted(len(r["lists"]) for r in view(parallel, "messages") if r["msgid"] == RESENT["msgid"]) == [1, 2]
    assert_same_views(snapshot(parallel), snapshot(serial))


def test_a_blob_delivered_again_after_an_ingest_is_not_doubled(lists: Lists, tmp_path: Path) -> None:
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    archive.ingest()
    lists.add("beta", V1_ON_BETA, at=T0 + timedelta(minutes=6000))  # the same bytes: the same blob, again
    lists.add("beta", LATE)
    done = archive.ingest()
    fresh = lists.archive(Store(tmp_path / "fresh.duckdb"))
    fresh.ingest()
    assert len(list(fresh.walk())) == len(ALPHA) + len(BETA) + 1  # the walk yields the blob once
    assert done.deliveries == 1
    assert_same_views(snapshot(archive), snapshot(fresh))
    assert snapshot(fresh)["redelivery"].num_rows == 1  # kept apart, by either ingest
    # a window holding the second delivery alone has the mail in it, as a walk of it yields
    window = {"since": T0 + timedelta(minutes=5999), "until": T0 + timedelta(minutes=6001)}
    memory = lists.archive()
    expected = memory.report(**window).to_dict()
    assert expected["counted_messages"] == 1
    assert archive.report(**window).to_dict() == expected == fresh.report(**window).to_dict()


def test_chain_positions_are_distances_from_the_tip_down_first_parents(lists: Lists) -> None:
    """What orders a window's commits that share their second: git's own first-parent
    order, counted from the tip; a commit not found there is no answer, not a guess."""
    source = lists.archive().sources["alpha"]
    (epoch, tip), = source.tips().items()
    repo = lists.paths["alpha"] / "git" / f"{epoch}.git"
    chain = subprocess.run(["git", "rev-list", "--first-parent", tip], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.split()
    picked = {chain[0], chain[2], chain[-1]}
    assert source.chain_positions(epoch, tip, picked) == {c: chain.index(c) for c in picked}
    assert source.chain_positions(epoch, chain[1], {chain[0]}) is None  # newer than the tip asked: not below it
    assert source.chain_positions(epoch, tip, {"0" * 40}) is None
    assert source.chain_positions(epoch, tip, set()) == {}


def test_a_bad_range_is_refused_before_any_ingest(lists: Lists, tmp_path: Path) -> None:
    """A report of a range resolves it first: a typo costs no ingest of the archive."""
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    with pytest.raises(RevisionError, match="deadbeef"):
        archive.report("deadbeef..")
    assert archive.cache.ingested() == {}  # type: ignore[union-attr]
    archive.ingest()
    assert archive.cache.ingested()  # type: ignore[union-attr]


def test_cli_sql_of_one_list_reads_that_list(lists: Lists, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "sql", *lists.argv(), "--cache", str(tmp_path / "s.duckdb"), "--list", "beta",
                         "SELECT DISTINCT list FROM deliveries", "--format", "jsonl")
    if code == 2:  # refusing --list in one line would do too
        assert len(err) == 1 and "--list" in err[0]
    else:
        assert code == 0 and [json.loads(line) for line in out.splitlines()] == [{"list": "beta"}]


EARLY = mail("early@devs.test", "[PATCH] early: on beta first", minutes=700)


def test_a_one_list_archive_reads_its_own_copies(lists: Lists, tmp_path: Path) -> None:
    """An archive of alpha alone, on a store that also ingested beta (which carried
    a mail first, so beta's copy was the one parsed), reads alpha's own copies: its
    blob ids and List-Id, in the views and in series(), as without a store."""
    lists.add("beta", EARLY, at=T0 + timedelta(minutes=700))
    lists.add("alpha", EARLY, at=T0 + timedelta(minutes=705))
    store = Store(tmp_path / "s.duckdb")
    lists.archive(store).ingest()
    alpha = lists.archive(store, ["alpha"])
    alpha.ingest()
    alone = open_archive({"alpha": lists.paths["alpha"]}, workers=1)
    columns = ("oid", "msgid", "list_id")
    assert table(view(alpha, "messages"), columns) == table(
        ({"oid": m.oid, "msgid": m.msgid, "list_id": m.list_id} for m in alone.messages()), columns
    )
    expected = rows(alone.series(), "series")
    assert table(view(alpha, "series"), list(expected[0])) == table(expected, list(expected[0]))
    assert table(rows(alpha.series(), "series"), list(expected[0])) == table(expected, list(expected[0]))


def test_the_year_partition_is_the_utc_year(tmp_path: Path) -> None:
    lists = Lists(tmp_path / "lists", {"alpha": [SHARED]})
    lists.add("alpha", LATE, at=datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    script = textwrap.dedent("""
        import sys
        from patchtrack import open_archive
        from patchtrack.store import Store
        archive = open_archive({"alpha": sys.argv[1]}, cache=Store(sys.argv[2]), workers=1)
        archive.to_parquet(sys.argv[3])
    """)
    env = {**os.environ, "TZ": "Pacific/Kiritimati",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "pq"
    subprocess.run([sys.executable, "-c", script, str(lists.paths["alpha"]), str(tmp_path / "s.duckdb"), str(out)],
                   check=True, env=env)
    assert sorted(p.name for p in (out / "messages" / "list=alpha").iterdir()) == ["year=2026"]


def test_the_reviews_view_is_the_reviews_given_on_the_list(tmp_path: Path) -> None:
    own = mail("own-1@devs.test", "[PATCH v2] own: carries its tags", minutes=0,
               body="Change.\n\nReviewed-by: Rita Rev <rita@rev.test>\nTested-by: Ann Dev <ann@devs.test>\n"
                    "Signed-off-by: Ann Dev <ann@devs.test>\n---\n"
                    "diff --git a/o.c b/o.c\n--- a/o.c\n+++ b/o.c\n@@ -1 +1 @@\n-old\n+new\n")
    given = reply("r-1@rev.test", own, 10, "Acked-by", "Bob Maint <bob@maint.test>")
    lists = Lists(tmp_path / "lists", {"alpha": [own, given]})
    archive = lists.archive(Store(tmp_path / "s.duckdb"))
    archive.ingest()
    (counted,) = archive.sql(
        "SELECT (SELECT count(*) FROM reviews) AS listed, (SELECT sum(reviews) FROM series) AS given",
        ingest=False,
    ).to_pylist()
    assert counted["given"] == 1  # Bob's Acked-by, given in a reply
    assert counted["listed"] == counted["given"]
    assert [r["via"] for r in view(archive, "reviews")] == ["reply"]
