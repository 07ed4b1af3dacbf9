"""The names the store had when it was an opaque cache of parsed messages.

The store (:mod:`patchtrack.store`) replaced the SQLite cache: ``Cache`` is
:class:`~patchtrack.store.Store`, ``CacheError`` :class:`~patchtrack.store.StoreError`,
and so on, so code written against the cache keeps working.
"""

from __future__ import annotations

from .store import (
    FINGERPRINT,
    SERIES_FINGERPRINT,
    PruneStats,
    Store as Cache,
    StoreError as CacheError,
    StoreInfo as CacheInfo,
    StoreStats as CacheStats,
    default_store_path as default_cache_path,
    source_digest,
)

__all__ = [
    "Cache", "CacheError", "CacheInfo", "CacheStats", "PruneStats", "default_cache_path", "source_digest",
    "FINGERPRINT", "SERIES_FINGERPRINT",
]
