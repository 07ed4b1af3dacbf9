"""docs/notebook.ipynb runs on the kvm-ppc corpus and still prints what it shows."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import ROOT

RUNNER = ROOT / "docs" / "run_notebook.py"


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("run_notebook", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_is_a_valid_nbformat_4_document() -> None:
    doc = json.loads((ROOT / "docs" / "notebook.ipynb").read_text())
    assert doc["nbformat"] == 4
    code = [c for c in doc["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 8 and all(c["outputs"] for c in code)  # every cell shows something


def test_notebook_outputs_are_what_the_cells_print(
    corpus_clones: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = corpus_clones.get("kvm-ppc.vger.kernel.org.0")
    if archive is None:
        pytest.skip("the notebook walks the kvm-ppc corpus")
    monkeypatch.setenv("PATCHTRACK_ARCHIVE", str(archive))
    runner = _runner()
    results = runner.run()
    for n, (cell, text) in enumerate(results, 1):
        assert runner.stored(cell) == text, f"cell {n} of docs/notebook.ipynb is stale"
    # and the runner's own check agrees (it is what a maintainer runs before --write)
    assert runner.main([]) == 0
