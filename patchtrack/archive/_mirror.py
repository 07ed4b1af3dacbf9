# PLACEHOLDER (lead, uncommitted): replaced by i21-mirror's module on merge
from __future__ import annotations
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from ._source import Source, open_source

def open_sources(where: object) -> dict[str, Source]:
    if isinstance(where, Mapping):
        return {str(k): open_source(v) for k, v in where.items()}
    if isinstance(where, (str, os.PathLike)):
        where = [where]
    out = {}
    for p in where:  # type: ignore[attr-defined]
        s = open_source(p)
        out[s.name.split(".")[0]] = s
    return out
