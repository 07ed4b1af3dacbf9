"""Helpers (not tests): two stores of one archive compared view by view."""

from __future__ import annotations

import pyarrow as pa

from patchtrack import Archive
from patchtrack.store import VIEWS

RUN_ONLY = {"run"}
"""Columns two stores of one archive may differ in: which ingest wrote a delivery."""


def snapshot(archive: Archive) -> dict[str, pa.Table]:
    """Every view, sorted, and the blobs delivered again: what two stores of one
    archive must agree on."""
    out = {}
    for name in VIEWS:
        columns = archive.sql(f"SELECT * FROM {name} LIMIT 0", ingest=False).column_names
        kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_ONLY)
        out[name] = archive.sql(f"SELECT {kept} FROM {name} ORDER BY ALL", ingest=False)
    # not a view: the blobs a list delivered again, which windows of arrival are read with
    out["redelivery"] = archive.sql(
        'SELECT list, epoch, "commit", arrived, oid FROM redelivery WHERE list IN (SELECT unnest($1)) ORDER BY ALL',
        [list(archive.lists)], ingest=False,
    )
    return out


def assert_same_views(got: dict[str, pa.Table], expected: dict[str, pa.Table]) -> None:
    assert list(got) == list(expected)
    for name in expected:
        assert got[name].num_rows == expected[name].num_rows, name
        assert got[name].equals(expected[name]), name
