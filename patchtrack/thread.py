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

from collections.abc import Iterable, Iterator, Mapping

import attrs

from .message import Message

__all__ = ["Thread", "Threads", "thread", "arrival_key"]


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

    def ancestors(self, msgid: str) -> Iterator[str]:
        """The ids above ``msgid``, nearest first (ghosts included)."""
        seen = {msgid}
        current = self.parents.get(msgid)
        while current is not None and current not in seen:
            seen.add(current)
            yield current
            current = self.parents.get(current)

    def root(self, msgid: str) -> str:
        """The top of ``msgid``'s tree (``msgid`` itself for a root)."""
        top = msgid
        for top in self.ancestors(msgid):
            pass
        return top

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
        roots: dict[str, str] = {}  # memo: a long thread is climbed once, not per mail
        for msgid, message in self.messages.items():
            path = []
            current = msgid
            while current not in roots:
                path.append(current)
                parent = self.parents.get(current)
                if parent is None or parent in path:  # the top (``parents`` has no loops)
                    roots[current] = current
                    break
                current = parent
            top = roots[current]
            roots.update(dict.fromkeys(path, top))
            by_root.setdefault(top, []).append(message)
        trees = [Thread(root, tuple(sorted(found, key=arrival_key))) for root, found in by_root.items()]
        return tuple(sorted(trees, key=lambda t: arrival_key(t.messages[0])))


def _chain(message: Message) -> list[str]:
    """The ancestor ids a message names, oldest first, its parent last."""
    chain = [ref for ref in message.references if ref and ref != message.msgid]
    if message.in_reply_to and message.in_reply_to != message.msgid and message.in_reply_to not in chain:
        chain.append(message.in_reply_to)  # public-inbox: In-Reply-To after References
    return chain


def thread(messages: Iterable[Message]) -> Threads:
    """Build the reply forest of ``messages`` (any order; the result is the same).

    Messages without a Message-ID are left out: nothing can refer to them and they
    cannot be told apart from each other.
    """
    ordered = sorted((m for m in messages if m.msgid), key=arrival_key)
    kept: dict[str, Message] = {}
    duplicates: list[Message] = []
    for message in ordered:
        if message.msgid in kept:
            duplicates.append(message)
        else:
            kept[message.msgid] = message

    parents: dict[str, str] = {}

    def creates_loop(child: str, parent: str) -> bool:
        current: str | None = parent
        seen = set()
        while current is not None and current not in seen:
            if current == child:
                return True
            seen.add(current)
            current = parents.get(current)
        return False

    # A message's own headers decide its parent; ghosts take theirs from the first
    # (earliest) message that names them in a References chain.
    for msgid, message in kept.items():
        chain = _chain(message)
        if chain and not creates_loop(msgid, chain[-1]):
            parents[msgid] = chain[-1]
    for message in kept.values():
        chain = _chain(message)
        for above, below in zip(chain, chain[1:]):
            if below not in kept and below not in parents and not creates_loop(below, above):
                parents[below] = above

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
        duplicates=tuple(duplicates),
    )
