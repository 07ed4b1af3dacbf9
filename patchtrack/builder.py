"""Writing public-inbox archives from mail files — for tests, fixtures and the demo.

:class:`V2Writer` writes the v2 layout the way public-inbox's importer does: epochs
``git/N.git`` with linear history, one commit per mail holding blob ``m`` (``d`` for
a removal), the author taken from ``From:``/``Date:``, the committer time taken from
the first ``Received:`` header (arrival), and the decoded subject as the message.
It can roll over to a new epoch, deliver a mail twice, remove one and purge one
(rewriting history as ``public-inbox-purge`` does). :class:`V1Writer` writes the
legacy ssoma layout. :func:`build_inbox` drives either from a folder of mails.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

import attrs
import pygit2

from ._dates import mail_date
from .errors import InboxError, PatchtrackError
from .mbox import read_mails
from .vocab import Layout

__all__ = [
    "BuildError", "V2Writer", "V1Writer", "build_inbox", "read_mail_folder", "v1_path", "MailMeta", "mail_meta",
]

_BLOB = pygit2.enums.FileMode.BLOB
_TREE = pygit2.enums.FileMode.TREE
_COMMITTER = ("patchtrack builder", "builder@patchtrack.invalid")


class BuildError(PatchtrackError, ValueError):
    """What the builder was given cannot make an archive: no mail, a destination
    that is a file, options that do not go together."""


@attrs.frozen
class MailMeta:
    """What the importer reads from a mail's headers to write its commit."""

    msgid: str
    name: str
    """The author's name (a bare address's local part), ``""`` when ``From:`` has no
    address (a bounce's ``From: <>``)."""
    email: str
    """The author's address, ``""`` when ``From:`` has none."""
    date: datetime
    arrival: datetime
    subject: str


