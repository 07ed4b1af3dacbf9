"""How records show themselves without importing what renders them.

Renderers import the records they render, never the reverse: a record's
``_repr_html_`` (Jupyter), ``Report.to_text()``/``to_markdown()``/``to_html()`` and
``Series.to_mbox()`` call these generic functions, and the modules that render
(:mod:`patchtrack._render`, :mod:`patchtrack.mbox`) register their functions for the
record types when they are imported. ``patchtrack/__init__.py`` imports them, and
Python runs it before any module of the package, so a record always finds its views.
"""

from __future__ import annotations

import functools
import os
from typing import BinaryIO

__all__ = ["html", "text", "markdown", "page", "write_mbox"]


def _missing(view: str, record: object) -> NotImplementedError:
    return NotImplementedError(f"no {view} of a {type(record).__name__} is registered")


@functools.singledispatch
def html(record: object) -> str:
    """The notebook view of a record (``_repr_html_``): a fragment, styles scoped."""
    raise _missing("HTML view", record)


@functools.singledispatch
def text(record: object) -> str:
    """The plain-text rendering of a record (``Report.to_text()``)."""
    raise _missing("text rendering", record)


@functools.singledispatch
def markdown(record: object) -> str:
    """The Markdown rendering of a record (``Report.to_markdown()``)."""
    raise _missing("Markdown rendering", record)


@functools.singledispatch
def page(record: object) -> str:
    """The self-contained HTML page of a record (``Report.to_html()``)."""
    raise _missing("HTML page", record)


@functools.singledispatch
def write_mbox(
    record: object,
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    followups: bool = True,
    link: str | bool = False,
    cover: bool = False,
) -> int:
    """A record written as an am-ready mbox (``Series.to_mbox()``)."""
    raise _missing("mbox writer", record)
