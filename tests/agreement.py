"""Field-by-field agreement of ``parse_message`` with git's tools on real patch mails.

Used by ``test_corpus_message.py`` (which asserts the rates) and runnable by hand to
print the table and examples behind ``docs/message.md``::

    python tests/agreement.py /tmp/pwm.git [more archives...]
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from patchtrack import Message, parse_message

FIELDS = ("author_name", "author_email", "subject", "commit_message", "numstat", "trailers", "patch_id")
_RENAME = re.compile(r"^(?P<pre>.*?)\{(?P<old>.*?) => (?P<new>.*?)\}(?P<post>.*)$")


def stripspace(text: str) -> str:
    """git stripspace: trailing blanks off, blank runs squeezed, ends trimmed."""
    out: list[str] = []
    blank = False
    for line in text.split("\n"):
        line = line.rstrip()
        if not line:
            blank = bool(out)
            continue
        if blank:
            out.append("")
            blank = False
        out.append(line)
    return "\n".join(out) + "\n" if out else ""


def _numstat_path(path: str) -> str:
    m = _RENAME.match(path)
    if m:
        return (m["pre"] + m["new"] + m["post"]).replace("//", "/")
    if " => " in path:
        return path.split(" => ", 1)[1]
    return path


def git_numstat(text: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in text.splitlines():
        added, removed, path = line.split("\t", 2)
        rows.append((added, removed, _numstat_path(path)))
    return rows


def our_numstat(msg: Message) -> list[tuple[str, str, str]]:
    if msg.diffstat is None:
        return []
    return [
        ("-", "-", f.path) if f.binary else (str(f.added), str(f.removed), f.path)
        for f in msg.diffstat.files
    ]


def _squash(text: str) -> str:
    return " ".join(text.split())


def _trailer_lines(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        key, sep, value = line.partition(":")
        out.append(f"{key.strip().lower()}:{_squash(value)}" if sep else _squash(line))
    return out


COMPARE: dict[str, Callable[[Message, dict[str, Any]], tuple[Any, Any]]] = {
    "author_name": lambda m, g: (_squash(m.author.name) if m.author else "", _squash(g["author"])),
    "author_email": lambda m, g: ((m.author.email if m.author else ""), g["email"].lower()),
    "subject": lambda m, g: (
        (m.commit_message or m.subject.title + "\n").split("\n", 1)[0],
        _squash(g["subject"]),
    ),
    "commit_message": lambda m, g: (m.commit_message or "", stripspace(f"{g['subject']}\n\n{g['message']}")),
    "numstat": lambda m, g: (our_numstat(m), git_numstat(g["numstat"] or "")),
    "trailers": lambda m, g: (
        _trailer_lines([" ".join(t.raw.split()) for t in m.trailers]),
        _trailer_lines(g["trailers"]),
    ),
    "patch_id": lambda m, g: (m.patch_id, g["patch_id"]),
}


def applicable(field: str, git: dict[str, Any]) -> bool:
    """Whether git gave an answer for this field (a rejected patch has no numstat)."""
    if git.get("mailinfo_failed"):
        return False
    if field == "numstat":
        return git["numstat"] is not None and bool(git["numstat"].strip())
    if field == "patch_id":
        return git["patch_id"] is not None
    return True


def agreement(mails: list[tuple[str, bytes]], oracle: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per field: how many mails git answered, how many we agree on, examples of the rest."""
    result = {f: {"checked": 0, "agree": 0, "examples": []} for f in FIELDS}
    for oid, data in mails:
        git = oracle[oid]
        msg = parse_message(data)
        for field in FIELDS:
            if not applicable(field, git):
                continue
            ours, theirs = COMPARE[field](msg, git)
            row = result[field]
            row["checked"] += 1
            if ours == theirs:
                row["agree"] += 1
            elif len(row["examples"]) < 400:
                row["examples"].append((oid, msg.msgid, ours, theirs))
    return result


def main(paths: list[str]) -> None:
    import oracle as git_oracle

    for path in paths:
        mails = git_oracle.patch_mails(path)
        table = agreement(mails, git_oracle.corpus_oracle(mails))
        print(f"## {path}: {len(mails)} patch mails")
        for field, row in table.items():
            rate = row["agree"] / row["checked"] if row["checked"] else 1.0
            print(f"{field:15} {row['agree']:6}/{row['checked']:6} {rate:.3%}")
        for field, row in table.items():
            for oid, msgid, ours, theirs in row["examples"][:30]:
                print(f"--- {field} {oid[:12]} <{msgid}>\n ours: {ours!r}\n  git: {theirs!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