def mail_meta(raw: bytes) -> MailMeta:
    """Read the headers the importer needs; tolerant of missing or broken ones."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    msgid = _header(headers, "message-id").strip().strip("<>").strip()
    name, email = "", ""
    try:
        addresses = headers["from"].addresses if headers["from"] is not None else ()
        if addresses:
            name, email = addresses[0].display_name, addresses[0].addr_spec
    except (AttributeError, IndexError, ValueError, TypeError):
        pass
    date = mail_date(_header(headers, "date").strip())
    received = _header(headers, "received")  # the first (the newest hop): the arrival
    arrival = mail_date(received.rpartition(";")[2].strip()) if received else None
    epoch0 = datetime.fromtimestamp(0, timezone.utc)
    subject = " ".join(_header(headers, "subject").split())
    # Angle brackets and line breaks dropped as public-inbox's importer drops them (git
    # refuses them in an ident: ``"'A U Thor <u@example.com>' via foo" <foo@…>``); an
    # empty address stays empty, as it writes it (``From: <>``: " <>").
    name, email = (" ".join(_unraw(x).translate(_NO_ANGLES).split()) for x in (name, email))
    name = name or email.partition("@")[0]  # its names() gives a bare address's local part
    subject = _unraw(subject)
    return MailMeta(
        msgid=msgid,
        name=name,
        email=email,
        date=date or arrival or epoch0,
        arrival=arrival or date or epoch0,
        subject=subject,
    )


def _unraw(text: str) -> str:
    """Text read from raw 8-bit header bytes (``git format-patch`` writes a cover
    letter's ``From:`` that way): the parser keeps such bytes as surrogates; read them
    as UTF-8, else Latin-1."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def v1_path(msgid: str) -> str:
    """Where v1 (ssoma) stores a mail: sha1 of the Message-ID (no ``<>``), split 2/38."""
    digest = hashlib.sha1(msgid.strip().strip("<>").strip().encode()).hexdigest()
    return f"{digest[:2]}/{digest[2:]}"


class V2Writer:
    """Write a v2 inbox at ``path``, epoch after epoch.

    ``epoch_size`` rolls over to a new epoch (a new root commit in ``git/N+1.git``)
    once the current one holds that many commits; :meth:`new_epoch` does it by hand.
    ``all.git`` is kept with alternates to every epoch, as public-inbox does.
    """

    def __init__(self, path: str | os.PathLike[str], *, epoch_size: int | None = None) -> None:
        self.path = Path(path)
        _fresh_directory(self.path, empty=False)
        if (self.path / "git").exists():
            raise InboxError(f"{self.path}: already holds an inbox")
        self.epoch_size = epoch_size
        self._repos: list[pygit2.Repository] = []
        self._sizes: list[int] = []  # commits per epoch
        self._blobs: dict[str, set[pygit2.Oid]] = {}
        self.new_epoch()

    @property
    def epoch(self) -> int:
        """Number of the epoch being written."""
        return len(self._repos) - 1

    def new_epoch(self) -> int:
        """Start epoch N+1: the next commit is a new root in ``git/N+1.git``."""
        number = len(self._repos)
        repo = pygit2.init_repository(
            str(self.path / "git" / f"{number}.git"), bare=True, initial_head="master"
        )
        self._repos.append(repo)
        self._sizes.append(0)
        all_git = pygit2.init_repository(str(self.path / "all.git"), bare=True, initial_head="master")
        alternates = Path(all_git.path) / "objects" / "info" / "alternates"
        alternates.parent.mkdir(parents=True, exist_ok=True)
        alternates.write_text(
            "".join(f"../../git/{n}.git/objects\n" for n in range(len(self._repos)))
        )
        return number

    def add(self, raw: bytes, *, arrival: datetime | None = None) -> str:
        """Deliver ``raw`` (again, if it was delivered before): a commit holding ``m``."""
        meta = mail_meta(raw)
        self._roll()
        repo = self._repos[-1]
        blob = repo.create_blob(raw)
        self._blobs.setdefault(meta.msgid, set()).add(blob)
        return self._commit(repo, "m", blob, meta, arrival)

    def remove(self, raw: bytes, *, arrival: datetime | None = None) -> str:
        """Remove ``raw`` (``public-inbox-learn rm``): a commit holding it as ``d``."""
        meta = mail_meta(raw)
        self._roll()
        repo = self._repos[-1]
        return self._commit(repo, "d", repo.create_blob(raw), meta, arrival)

    def purge(self, msgid: str) -> int:
        """Erase every delivery of ``msgid`` from history, as ``public-inbox-purge`` does.

        Each commit that held it becomes an empty-tree commit ``purged <msgid>``, and
        every later commit of its epoch is rewritten, so old commit ids stop being
        ancestors of the tips. Returns how many commits were purged.
        """
        target = self._blobs.pop(msgid.strip().strip("<>"), set())
        purged = 0
        for repo in self._repos:
            tip = _tip(repo)
            if tip is None:
                continue
            commits = list(repo.walk(tip, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE))
            if not any(_blob_of(c) in target for c in commits):
                continue
            empty = repo.TreeBuilder().write()
            parent: list[pygit2.Oid] = []
            for commit in commits:
                tree, message = commit.tree_id, commit.message
                if _blob_of(commit) in target:
                    tree, message, purged = empty, f"purged <{msgid}>\n", purged + 1
                author, committer = _raw_idents(commit)  # a bounce's " <>" is no pygit2.Signature
                parent = [_write_commit(repo, tree, parent, author, committer, message)]
            repo.references.create("refs/heads/master", parent[0], force=True)
        return purged

    def _roll(self) -> None:
        if self.epoch_size and self._sizes[-1] >= self.epoch_size:
            self.new_epoch()
        self._sizes[-1] += 1

    @staticmethod
    def _commit(
        repo: pygit2.Repository, name: str, blob: pygit2.Oid, meta: MailMeta, arrival: datetime | None
    ) -> str:
        builder = repo.TreeBuilder()
        builder.insert(name, blob, _BLOB)
        return _append_commit(repo, builder.write(), meta, arrival)


class V1Writer:
    """Write a v1 (ssoma) inbox: one bare repository, one tree of every mail."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _fresh_directory(self.path, empty=True)
        self.repo = pygit2.init_repository(str(self.path), bare=True, initial_head="master")

    def add(self, raw: bytes, *, arrival: datetime | None = None) -> str:
        """Store ``raw`` at ``v1_path(Message-ID)``."""
        meta = mail_meta(raw)
        return self._change(v1_path(meta.msgid), self.repo.create_blob(raw), meta, arrival)

    def remove(self, raw: bytes, *, arrival: datetime | None = None) -> str:
        """Delete the mail's path, as a v1 removal does."""
        meta = mail_meta(raw)
        return self._change(v1_path(meta.msgid), None, meta, arrival)

    def _change(
        self, path: str, blob: pygit2.Oid | None, meta: MailMeta, arrival: datetime | None
    ) -> str:
        repo = self.repo
        parent = _tip(repo)
        root = repo[parent].tree if parent is not None else None
        fan, leaf = path.split("/")
        found = root[fan] if root is not None and fan in root else None
        sub = found if isinstance(found, pygit2.Tree) else None
        sub_builder = repo.TreeBuilder(sub) if sub is not None else repo.TreeBuilder()
        if blob is None:
            if sub is None or leaf not in sub:
                raise InboxError(f"<{meta.msgid}>: not in the inbox, cannot remove it")
            sub_builder.remove(leaf)
        else:
            sub_builder.insert(leaf, blob, _BLOB)
        root_builder = repo.TreeBuilder(root) if root is not None else repo.TreeBuilder()
        if len(sub_builder):
            root_builder.insert(fan, sub_builder.write(), _TREE)
        else:
            root_builder.remove(fan)
        return _append_commit(repo, root_builder.write(), meta, arrival)


def _fresh_directory(path: Path, *, empty: bool) -> None:
    """Refuse a destination that is a file (or, with ``empty``, a non-empty directory)."""
    if path.exists() and not path.is_dir():
        raise BuildError(f"{path}: exists and is not a directory")
    if empty and path.exists() and any(path.iterdir()):
        raise InboxError(f"{path}: not empty")


def read_mail_folder(folder: str | os.PathLike[str]) -> list[bytes]:
    """The mails of a mailbox — a folder of mail files (``*.eml``, ``*.patch``…, by
    name), a maildir, an mbox file (see :func:`patchtrack.mbox.read_mails`) — in order.
    Raises :class:`~patchtrack.mbox.MboxError` for a path that is none of them."""
    return list(read_mails(folder))


def build_inbox(
    mails: str | os.PathLike[str] | Iterable[bytes],
    dest: str | os.PathLike[str],
    *,
    layout: str = Layout.V2,
    epoch_size: int | None = None,
    duplicate: Iterable[str] = (),
    remove: Iterable[str] = (),
    purge: Iterable[str] = (),
) -> Path:
    """Build an archive at ``dest`` from ``mails``: a mailbox (a folder of mail files or a
    maildir, in file-name order, an mbox file: see :func:`read_mail_folder`), or bytes.

    Mails arrive in the order given. Message-IDs in ``duplicate`` are delivered a
    second time right after the first; those in ``remove`` get a removal commit after
    all mails (as a later ``public-inbox-learn rm``); those in ``purge`` are then
    erased from history (v2 only). Returns ``dest``.
    """
    if layout not in tuple(Layout):
        raise BuildError(f"layout must be 'v1' or 'v2', not {layout!r}")
    if epoch_size is not None and (not isinstance(epoch_size, int) or epoch_size < 1):
        raise BuildError(f"epoch_size must be a whole number of at least 1, not {epoch_size!r}")
    duplicate, remove, purge = ({_bare(m) for m in ids} for ids in (duplicate, remove, purge))
    if layout == Layout.V1 and (purge or epoch_size):
        raise BuildError("purge and epochs exist only in the v2 layout")
    _fresh_directory(Path(dest), empty=False)
    raws = read_mail_folder(mails) if isinstance(mails, (str, os.PathLike)) else list(mails)
    if not raws:
        where = f"{mails}: " if isinstance(mails, (str, os.PathLike)) else ""
        raise BuildError(f"{where}no mail to build an archive from (an mbox, a maildir, or files *.eml, *.patch…)")
    named = duplicate | remove | purge
    # each mail's headers are parsed again to write its commit: here only when asked to
    msgids = [mail_meta(raw).msgid if named else "" for raw in raws]
    by_msgid = dict(zip(msgids, raws))
    for msgid in named:
        if msgid not in by_msgid:
            raise InboxError(f"<{msgid}>: no such Message-ID among the mails")
    writer: V1Writer | V2Writer = V1Writer(dest) if layout == Layout.V1 else V2Writer(dest, epoch_size=epoch_size)
    for msgid, raw in zip(msgids, raws):
        writer.add(raw)
        if msgid in duplicate:
            writer.add(raw)
    for msgid in sorted(remove):
        writer.remove(by_msgid[msgid])
    for msgid in sorted(purge):
        assert isinstance(writer, V2Writer)
        writer.purge(msgid)
    return Path(dest)


def _bare(msgid: str) -> str:
    return msgid.strip().strip("<>").strip()


def _header(headers: object, name: str) -> str:
    try:
        value = headers[name]  # type: ignore[index]
    except (IndexError, ValueError, TypeError):
        return ""
    return "" if value is None else str(value)


_NO_ANGLES = str.maketrans("", "", "<>")


def _ident(name: str, email: str, when: datetime) -> bytes:
    """A commit's author or committer line after the keyword: ``name <email> time zone``."""
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    seconds = max(0, int(when.timestamp()))  # git's times are unsigned; public-inbox clamps them too
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{name} <{email}> {seconds} {zone}".encode("utf-8", "replace")


def _raw_idents(commit: pygit2.Commit) -> tuple[bytes, bytes]:
    """A commit's author and committer lines (after the keyword), as stored."""
    found = {}
    for line in commit.read_raw().split(b"\n\n", 1)[0].split(b"\n"):
        word, _, rest = line.partition(b" ")
        if word in (b"author", b"committer"):
            found[word] = rest
    return found[b"author"], found[b"committer"]


def _write_commit(
    repo: pygit2.Repository, tree: pygit2.Oid, parents: list[pygit2.Oid], author: bytes, committer: bytes, message: str
) -> pygit2.Oid:
    """A commit object written as git writes it. libgit2 refuses an empty name or
    address in a signature, which public-inbox's importer writes for a bounce
    (``From: <>``) or a mail without ``From:``: ``author  <> 1704067200 +0000``."""
    head = [b"tree " + str(tree).encode()] + [b"parent " + str(p).encode() for p in parents]
    head += [b"author " + author, b"committer " + committer]
    return repo.odb.write(pygit2.enums.ObjectType.COMMIT, b"\n".join(head) + b"\n\n" + message.encode("utf-8", "replace"))


def _append_commit(
    repo: pygit2.Repository, tree: pygit2.Oid, meta: MailMeta, arrival: datetime | None
) -> str:
    """Commit ``tree`` on top of master as public-inbox does: author from the mail,
    committer time = arrival, the decoded subject as the message."""
    parent = _tip(repo)
    oid = _write_commit(
        repo,
        tree,
        [parent] if parent is not None else [],
        _ident(meta.name, meta.email, meta.date),
        _ident(*_COMMITTER, arrival or meta.arrival),
        meta.subject + "\n",
    )
    repo.references.create("refs/heads/master", oid, force=True)
    return str(oid)


def _tip(repo: pygit2.Repository) -> pygit2.Oid | None:
    try:
        target = repo.references["refs/heads/master"].target
    except KeyError:
        return None
    return target if isinstance(target, pygit2.Oid) else None  # a symbolic ref names no commit


def _blob_of(commit: pygit2.Commit) -> pygit2.Oid | None:
    tree = commit.tree
    return tree[0].id if len(tree) == 1 else None
