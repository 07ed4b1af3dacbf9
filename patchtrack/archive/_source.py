"""One list's archive as stored: its layout, its epochs, its walks.

Three layouts are read:

* a **v2 inbox** directory (what lore.kernel.org serves), epochs ``git/0.git``,
  ``git/1.git``, … each a bare repository with one mail per commit;
* a **single v2 epoch**, such as a ``git clone --bare`` of a lore epoch or bundle;
* a **v1** ("ssoma") repository, where each mail lives at ``sha1(Message-ID)``.

:func:`open_source` works out which; :meth:`Source.walk` yields
:class:`~patchtrack.archive.RawMessage` records between two revisions or dates.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path

import attrs
import pygit2

from .._dates import DateLike, parse_bound
from ..errors import DamagedArchiveError, InboxError, RevisionError
from ..vocab import Layout, to_layout
from ._git import GIT_ERRORS, git_message
from ._revs import Position, damage_text, plan_after_tips, plan_range, resolve
from ._walk import Walk

__all__ = ["Epoch", "Source", "Cursor", "open_source", "bounds", "raise_damage"]

Cursor = Mapping[int, str] | Mapping[str, str]
"""A cursor from :meth:`Source.tips`: epoch number (or its string, as JSON gives it
back) → tip commit."""

_EPOCH_DIR = re.compile(r"^(\d+)\.git$")
_EPOCH_SUFFIX = re.compile(r"^(?P<name>.+?)\.(?P<n>\d+)\.git$")
_V1_FANOUT = re.compile(r"^[0-9a-f]{2}$")
_OPEN = pygit2.enums.RepositoryOpenFlag.NO_SEARCH
_TIP_REFS = ("refs/heads/master", "refs/heads/main", "HEAD")


@attrs.frozen
class Epoch:
    """One git repository of an archive. v1 archives have a single epoch, number 0."""

    number: int
    path: Path


class _OpenEpoch:
    """An epoch with its repository open, or ``repo`` ``None`` and ``error`` saying
    why it cannot be opened."""

    def __init__(self, epoch: Epoch, repo: pygit2.Repository | None, error: str | None = None) -> None:
        self.number = epoch.number
        self.epoch = epoch
        self.repo = repo
        self.error = error

    def read_tip(self) -> pygit2.Oid | None:
        """The tip commit, read afresh; ``None`` for an epoch with no commits yet.

        Raises :class:`DamagedArchiveError` (the reason, without the path) when the
        epoch cannot be opened, a tip ref cannot be read or names a commit that is
        missing or unreadable, or there is no tip ref but the object store holds
        objects: an epoch public-inbox created and has not written to yet has
        neither."""
        repo = self.repo
        if repo is None:
            raise DamagedArchiveError(self.error or "cannot be opened")
        for name in _TIP_REFS:
            try:
                target = repo.lookup_reference(name).resolve().target
            except KeyError:  # no such ref (or a symbolic ref to none)
                continue
            except GIT_ERRORS as exc:
                raise DamagedArchiveError(f"cannot read {name}: {git_message(exc)}") from None
            try:
                return repo[target].peel(pygit2.Commit).id
            except GIT_ERRORS as exc:
                what = "missing" if isinstance(exc, KeyError) else f"unreadable ({git_message(exc)})"
                raise DamagedArchiveError(f"{name} names commit {target}, which is {what}") from None
        if _holds_objects(self.epoch.path):
            raise DamagedArchiveError(
                f"no {_TIP_REFS[0]} (nor {', '.join(_TIP_REFS[1:])}), yet its object store holds "
                "objects: its refs are lost"
            )
        return None


class _View:
    """An epoch as one call sees it: its tip read once, or why it cannot be read
    (the :class:`~patchtrack.archive._revs.EpochRepo` that planning takes)."""

    __slots__ = ("number", "repo", "tip", "damage", "path")

    def __init__(self, epoch: _OpenEpoch) -> None:
        self.number = epoch.number
        self.path = str(epoch.epoch.path)
        self.tip: pygit2.Oid | None = None
        self.damage: str | None = None
        try:
            self.tip = epoch.read_tip()
        except DamagedArchiveError as exc:
            self.damage = str(exc)
        self.repo: pygit2.Repository = epoch.repo  # type: ignore[assignment]  # None only when damaged


def _holds_objects(path: Path) -> bool:
    """Whether the git directory ``path`` stores any object (a pack, or a loose
    object): listing its object folders, not reading them."""
    objects = path / "objects"
    try:
        with os.scandir(objects) as entries:
            for entry in entries:
                if entry.name == "pack":
                    with os.scandir(entry.path) as packs:
                        if any(p.name.endswith(".pack") for p in packs):
                            return True
                elif len(entry.name) == 2 and _V1_FANOUT.match(entry.name) and entry.is_dir():
                    with os.scandir(entry.path) as loose:
                        if any(True for _ in loose):
                            return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise DamagedArchiveError(f"cannot list its objects: {exc.strerror}") from None
    return False


class Source:
    """One list's archive opened for reading: a v2 inbox, one v2 epoch or v1. Made by
    :func:`open_source`; :class:`~patchtrack.Inbox` and the archives of many lists
    read through it.

    The object keeps its repositories open; tips are read when a walk starts, so one
    ``Source`` sees mail that arrives while it lives — in a v2 inbox, in epochs
    created since it was opened too."""

    def __init__(
        self, path: Path, layout: Layout, name: str, epochs: list[_OpenEpoch], *, epoch_dir: Path | None = None
    ) -> None:
        self.path = path
        self.layout = to_layout(layout)
        self.name = name
        self._epochs = epochs
        self._by_number = {e.number: e for e in epochs}
        self._epoch_dir = epoch_dir  # a v2 inbox's git/, where new epochs appear

    def _rescan(self) -> None:
        """Open the epochs a v2 inbox gained since (public-inbox starts
        ``git/N+1.git`` when an epoch is full), and try again those that could
        not be opened."""
        if self._epoch_dir is None:
            return
        try:
            found = _epoch_dirs(self._epoch_dir)
        except OSError as exc:
            raise DamagedArchiveError(f"{self._epoch_dir}: cannot list the epochs: {exc.strerror}") from None
        if len(found) == len(self._epochs) and all(e.repo is not None for e in self._epochs):
            return
        newest = found[-1][0] if found else -1
        for number, child in found:
            known = self._by_number.get(number)
            if known is None or known.repo is None:
                epoch = _open_epoch(number, child, opening=False)
                if epoch.repo is None and number == newest and _being_created(child):
                    self._by_number.pop(number, None)
                    continue  # public-inbox is creating it: the next call looks again
                self._by_number[number] = epoch
        self._epochs = [self._by_number[n] for n in sorted(self._by_number)]

    def _repo(self, number: int) -> pygit2.Repository:
        repo = self._by_number[number].repo
        if repo is None:  # a plan never walks an epoch that cannot be opened
            raise DamagedArchiveError(f"epoch {number} cannot be opened")
        return repo

    def _views(self) -> list[_View]:
        """Every epoch with its tip read once, for one call."""
        self._rescan()
        return [_View(e) for e in self._epochs]

    def __repr__(self) -> str:
        return f"<Source {self.name!r} {self.layout} epochs={[e.number for e in self._epochs]}>"

    @property
    def epochs(self) -> tuple[Epoch, ...]:
        """The archive's epochs in numeric order."""
        self._rescan()
        return tuple(e.epoch for e in self._epochs)

    def tips(self) -> dict[int, str]:
        """Current tip commit of every non-empty epoch: a cursor for :meth:`walk`.

        Save it (it is JSON-ready once keys become strings, and accepted back either
        way) and pass it as ``walk(after=...)`` to read only mail that arrived since.
        Raises :class:`DamagedArchiveError` when an epoch's tip cannot be read: a
        cursor without it would forget that epoch.
        """
        views = self._views()
        broken = [v for v in views if v.damage]
        if broken:
            raise DamagedArchiveError(f"{damage_text(broken)}: no cursor can be taken")
        return {v.number: str(v.tip) for v in views if v.tip is not None}

    def raw(self, oid: str) -> bytes:
        """The stored bytes of the mail whose blob id is ``oid`` (a :class:`Message`'s
        ``oid``), from whichever epoch holds it. Raises :class:`InboxError` when no
        epoch does, :class:`DamagedArchiveError` when it cannot be read."""
        unsearched = []
        for e in self._epochs:
            if e.repo is None:
                unsearched.append(e)
                continue
            try:
                obj = e.repo.get(oid)
                if isinstance(obj, pygit2.Blob):
                    return obj.data
            except ValueError:  # pygit2's InvalidSpecError, AmbiguousError too
                raise InboxError(f"{oid}: not a blob id") from None
            except GIT_ERRORS as exc:
                raise DamagedArchiveError(
                    f"{oid}: cannot be read in epoch {e.number} ({e.epoch.path}): {git_message(exc)}"
                ) from None
        if unsearched:
            where = ", ".join(f"{e.number} ({e.epoch.path}: {e.error})" for e in unsearched)
            raise DamagedArchiveError(f"{oid}: not found, and epochs {where} could not be searched")
        raise InboxError(f"{oid}: no mail with this blob id in {self.name}")

    def resolve(self, rev: str) -> Position:
        """Resolve a revision (``ed37f1cc5``, ``HEAD~2``) to its epoch and full commit id."""
        return resolve(self._views(), rev)

    def walk(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        dedupe: bool = True,
    ) -> Walk:
        """Iterate over the stored mails in ``range``, oldest first.

        ``range`` is git's syntax (``A..B``, ``A..``, ``..B``, ``X``, ``X^!``; ids may
        be abbreviated) read across epochs the public-inbox way; ``None`` is the whole
        archive. ``since``/``until`` keep commits whose arrival time is within the
        bounds (inclusive). ``after`` is a cursor from :meth:`tips`: walk only what
        arrived since. With ``dedupe`` (the default) a blob delivered again is yielded
        once and counted in ``stats.duplicates``.

        The range is resolved now: a bad revision or cursor raises
        :class:`RevisionError` here, before any mail is read. Damage never raises:
        a mail that cannot be read is counted in ``stats.unreadable`` and named in
        ``walk.unreadable``; an epoch that cannot be read, or history cut by a
        missing commit, is skipped and named in ``walk.damage``, the rest is read.
        """
        if after is not None and range:
            raise RevisionError("give either a range or a cursor (after=), not both")
        lo, hi = bounds(since, until)
        views = self._views()
        plan = plan_after_tips(views, after) if after is not None else plan_range(views, range)
        return Walk(
            self._repo,
            plan,
            layout=self.layout,
            since=lo,
            until=hi,
            dedupe=dedupe,
            paths={v.number: v.path for v in views},
            cursor=after is not None,
        )

    def chain_positions(self, epoch: int, tip: str, commits: Collection[str]) -> dict[str, int] | None:
        """Each of ``commits`` with its distance from ``tip`` down the first parents
        of epoch ``epoch`` (0: the tip itself), read back only as far as the oldest of
        them: the reverse of the order a walk gives them in, which commit times cannot
        give (half the commits of the corpora share their second with the one before).
        ``None`` when one of them is not found there or the history cannot be read."""
        wanted = {pygit2.Oid(hex=c) for c in commits}
        found: dict[str, int] = {}
        if not wanted:
            return found
        try:
            walker = self._repo(epoch).walk(tip, pygit2.enums.SortMode.NONE)
            walker.simplify_first_parent()
            for n, commit in enumerate(walker):
                if commit.id in wanted:
                    found[str(commit.id)] = n
                    if len(found) == len(wanted):
                        return found
        except GIT_ERRORS:
            return None
        except DamagedArchiveError:  # the epoch cannot be opened
            return None
        return None

    def grew_from(self, before: Mapping[int, str], tips: Mapping[int, str]) -> bool:
        """Whether the archive now is ``before`` with mail appended: every epoch
        kept, only the last one grown (by descendants of its old tip), new epochs
        after it — so walking what arrived since extends the old walk order."""
        if not before:
            return False
        last = max(before)
        for number, commit in before.items():
            now = tips.get(number)
            if now is None or (now != commit and number != last):
                return False
            if now != commit:
                repo = self._by_number[number].repo
                try:
                    if repo is None or not repo.descendant_of(now, commit):
                        return False
                except GIT_ERRORS:
                    return False
        return all(number > last for number in tips if number not in before)


