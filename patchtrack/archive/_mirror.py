"""Many lists' archives found and opened together: a lore mirror, or inboxes named one by one.

:func:`discover` finds every inbox under a mirror root, :func:`survey` does the same and
also says what it stepped over, :func:`open_sources` opens what the archive of many
lists is given (a root, an inbox, several inboxes, or inboxes by name), and
:func:`list_name` is the rule that names a list.

Layouts found under a root:

* grokmirror's lore layout, ``<root>/<list>/git/<N>.git`` (with ``all.git`` beside
  ``git/``, or not): a v2 inbox directory per list;
* single-epoch clones named like lore's epochs, ``<list>.<N>.git``
  (``linux-pwm.vger.kernel.org.0.git``): clones of the same list with different ``N``
  are one list with those epochs (a *clone group*);
* a v1 repository (``<list>.git``);
* a v2 epoch ``<N>.git`` found alone (epochs alone that name the same list are grouped
  like clones).

The root itself and up to two levels of folders below it are searched (grokmirror may
nest, ``<root>/lore/<list>/git``); the search never descends into a git repository or
a v2 inbox, nor into hidden folders.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

import attrs
import pygit2

from ..errors import DamagedArchiveError, InboxError
from ._git import GIT_ERRORS
from ._source import Source, open_epochs, open_source

__all__ = ["Discovery", "Skipped", "discover", "survey", "open_sources", "list_name", "Where"]

Where = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]]
"""What an archive of many lists is opened from: see :func:`open_sources`."""

_DEPTH = 2
_CLONE = re.compile(r"^(?P<name>.+?)\.(?P<n>\d+)\.git$")
_EPOCH = re.compile(r"^(?P<n>\d+)\.git$")
_EPOCH_NOTE = re.compile(r"\s*\[epoch \d+\]\s*$")
_ADDRESS = re.compile(r"<?([^\s<>@]+)@[^\s<>@]+\.[^\s<>@]+>?")
_HOST = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*\.[a-z]{2,}$")
_LIST_ID = re.compile(rb"<([^<>\s]+)>")
_NO_NAME = frozenset({"", "git", "all"})
_GIT_DEFAULT = "Unnamed repository"
_NEWEST = 50  # commits looked at, newest first, for a mail with a List-Id


@attrs.frozen
class Skipped:
    """A folder under a mirror root that looked like an archive (a git repository, or
    a folder with ``git/``) and could not be opened as one."""

    path: Path
    reason: str


@attrs.frozen
class Discovery:
    """What :func:`survey` found under ``root``: the lists by name (sorted), and the
    folders stepped over with the reason. A folder that is no archive at all (no git
    repository in it) is passed over without a record."""

    root: Path
    sources: Mapping[str, Source]
    skipped: tuple[Skipped, ...] = ()


@attrs.frozen
class _Found:
    """One archive opened on its own, before lists are put together."""

    path: Path
    name: str
    source: Source
    epoch: int | None  # a v2 epoch alone (a clone): which one; None for a v2 inbox or v1


def discover(root: str | os.PathLike[str]) -> dict[str, Source]:
    """Every inbox under the mirror ``root``, by list name (sorted): see the module's
    description for the layouts, :func:`list_name` for the names.

    Folders that looked like archives but cannot be opened are stepped over (ask
    :func:`survey` which and why). Raises :class:`InboxError` when ``root`` cannot be
    read or holds no inbox, or when two different inboxes have the same name."""
    return dict(survey(root).sources)


def survey(root: str | os.PathLike[str]) -> Discovery:
    """:func:`discover`, also naming the folders stepped over (:attr:`Discovery.skipped`)."""
    base = _directory(root)
    found: list[_Found] = []
    skipped: list[Skipped] = []
    for candidate in _candidates(base, skipped):
        try:
            found.append(_open_found(candidate))
        except (InboxError, DamagedArchiveError) as exc:
            skipped.append(Skipped(candidate, str(exc).removeprefix(f"{candidate}: ")))
    if not found:
        raise InboxError(f"{root}: no public-inbox archive found under it")
    return Discovery(base, _lists(found), tuple(skipped))


def open_sources(where: Where) -> dict[str, Source]:
    """The lists an archive of many lists reads, by name (sorted).

    ``where`` is

    * a path: one inbox (a v2 inbox directory, its ``all.git``, a v2 epoch, a v1
      repository) — that one list — or else a mirror root, searched by :func:`discover`;
    * a sequence of paths, each one inbox; clones of one list (``<list>.0.git``,
      ``<list>.1.git``) are that list's epochs;
    * a mapping of list name → path of one inbox: the names given are used.

    Raises :class:`InboxError` for a path that is no archive, or when two different
    inboxes (or the same epoch twice) come under one name; :class:`DamagedArchiveError`
    as :func:`~patchtrack.archive.open_source` does."""
    if isinstance(where, (str, os.PathLike)):
        path = _directory(where)
        try:
            one = _is_archive(path)
        except OSError as exc:
            raise InboxError(f"{where}: cannot read: {exc.strerror or exc}") from None
        if one:
            return _lists([_open_found(path)])
        return discover(where)
    if isinstance(where, Mapping):
        named: dict[str, Source] = {}
        seen: dict[Path, str] = {}
        for name, given in where.items():
            if not isinstance(name, str) or not name:
                raise InboxError(f"{given}: a list name must be a non-empty string, not {name!r}")
            source = open_source(given)
            if source.path in seen:
                raise InboxError(f"{source.path}: given twice, as {seen[source.path]!r} and {name!r}")
            seen[source.path] = name
            source.name = name
            named[name] = source
        if not named:
            raise InboxError("no archive given")
        return dict(sorted(named.items()))
    paths = list(where)
    if not paths:
        raise InboxError("no archive given")
    return _lists([_open_found(_directory(p)) for p in paths])


def list_name(archive: Source | str | os.PathLike[str]) -> str:
    """The name of the list an archive (a :class:`Source`, or the path of one inbox)
    holds: lore's short name.

    From the folder first: a v2 inbox ``<root>/linux-pwm/git/0.git`` → ``linux-pwm``;
    a clone ``linux-pwm.vger.kernel.org.0.git`` → ``linux-pwm`` (``.<N>.git`` and the
    domain — everything from the first ``.`` — dropped); v1 ``foo.git`` → ``foo``; an
    epoch ``git/<N>.git`` → its inbox folder's name. Where the folder gives nothing
    (an epoch ``0.git`` alone, a folder named ``git`` or ``all``, only digits), from:

    1. the ``description`` file (of the inbox folder, then of its newest epoch): an
       address in it (``public inbox for linux-pwm@vger.kernel.org``) gives its local
       part, a single word or a first word that is a host name
       (``linux-pwm.vger.kernel.org archive``) its short form; git's default text and
       prose give nothing;
    2. the repository config: a ``[publicinbox "linux-pwm"]`` section's name;
    3. the ``List-Id`` of the newest mail (``<linux-pwm.vger.kernel.org>`` →
       ``linux-pwm``);

    and when none does, the folder's name as it is (``0``)."""
    source = archive if isinstance(archive, Source) else open_source(archive)
    return _name(source.path, source.layout, [e.path for e in source.epochs])


