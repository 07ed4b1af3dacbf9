"""The performance engine (private): the cache of parsed messages and stored
assemblies (:mod:`._cache`, whose public face is :mod:`patchtrack.cache`), loading
messages through it and an executor (:mod:`._load`), the message codec
(:mod:`._codec`) and the series codec (:mod:`._series_codec`), whole-archive
assemblies stored in the cache (:mod:`._index`) and extended after new mail
(:mod:`._reassemble`). It uses the stages' public names only (tests/test_structure.py)."""
