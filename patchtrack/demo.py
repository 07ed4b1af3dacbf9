"""The demo inbox: the fixture mails shipped with patchtrack, built into a v2 archive.

It lets ``patchtrack demo`` (and anyone trying the library) run on a real archive
with no path and no network. Its mails are ``fixtures/mails`` of the source tree,
carried inside the wheel as ``patchtrack/_demo_mails``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .builder import build_inbox
from .errors import InboxError

__all__ = ["DEMO_EPOCH_SIZE", "demo_mails", "build_demo_inbox"]

DEMO_EPOCH_SIZE = 25
"""Messages per epoch in the demo inbox, small enough that it spans two epochs."""


def demo_mails() -> Path:
    """The folder of demo mails: inside the installed package, or the source tree's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_demo_mails", here.parent / "fixtures" / "mails"):
        if candidate.is_dir():
            return candidate
    raise InboxError("the demo mails are missing from this installation")


def build_demo_inbox(dest: str | os.PathLike[str]) -> Path:
    """Build the demo v2 inbox at ``dest`` (two epochs) and return its path."""
    return build_inbox(demo_mails(), dest, epoch_size=DEMO_EPOCH_SIZE)