def _directory(where: str | os.PathLike[str]) -> Path:
    path = Path(where).expanduser()
    if not path.exists():
        raise InboxError(f"{where}: no such file or directory")
    if not path.is_dir():
        raise InboxError(f"{where}: not a directory")
    return path.resolve()


def _is_git(path: Path) -> bool:
    """Whether ``path`` looks like a bare git repository (two of ``HEAD``,
    ``objects/``, ``refs/``, ``packed-refs``) or a work tree's ``.git``: a search
    never descends into one."""
    parts = ((path / "HEAD").is_file(), (path / "objects").is_dir(), (path / "refs").is_dir(), (path / "packed-refs").is_file())
    return sum(parts) >= 2 or (path / ".git").exists()


def _is_archive(path: Path) -> bool:
    """Whether ``path`` is taken as one inbox (and opened, errors and all), not searched."""
    return _is_git(path) or (path / "git").is_dir()


def _candidates(root: Path, skipped: list[Skipped]) -> Iterator[Path]:
    """Every folder under ``root`` (``root`` too, then two levels down, by name) that
    looks like an archive; folders that cannot be listed are recorded in ``skipped``."""

    def visit(folder: Path, depth: int) -> Iterator[Path]:
        try:
            if _is_archive(folder):
                yield folder
                return
        except OSError as exc:  # a folder that cannot be looked into (permission denied)
            skipped.append(Skipped(folder, f"cannot read it: {exc.strerror or exc}"))
            return
        if depth == _DEPTH:
            return
        try:
            with os.scandir(folder) as entries:
                children = sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))
        except OSError as exc:
            skipped.append(Skipped(folder, f"cannot list it: {exc.strerror or exc}"))
            return
        for child in children:
            yield from visit(child, depth + 1)

    seen: set[Path] = set()
    for found in visit(root, 0):
        real = found.resolve()  # a symlink to an archive found elsewhere too is one archive
        if real not in seen:
            seen.add(real)
            yield found


