"""Rows, data frames and notebook previews of messages and series."""

from __future__ import annotations

import pandas as pd
import pytest

import patchtrack
from patchtrack import parse_message


@pytest.fixture(scope="module")
def demo(mails: list[bytes]) -> tuple[list[patchtrack.Message], tuple[patchtrack.Series, ...]]:
    messages = [parse_message(m) for m in mails]
    return messages, patchtrack.assemble(messages)


def test_message_rows(demo) -> None:  # type: ignore[no-untyped-def]
    messages, _ = demo
    frame = patchtrack.to_pandas(messages)
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(messages)
    assert frame["msgid"].tolist() == [m.msgid for m in messages]
    patches = frame[frame["kind"] == "patch"]
    assert ((patches["insertions"] + patches["deletions"]) > 0).all() and not frame["author_name"].str.contains("=?", regex=False).any()


def test_patch_and_trailer_rows(demo) -> None:  # type: ignore[no-untyped-def]
    _, series = demo
    patches = patchtrack.to_pandas(series, "patches")
    assert len(patches) == sum(len(s.patches) for s in series)
    trailers = patchtrack.to_pandas(series, "trailers")
    acked = trailers[(trailers["key"] == "Acked-by") & (trailers["via"] == "cover")]
    assert set(acked["email"]) == {"ihalvorsen@kernel.org"} and len(acked) == 3
    flagged = trailers[trailers["flagged"]]
    assert flagged["email"].tolist() == ["lin.wei@acme-semi.com"]
    with pytest.raises(ValueError):
        patchtrack.rows(series, "nonsense")


def test_notebook_previews_escape(demo) -> None:  # type: ignore[no-untyped-def]
    messages, series = demo
    html = series[0]._repr_html_()
    assert html.startswith('<div class="patchtrack">') and "<table>" in html and series[0].title in html
    assert "&lt;" in messages[0]._repr_html_()  # the address's angle brackets are escaped
