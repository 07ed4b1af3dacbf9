"""The performance engine (private): loading messages through the cache and an
executor (:mod:`._load`), the message codec (:mod:`._codec`), whole-archive
assemblies stored in the cache (:mod:`._index`) and extended after new mail
(:mod:`._reassemble`). It uses the stages' public functions only."""