def _open_found(path: Path) -> _Found:
    source = open_source(path)
    epoch = None
    if source.layout == "v2" and not (source.path / "git").is_dir():
        epoch = source.epochs[0].number  # one epoch on its own, as a clone is
    return _Found(source.path, _name(source.path, source.layout, [e.path for e in source.epochs]), source, epoch)


def _lists(found: Iterable[_Found]) -> dict[str, Source]:
    """The archives found, as lists: the same archive found twice once, epochs alone
    that name the same list grouped into one; two different archives under one name an
    :class:`InboxError`."""
    groups: dict[str, list[_Found]] = {}
    opened: set[Path] = set()
    for f in found:
        if f.path in opened:
            continue  # the same archive given twice (or by its all.git): one
        opened.add(f.path)
        groups.setdefault(f.name, []).append(f)
    lists: dict[str, Source] = {}
    for name in sorted(groups):
        group = groups[name]
        if len(group) == 1 and group[0].epoch is None:
            source = group[0].source
        else:
            by_number: dict[int, Path] = {}
            for f in group:
                if f.epoch is None:
                    other = next(g for g in group if g is not f)
                    raise InboxError(f"two archives of list {name!r}: {f.path} and {other.path}")
                if f.epoch in by_number:
                    raise InboxError(f"two archives of list {name!r}: {by_number[f.epoch]} and {f.path} (both epoch {f.epoch})")
                by_number[f.epoch] = f.path
            source = open_epochs(name, by_number)
        source.name = name
        lists[name] = source
    return lists


def _name(path: Path, layout: str, epochs: Sequence[Path]) -> str:
    folder = _folder_name(path, layout)
    if _useful(folder):
        return folder
    for description in (path / "description", *(e / "description" for e in reversed(epochs))):
        name = _from_description(description)
        if name:
            return name
    for epoch in reversed(epochs):
        name = _from_config(epoch / "config")
        if name:
            return name
    if layout == "v2":
        for epoch in reversed(epochs):
            name = _from_list_id(epoch)
            if name:
                return name
    return folder or path.name


def _short(name: str) -> str:
    """lore's short name: everything from the first ``.`` dropped."""
    return name.partition(".")[0]


def _useful(name: str) -> bool:
    return name not in _NO_NAME and not name.isdigit()


def _folder_name(path: Path, layout: str) -> str:
    if (path / "git").is_dir():
        return _short(path.name)  # a v2 inbox folder
    if m := _CLONE.match(path.name):
        return _short(m["name"])
    if _EPOCH.match(path.name):
        return _short(path.parent.parent.name) if path.parent.name == "git" else ""
    return _short(path.name.removesuffix(".git"))


def _from_description(file: Path) -> str:
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    line = _EPOCH_NOTE.sub("", text.strip().partition("\n")[0]).strip()
    if not line or line.startswith(_GIT_DEFAULT):
        return ""
    first = line.split()[0]
    if m := _ADDRESS.search(line):
        name = _short(m[1])
    elif len(line.split()) == 1:
        name = _short(line.removesuffix(".git"))
    elif _HOST.match(first):  # "linux-pwm.vger.kernel.org list archive"
        name = _short(first)
    else:
        return ""  # prose ("Linux PWM development") is no list name
    return name if _useful(name) else ""


def _from_config(file: Path) -> str:
    if not file.is_file():
        return ""
    try:
        config = pygit2.Config(str(file))  # this file only, not the user's or the system's
        for entry in config:
            section, _, rest = entry.name.partition(".")
            subsection, _, _key = rest.rpartition(".")
            if section.lower() == "publicinbox" and subsection and _useful(_short(subsection)):
                return _short(subsection)
    except GIT_ERRORS:
        return ""
    return ""


def _from_list_id(epoch: Path) -> str:
    """``List-Id`` of the newest mail (of the first few commits that hold one) in a v2 epoch."""
    try:
        repo = pygit2.Repository(str(epoch), pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        walker = repo.walk(repo.head.target, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        for count, commit in enumerate(walker):
            if count == _NEWEST:
                break
            entry = commit.tree["m"] if "m" in commit.tree else None
            if entry is None:
                continue
            data = repo[entry.id].read_raw()
            headers = BytesHeaderParser(policy=compat32).parsebytes(data.partition(b"\n\n")[0])
            value = headers.get("List-Id")
            if value is None:
                continue
            if m := _LIST_ID.search(str(value).encode("utf-8", "replace")):
                name = _short(m[1].decode("utf-8", "replace"))
                if _useful(name):
                    return name
    except GIT_ERRORS:
        return ""
    return ""
