"""Messages → reply trees: the third stage of the pipeline.

Threading follows JWZ's algorithm as mail archives use it (public-inbox, mutt): a
message's parent is the last id of its ``References:`` (or its ``In-Reply-To:``);
the earlier ``References:`` ids chain the missing ancestors ("ghosts") so that a
reply whose parent never reached the archive still hangs in the right tree. The
result does not depend on the order messages arrive in: a patch delivered before its
cover letter lands under it all the same, and a Message-ID delivered twice is kept
once (the earliest copy) with the other copies listed as duplicates.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence

import attrs

from .message import Message

__all__ = [
    "Thread", "Threads", "thread", "arrival_key", "forest", "grow_forest",
    # what re-threading a stored archive after new mail reads (patchtrack._engine)
    "chain", "root_finder",
]


def arrival_key(message: Message) -> tuple[float, str, str]:
    """A total order on messages that does not depend on the input order: date (as
    an instant, whatever the zone), then Message-ID, then blob id (messages without a
    date sort first)."""
    return (message.date.timestamp() if message.date else float("-inf"), message.msgid, message.oid)


@attrs.frozen
class Thread:
    """One reply tree: its root id (a ghost when the root mail is not in the archive)
    and its messages in arrival order."""

    root: str
    messages: tuple[Message, ...]


@attrs.frozen
class Threads:
    """The reply forest of a set of messages.

    ``messages`` maps each Message-ID to its message (the earliest copy);
    ``parents`` maps an id (message or ghost) to its parent's id; ``duplicates`` are
    the later copies of a Message-ID seen more than once.
    """

    messages: Mapping[str, Message]
    parents: Mapping[str, str]
    children: Mapping[str, tuple[str, ...]]
    duplicates: tuple[Message, ...]
    _root: Callable[[str], str] | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def ancestors(self, msgid: str) -> Iterator[str]:
        """The ids above ``msgid``, nearest first (ghosts included)."""
        seen = {msgid}
        current = self.parents.get(msgid)
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.parents.get(current)

    def root(self, msgid: str) -> str:
        """The top of ``msgid``'s tree (``msgid`` itself for a root). Each tree is
        climbed once, whatever the number of calls."""
        if self._root is None:
            object.__setattr__(self, "_root", root_finder(self.parents))
        return self._root(msgid)  # type: ignore[misc]

    def descendants(self, msgid: str) -> Iterator[str]:
        """Every id below ``msgid``, depth first in arrival order."""
        stack = list(reversed(self.children.get(msgid, ())))
        seen = {msgid}
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            yield current
            stack.extend(reversed(self.children.get(current, ())))

    def threads(self) -> tuple[Thread, ...]:
        """Every tree with at least one message, ordered by its first message."""
        by_root: dict[str, list[Message]] = {}
        root = root_finder(self.parents)
        for msgid, message in self.messages.items():
            by_root.setdefault(root(msgid), []).append(message)
        trees = [Thread(root, tuple(sorted(found, key=arrival_key))) for root, found in by_root.items()]
        return tuple(sorted(trees, key=lambda t: arrival_key(t.messages[0])))


def root_finder(parents: Mapping[str, str]) -> Callable[[str], str]:
    """The top of any id's tree under ``parents`` (the id itself for a root), as a
    function that climbs each thread once: a long thread is not climbed per mail (a
    50,000-deep reply chain climbed per mail took minutes)."""
    roots: dict[str, str] = {}

    def root(msgid: str) -> str:
        top = roots.get(msgid)
        if top is not None:  # most calls: an id already climbed
            return top
        path: dict[str, None] = {}  # ordered, and a set: a loop is seen at once
        current = msgid
        while current not in roots:
            path[current] = None
            parent = parents.get(current)
            if parent is None or parent in path:  # the top (a loop, in a hand-made map, stops too)
                roots[current] = current
                break
            current = parent
        top = roots[current]
        roots.update(dict.fromkeys(path, top))
        return top

    return root


def chain(message: Message) -> tuple[str, ...]:
    """The ancestor ids a message names, oldest first, its parent last: what
    :func:`forest` reads of a message."""
    ids = [ref for ref in message.references if ref and ref != message.msgid]
    if message.in_reply_to and message.in_reply_to != message.msgid and message.in_reply_to not in ids:
        ids.append(message.in_reply_to)  # public-inbox: In-Reply-To after References
    return tuple(ids)


def thread(messages: Iterable[Message]) -> Threads:
    """Build the reply forest of ``messages`` (any order; the result is the same).

    Messages without a Message-ID are left out: nothing can refer to them and they
    cannot be told apart from each other.
    """
    ordered = sorted((m for m in messages if m.msgid), key=arrival_key)
    kept_at, parents, copies = forest([(m.msgid, chain(m)) for m in ordered])
    kept = {msgid: ordered[n] for msgid, n in kept_at.items()}
    children: dict[str, list[str]] = {}
    for msgid in kept:  # arrival order, so children lists are in arrival order
        parent = parents.get(msgid)
        if parent is not None:
            children.setdefault(parent, []).append(msgid)
    for ghost, parent in parents.items():
        if ghost not in kept:
            children.setdefault(parent, []).append(ghost)
    return Threads(
        messages=kept,
        parents=parents,
        children={k: tuple(v) for k, v in children.items()},
        duplicates=tuple(ordered[n] for n in copies),
    )


def forest(ordered: Sequence[tuple[str, Sequence[str]]]) -> tuple[dict[str, int], dict[str, str], list[int]]:
    """The linking step of :func:`thread`, on ``(Message-ID, chain)`` pairs already in
    :func:`arrival_key` order (what a stored assembly keeps of each message).

    Returns the position of the copy kept for each Message-ID (the earliest), the
    parent of every id (messages and ghosts), and the positions of later copies.
    """
    parents: dict[str, str] = {}
    kept = _link(parents, (), ordered, set())
    return kept, parents, [n for n, (msgid, _) in enumerate(ordered) if kept[msgid] != n]


def grow_forest(
    parents: dict[str, str], known: Container[str], entries: Sequence[tuple[str, Sequence[str]]]
) -> dict[str, int] | None:
    """Link ``entries`` — ``(Message-ID, chain)`` pairs in arrival order, arriving
    after the messages ``known``, whose links ``parents`` holds — into ``parents``
    (extended in place): what linking every message again would give. Returns the
    position in ``entries`` of the first copy of each Message-ID not ``known``.

    ``None``, ``parents`` untouched, when a new message's id is a ghost or a parent
    in ``parents``: something stored hangs below it, so linking all again could
    decide a stored link otherwise (a ghost that arrived takes its own headers'
    place; a parent's new link can close a loop the stored ones avoided).
    """
    above_some = set(parents.values())  # the ids that are some id's parent
    if any(msgid not in known and (msgid in parents or msgid in above_some) for msgid, _ in entries):
        return None
    return _link(parents, known, entries, above_some)


def _link(
    parents: dict[str, str],
    known: Container[str],
    entries: Sequence[tuple[str, Sequence[str]]],
    above_some: set[str],
) -> dict[str, int]:
    """The linking itself (see :func:`grow_forest`); ``above_some`` holds the values
    of ``parents`` and grows with it."""
    kept: dict[str, int] = {}
    for n, (msgid, _) in enumerate(entries):
        if msgid not in known and msgid not in kept:
            kept[msgid] = n

    # Each link hangs a top (an id without a parent) below ``parent``: it closes a
    # loop when ``parent``'s top is that id. The tops are found with path compression
    # (``up`` keeps an id above each id climbed, its top then), not by climbing from
    # ``parent`` per link: that cost a climb of the whole chain per mail when mails
    # arrive out of their chain's order (50,000 mails: minutes).
    up: dict[str, str] = {}

    def top(current: str) -> str:
        path = []
        while True:
            above = up.get(current)
            if above is None and (above := parents.get(current)) is None:
                break
            path.append(current)
            current = above
        for climbed in path:
            up[climbed] = current
        return current

    def creates_loop(child: str, parent: str) -> bool:
        if child not in above_some:  # nothing hangs below it yet: no path leads back to it
            return child == parent
        return top(parent) == child

    # A message's own headers decide its parent; ghosts take theirs from the first
    # (earliest) message that names them in a References chain.
    for msgid, n in kept.items():
        names = entries[n][1]
        if names and not creates_loop(msgid, names[-1]):
            parents[msgid] = names[-1]
            above_some.add(names[-1])
    for n in kept.values():
        names = entries[n][1]
        for above, below in zip(names, names[1:]):
            if below not in kept and below not in known and below not in parents and not creates_loop(below, above):
                parents[below] = above
                above_some.add(above)
    return kept