def bounds(since: DateLike | None, until: DateLike | None) -> tuple[float | None, float | None]:
    """``since``/``until`` as POSIX seconds (inclusive), or :class:`RevisionError`."""
    try:
        lo = parse_bound(since, upper=False) if since is not None else None
        hi = parse_bound(until, upper=True) if until is not None else None
    except ValueError as exc:
        raise RevisionError(str(exc)) from None
    if lo is not None and hi is not None and lo > hi:
        raise RevisionError(f"reversed dates: since {since} is after until {until}")
    return lo, hi



def raise_damage(walk: Walk) -> None:
    if walk.damage:
        raise DamagedArchiveError("; ".join(map(str, walk.damage)))




def open_source(path: str | os.PathLike[str]) -> Source:
    try:
        return _open_path(path)
    except OSError as exc:  # the path itself, or a folder of it, cannot be read
        raise InboxError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _open_path(path: str | os.PathLike[str]) -> Source:
    root = Path(path).expanduser()
    if not root.exists():
        raise InboxError(f"{path}: no such file or directory")
    if not root.is_dir():
        raise InboxError(f"{path}: not a directory")
    with os.scandir(root):  # raises when the folder cannot be listed (permission denied)
        pass
    root = root.resolve()
    if root.name == "all.git" and (root.parent / "git").is_dir():
        root = root.parent
    if (root / "git").is_dir():
        return _open_v2(root)
    repo = _open_repo(root, str(path))
    try:
        tip = _OpenEpoch(Epoch(0, root), repo).read_tip()
    except DamagedArchiveError as exc:
        raise DamagedArchiveError(f"{path}: {exc}") from None
    if tip is None:
        raise InboxError(f"{path}: empty repository, not a public-inbox archive")
    layout = _sniff_layout(repo, str(path), tip)
    if layout is None:
        raise DamagedArchiveError(f"{path}: its newest commits cannot be read, so neither can its layout")
    if layout is Layout.V1:
        name = root.name.removesuffix(".git")
        return Source(root, Layout.V1, name, [_OpenEpoch(Epoch(0, root), repo)])
    number, name = 0, root.name.removesuffix(".git")
    if m := _EPOCH_SUFFIX.match(root.name):  # a clone named like lore's: list.vger.kernel.org.0.git
        number, name = int(m["n"]), m["name"]
    elif m := _EPOCH_DIR.match(root.name):  # git/N.git inside a v2 inbox
        number = int(m[1])
        if root.parent.name == "git":
            name = root.parent.parent.name
    return Source(root, Layout.V2, name, [_OpenEpoch(Epoch(number, root), repo)])


