"""The package's structure, read from its source: no import cycles (module-level
or inside functions), the engine on the stages' public names only, pygit2 at the
git edge only."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "patchtrack"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """``(line, module, names)`` for every import statement of module ``name``,
    wherever it stands (module level, a function, ``if TYPE_CHECKING``), relative
    ones resolved; ``names`` are what ``from … import`` takes."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            yield node.lineno, target, tuple(alias.name for alias in node.names)


def _edges(name: str) -> set[str]:
    """The package's modules that module ``name`` imports. ``from . import x`` imports
    the module ``x`` when there is one; importing ``a.b.c`` runs ``a`` and ``a.b`` too
    (their ``__init__``), but a package's own modules are not its importers: the edge
    to a parent package is left out, as Python has it half-imported then."""
    found = set()
    for _, target, names in _imports(name):
        if not (target == "patchtrack" or target.startswith("patchtrack.")):
            continue
        pieces = target.split(".")
        wanted = {".".join(pieces[:i]) for i in range(1, len(pieces) + 1)}
        wanted |= {f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES}
        found |= {m for m in wanted if m in MODULES and m != name and not name.startswith(m + ".")}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (its modules in import order, the first again at the
    end), or ``None``."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_none_where_there_is_none() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_relative_imports_resolve() -> None:
    engine = {target for _, target, _ in _imports("patchtrack._engine._index")}
    assert {"patchtrack._engine", "patchtrack.series", "patchtrack._engine._store"} <= engine
    assert "patchtrack._render" in _edges("patchtrack")  # from . import _render, mbox
    assert "patchtrack._engine._store" in _edges("patchtrack.store")
    assert "patchtrack.store" in _edges("patchtrack.cache")  # the old names, aliases of the store's


def test_the_store_faces_import_the_engine_never_the_reverse() -> None:
    """``patchtrack.cache`` (the old names) imports ``patchtrack.store`` (the public
    face), which imports the engine's ``_store``: no engine module imports either
    face, so the structure stays one-way."""
    faces = {"patchtrack.store", "patchtrack.cache"}
    reached = [
        f"{name} imports {target}"
        for name in MODULES if name.startswith("patchtrack._engine")
        for target in _edges(name) & faces
    ]
    assert not reached, reached
    assert not _edges("patchtrack.store") & {"patchtrack.cache"}  # the face never leans on the aliases


def test_no_import_cycles() -> None:
    """No module imports one that imports it back, directly or around a loop —
    counting imports inside functions and under ``TYPE_CHECKING`` (a lazy import
    hides a cycle, it does not remove it). Renderers import records, never the
    reverse; the engine imports the stages and the store's faces import the engine."""
    graph = {name: _edges(name) for name in MODULES}
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _room(name: str) -> str:
    """A module, or the subpackage of ``patchtrack`` it belongs to (``patchtrack._engine``)."""
    return ".".join(name.split(".")[:2])


def test_no_import_cycles_between_subpackages() -> None:
    """The same with each subpackage (``archive``, ``_engine``) one node: a
    subpackage is a unit, so the modules beside it may import it or be imported
    by it, never both (the store's faces import the engine, never the reverse)."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        graph.setdefault(_room(name), set()).update(_room(m) for m in _edges(name) if _room(m) != _room(name))
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("record", ["message", "series", "thread", "revisions", "report"])
def test_records_import_no_renderer(record: str) -> None:
    renderers = {"patchtrack.export", "patchtrack._render", "patchtrack.mbox", "patchtrack.cli"}
    assert not _edges(f"patchtrack.{record}") & renderers


STAGES = ("patchtrack.thread", "patchtrack.series", "patchtrack.revisions")


def _public(module: str) -> set[str]:
    """A module's ``__all__``, read from its source."""
    for node in ast.parse(MODULES[module].read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{module} has no __all__")


def test_the_engine_uses_the_stages_public_names_only() -> None:
    """Every name ``patchtrack._engine`` takes from ``thread``, ``series`` and
    ``revisions`` is in that module's ``__all__`` and not private."""
    taken = [
        (name, line, target, n)
        for name in MODULES if name.startswith("patchtrack._engine")
        for line, target, names in _imports(name) if target in STAGES
        for n in names
    ]
    assert taken  # the engine does use the stages
    wrong = [f"{name}:{line} {n} from {target}" for name, line, target, n in taken
             if n.startswith("_") or n not in _public(target)]
    assert not wrong, wrong


def test_the_engine_reaches_no_private_attribute_of_a_stage_module() -> None:
    """Nor through the module: ``series._x`` after ``from .. import series``."""
    for name in (n for n in MODULES if n.startswith("patchtrack._engine")):
        tree = ast.parse(MODULES[name].read_text())
        bound = {
            alias.asname or alias.name
            for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 2 and not node.module
            for alias in node.names if f"patchtrack.{alias.name}" in STAGES
        }
        reached = [
            f"{name}:{node.lineno} {node.value.id}.{node.attr}"  # type: ignore[attr-defined]
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
            and (node.attr.startswith("_") or node.attr not in _public(f"patchtrack.{node.value.id}"))
        ]
        assert not reached, reached


def test_only_the_git_edge_imports_pygit2() -> None:
    """pygit2 is imported by ``archive/`` (reading archives), ``upstream`` (tracking
    in a kernel tree) and ``builder`` (writing test archives) alone."""
    allowed = {"patchtrack.upstream", "patchtrack.builder"}
    users = {name for name in MODULES for _, target, _ in _imports(name) if target.split(".")[0] == "pygit2"}
    assert users, "nothing imports pygit2: the test reads no imports"
    assert {u for u in users if u not in allowed and not u.startswith("patchtrack.archive.")} == set()


def test_a_record_module_imported_alone_finds_its_views() -> None:
    """Importing one record module runs the package's ``__init__``, which imports the
    renderers: every view is registered before a record can show itself."""
    code = (
        "import patchtrack.series as s, patchtrack._views as v\n"
        "from patchtrack.message import Message\nfrom patchtrack.report import Report\n"
        "assert {s.Series, Message, Report} <= set(v.html.registry), v.html.registry\n"
        "assert all(Report in f.registry for f in (v.text, v.markdown, v.page)) and s.Series in v.write_mbox.registry\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
