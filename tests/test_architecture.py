"""The import rule, walked over the source with ``ast`` (see docs/architecture.md).

* Layers import one way: ``mlp.backends`` imports nothing else of mlp; ``mlp.core`` only itself and the
  backends; ``mlp.io`` only core and backends; ``mlp.train`` core, io and backends; the faces (``mlp.cli``,
  ``mlp.sklearn``, ``mlp.book``, ``mlp.bench`` and the package itself) anything.
* No private name (one leading underscore) crosses a sub-package: neither imported (``from x import _y``)
  nor reached through an object (``model._params``) where it is defined only in another sub-package.
* No import cycle between modules (lazy imports inside functions count too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("backends", "core", "io", "train")
ALLOWED = {
    "backends": {"backends"},
    "core": {"core", "backends"},
    "io": {"io", "core", "backends"},
    "train": {"train", "core", "io", "backends"},
}


def _sources():
    """``{module name: path}`` for every module of the installed layout (``backends/`` is ``mlp.backends``)."""
    found = {}
    for top, package in (("mlp", "mlp"), ("backends", "mlp.backends")):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT / top).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


SOURCES = _sources()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in SOURCES.items()}


def sub_package(module: str) -> str:
    """``mlp.core.model`` -> ``core``; ``mlp.sklearn`` -> ``sklearn``; the package itself -> ``mlp``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "mlp"


def _is_package(module: str) -> bool:
    return SOURCES[module].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if _is_package(module) else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str):
    """``(target module, imported name or None, line)`` for every import in ``module``, lazy ones included."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in SOURCES:  # `from mlp.core import layers`: the module itself
                    yield sub, None, node.lineno
                else:
                    yield target, alias.name, node.lineno


def _ours(target: str) -> bool:
    return target == "mlp" or target.startswith("mlp.")


def test_the_walk_sees_the_layout():
    # the rule is only as good as the walk: it must see every layer and the faces
    seen = {sub_package(m) for m in SOURCES}
    assert {"backends", "core", "io", "train", "cli", "book", "sklearn", "bench"} <= seen
    assert "mlp.core.model" in SOURCES and "mlp.backends.numpy_backend" in SOURCES
    found = {t for t, _, _ in imports("mlp.train.loop")}
    assert "mlp.train.strategy" in found and "mlp.train.epoch" in found
    assert "mlp.core.errors" in {t for t, _, _ in imports("mlp.train.epoch")}


def test_layers_import_one_way():
    wrong = []
    for module in SOURCES:
        layer = sub_package(module)
        if layer not in ALLOWED:
            continue
        for target, _, line in imports(module):
            if _ours(target) and sub_package(target) not in ALLOWED[layer]:
                wrong.append(f"{SOURCES[module].relative_to(ROOT)}:{line}: {layer} imports {target}")
    assert not wrong, "imports against the layer rule:\n" + "\n".join(wrong)


def test_no_private_name_is_imported_across_sub_packages():
    wrong = []
    for module in SOURCES:
        for target, name, line in imports(module):
            if not _ours(target) or sub_package(target) == sub_package(module):
                continue
            private = name if name is not None else target.rsplit(".", 1)[-1]
            if private.startswith("_") and not private.startswith("__"):
                wrong.append(f"{SOURCES[module].relative_to(ROOT)}:{line}: {private} from {target}")
    assert not wrong, "private names imported across sub-packages:\n" + "\n".join(wrong)


def _private_attributes(tree) -> set:
    """Private names a module defines on objects: ``self._x = ...``, ``def _x`` inside a class."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("_"):
                    names.add(item.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_reach_into_another_sub_packages_private_state():
    defined: dict[str, set] = {}
    for module, tree in TREES.items():
        defined.setdefault(sub_package(module), set()).update(_private_attributes(tree))
    wrong = []
    for module, tree in TREES.items():
        mine = defined[sub_package(module)]
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            owners = [p for p, names in defined.items() if node.attr in names and p != sub_package(module)]
            if owners and node.attr not in mine:
                wrong.append(
                    f"{SOURCES[module].relative_to(ROOT)}:{node.lineno}: .{node.attr} "
                    f"(private to {', '.join(sorted(owners))})"
                )
    assert not wrong, "reach-ins into another sub-package's private state:\n" + "\n".join(wrong)


def _cycles(graph: dict) -> list:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(start):
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def import_graph() -> dict:
    """Module -> the modules of mlp it imports.  Importing a package counts as importing its ``__init__``;
    the top-level ``mlp`` package is left out: it gathers the public names, and faces may import it."""
    graph = {}
    for module in SOURCES:
        if module == "mlp":
            continue
        targets = set()
        for target, _, _ in imports(module):
            while target and target not in SOURCES:
                target = target.rpartition(".")[0]
            if target and target != "mlp" and target != module:
                targets.add(target)
        graph[module] = targets
    return graph


def test_no_import_cycles():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_a_cycle():
    # the cycle test can fail: a graph with a circle through three modules is found
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("layer", LAYERS)
def test_a_forbidden_import_would_be_caught(layer):
    # the layer test can fail: each layer refuses the faces
    assert "cli" not in ALLOWED[layer] and "sklearn" not in ALLOWED[layer]


def test_every_package_is_installed():
    """A sub-package missing from pyproject.toml's list works in a checkout and is absent from `pip install .`."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {m for m, path in SOURCES.items() if path.name == "__init__.py"}
    assert packages == listed, (sorted(packages - listed), sorted(listed - packages))
