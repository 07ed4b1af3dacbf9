"""Run docs/notebook.ipynb without Jupyter, and keep its stored outputs true.

Each code cell is executed in one namespace, as a kernel would; the value of a
cell's last expression is its output (``repr``, or ``print`` output when the cell
prints). ``--write`` stores those outputs in the notebook; without it the run
compares them with the stored ones and exits 1 on a difference (the test suite
does this on the real corpus, so the notebook cannot go stale).

    PATCHTRACK_ARCHIVE=/tmp/kvm-ppc.git python docs/run_notebook.py [--write]
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

NOTEBOOK = Path(__file__).resolve().parent / "notebook.ipynb"


def run_cell(source: str, namespace: dict[str, Any]) -> str:
    """Execute one cell; returns what Jupyter would show as its text output."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - the notebook is ours
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace) if last else None
    text = printed.getvalue()
    if value is not None:
        text += repr(value) + "\n"
    return text


def run(notebook: Path = NOTEBOOK) -> list[tuple[dict[str, Any], str]]:
    """Every code cell with the output it gives now."""
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    return [
        (cell, run_cell("".join(cell["source"]), namespace))
        for cell in cells if cell["cell_type"] == "code"
    ]


def stored(cell: dict[str, Any]) -> str:
    return "".join(
        "".join(out.get("text", "")) if out["output_type"] == "stream"
        else "".join(out.get("data", {}).get("text/plain", [])) + "\n"
        for out in cell.get("outputs", [])
    )


def main(argv: list[str]) -> int:
    results = run()
    if "--write" in argv:
        doc = json.loads(NOTEBOOK.read_text())
        code = [c for c in doc["cells"] if c["cell_type"] == "code"]
        for n, (cell, (_, text)) in enumerate(zip(code, results), 1):
            cell["execution_count"] = n
            cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": text.splitlines(True)}] if text else []
        NOTEBOOK.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        return 0
    stale = [n for n, (cell, text) in enumerate(results, 1) if stored(cell) != text]
    for n in stale:
        print(f"cell {n}: stored output differs from a fresh run", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