def _epoch_dirs(git: Path) -> list[tuple[int, Path]]:
    """A v2 inbox's epoch repositories (``git/0.git``, …) by number."""
    found = []
    for child in git.iterdir():
        m = _EPOCH_DIR.match(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), child))
    return sorted(found)


def _open_v2(root: Path) -> Source:
    found = _epoch_dirs(root / "git")
    if not found:
        raise InboxError(f"{root}: a v2 inbox needs epochs git/0.git, git/1.git, …; found none")
    epochs = [_open_epoch(number, child, opening=True) for number, child in found]
    if len(epochs) > 1 and epochs[-1].repo is None and _being_created(found[-1][1]):
        epochs.pop()
    return Source(root, Layout.V2, root.name, epochs, epoch_dir=root / "git")


def _being_created(path: Path) -> bool:
    """Whether an epoch folder that is no git repository yet is one public-inbox is
    creating (it holds no object), rather than a damaged one."""
    try:
        return not _holds_objects(path)
    except DamagedArchiveError:
        return False


def _open_epoch(number: int, path: Path, *, opening: bool) -> _OpenEpoch:
    """One epoch of a v2 inbox, opened and checked to hold v2 commits (if any yet):
    both when the inbox is opened and when an epoch appears later.

    An epoch that cannot be opened, or whose history cannot be read, is kept with
    its damage (the walks report it). One that holds something else than v2 mail
    makes the inbox no archive (:class:`InboxError`) when ``opening``; an epoch like
    that appearing later is kept as damaged."""
    try:
        repo = _open_repo(path, str(path))
    except (InboxError, DamagedArchiveError) as exc:
        return _OpenEpoch(Epoch(number, path), None, _reason(exc, path))
    epoch = _OpenEpoch(Epoch(number, path), repo)
    try:
        tip = epoch.read_tip()
    except DamagedArchiveError:
        return epoch  # the walks say so
    try:
        if tip is not None and _sniff_layout(repo, str(path), tip) is Layout.V1:
            raise InboxError(f"{path}: not a public-inbox v2 epoch")
    except InboxError as exc:
        if opening:
            raise
        return _OpenEpoch(Epoch(number, path), None, _reason(exc, path))
    return epoch


