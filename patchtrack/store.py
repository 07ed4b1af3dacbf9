"""The store: parsed mail, deliveries and series in one DuckDB file, and SQL over it.

:class:`Store` is the handle users open (``Store.default()``, or a path) and pass
to :func:`~patchtrack.open_inbox` or :func:`~patchtrack.open_archive` as
``cache=``; what it stores and how (the codecs, the fingerprints that invalidate
entries, the stored assemblies, the tables) belongs to the performance engine,
:mod:`patchtrack._engine._store`, where it is defined and documented. This module
is its public name: the engine never imports it.

The views a query reads (:data:`VIEWS`, documented in ``docs/store.md``) are the
stable surface; the tables under them are the engine's and may change with a
version.
"""

from __future__ import annotations

from ._engine._store import (
    FINGERPRINT,
    SERIES_FINGERPRINT,
    PruneStats,
    Store,
    StoreError,
    StoreInfo,
    StoreStats,
    default_store_path,
    source_digest,
)
from ._engine._ingest import IngestStats
from ._engine._tables import VIEWS

__all__ = [
    "Store", "StoreError", "StoreInfo", "StoreStats", "PruneStats", "default_store_path", "source_digest",
    "FINGERPRINT", "SERIES_FINGERPRINT", "VIEWS", "IngestStats",
]
