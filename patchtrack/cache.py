"""A store of parsed messages keyed by blob id, so an archive is parsed once.

:class:`Cache` is the handle users open (``Cache.default()``, or a path) and pass to
:func:`~patchtrack.open_inbox`; what it stores and how (the codecs, the fingerprints
that invalidate entries, the stored assemblies) belongs to the performance engine,
:mod:`patchtrack._engine._cache`, where it is defined and documented. This module is
its public name: the engine never imports it.
"""

from __future__ import annotations

from ._engine._cache import (
    FINGERPRINT,
    SERIES_FINGERPRINT,
    Cache,
    CacheError,
    CacheInfo,
    CacheStats,
    PruneStats,
    default_cache_path,
    source_digest,
)

__all__ = [
    "Cache", "CacheError", "CacheInfo", "CacheStats", "PruneStats", "default_cache_path", "source_digest",
    "FINGERPRINT", "SERIES_FINGERPRINT",
]