def _reason(exc: Exception, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def _open_repo(path: Path, shown: str) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(path), _OPEN)
    except GIT_ERRORS as exc:
        if _looks_like_git(path):
            raise DamagedArchiveError(f"{shown}: a git repository that cannot be opened: {git_message(exc)}") from None
        raise InboxError(f"{shown}: not a git repository, nor a public-inbox directory") from None


def _looks_like_git(path: Path) -> bool:
    """Whether ``path`` holds two of a bare repository's parts (``HEAD``,
    ``objects/``, ``refs/``, ``packed-refs``): a damaged repository, not some folder."""
    parts = ((path / "HEAD").is_file(), (path / "objects").is_dir(), (path / "refs").is_dir(), (path / "packed-refs").is_file())
    return sum(parts) >= 2


def _sniff_layout(repo: pygit2.Repository, shown: str, tip: pygit2.Oid, depth: int = 50) -> Layout | None:
    """``v2`` or ``v1``, from the first commits (newest first) that hold a mail;
    ``None`` when damage leaves no commit to tell by. Raises :class:`InboxError`
    for commits of another kind."""
    damaged = False
    try:
        walker = repo.walk(tip, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        for commit in itertools.islice(walker, depth):
            try:
                names = [entry.name for entry in commit.tree]
            except GIT_ERRORS:
                damaged = True  # a tree missing or corrupt: the walk names it; look further down
                continue
            if not names:
                continue  # a purge artefact: look further down
            if len(names) == 1 and names[0] in ("m", "d"):
                return Layout.V2
            if all(_V1_FANOUT.match(n or "") for n in names):
                return Layout.V1
            damaged = False
            break
    except GIT_ERRORS:
        return None  # history cut before any commit told
    if damaged:
        return None
    raise InboxError(
        f"{shown}: not a public-inbox archive (commits hold neither a single 'm'/'d' "
        "blob (v2) nor sha1 fan-out directories (v1))"
    )



def open_epochs(name: str, paths: Mapping[int, Path]) -> Source:
    """One list whose v2 epochs are separate repositories found apart (lore's clones
    ``<list>.0.git``, ``<list>.1.git``, …): epoch number → path, read as one v2 inbox.
    No folder is watched for new epochs. Its ``path`` is the lowest epoch's.

    An epoch that cannot be opened is kept with its damage, as in a v2 inbox; one
    holding something else than v2 mail raises :class:`InboxError`."""
    if not paths:
        raise InboxError(f"{name}: no epoch given")
    epochs = [_open_epoch(number, Path(paths[number]), opening=True) for number in sorted(paths)]
    return Source(epochs[0].epoch.path, Layout.V2, name, epochs)
