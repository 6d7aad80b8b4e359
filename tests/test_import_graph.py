"""The layering, read from the source: ``knowledge`` below ``bot`` below ``handlers``, no cycles.

* ``knowledge/`` imports nothing from ``bot/`` or ``handlers/`` (and no chat library:
  ``tests/knowledge/test_matcher.py``);
* ``bot/`` imports nothing from ``handlers/`` except the one composition root, ``bot.run``;
* there is no import cycle among the modules of ``bot/`` (every import counts, also one inside a
  function; only ``if TYPE_CHECKING:`` blocks, which never run, are left out);
* adapters build nothing and read no knowledge: ``handlers/`` never imports the engine, the
  loader or a store, and never reaches into a snapshot's knowledge base.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "knowledge", "handlers")
COMPOSITION_ROOT = "bot.run"


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports at run time (``from pkg import mod`` resolved)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in modules and t != name)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    """Every elementary cycle found by depth-first search among modules of one package."""
    nodes = {n for n in graph if n == within or n.startswith(within + ".")}
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n] & nodes):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(nodes):
        if n not in state:
            visit(n)
    return found


GRAPH = imports(_modules())


def test_no_import_cycle_inside_bot() -> None:
    assert cycles(GRAPH, "bot") == []


def test_no_import_cycle_inside_knowledge_or_handlers() -> None:
    assert cycles(GRAPH, "knowledge") == [] and cycles(GRAPH, "handlers") == []


def test_knowledge_is_below_bot_and_handlers() -> None:
    up = {(m, t) for m, ts in GRAPH.items() if m.startswith("knowledge") for t in ts
          if t.startswith(("bot", "handlers"))}
    assert up == set()


def test_bot_is_below_handlers_except_the_composition_root() -> None:
    up = {(m, t) for m, ts in GRAPH.items() if m.startswith("bot") and m != COMPOSITION_ROOT for t in ts
          if t.startswith("handlers")}
    assert up == set()
    assert any(t.startswith("handlers") for t in GRAPH[COMPOSITION_ROOT])  # the root really is the one


def test_adapters_build_no_engine_or_store_and_read_no_knowledge() -> None:
    forbidden = {"knowledge.engine", "knowledge.loader", "knowledge.matcher", "bot.store", "bot.sqlite_store"}
    used = {(m, t) for m, ts in GRAPH.items() if m.startswith("handlers") for t in ts if t in forbidden}
    assert used == set()
    reach = re.compile(r"\.snapshot\b|\.kb\b|\bEngine\(|Store\(")
    for path in (REPO / "handlers").rglob("*.py"):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not reach.search(line), f"{path.relative_to(REPO)}:{i}: {line.strip()}"


def test_the_graph_sees_real_edges() -> None:
    """The checks above mean something only if the reader finds imports of every form."""
    assert "bot.texts" in GRAPH["bot.replies"]  # from . import texts
    assert "bot.runtime" in GRAPH["handlers.telegram.app"]  # from bot.runtime import Runtime
    assert "handlers.telegram.channel" in GRAPH[COMPOSITION_ROOT]  # a function-level import
    assert cycles({"a": {"b"}, "b": {"a"}}, "a") == [] and cycles({"x.a": {"x.b"}, "x.b": {"x.a"}}, "x") != []
