#!/usr/bin/env python3
"""Size counts of the source tree: modules over 500 lines, functions over 60 lines, private names imported between
modules (``from x import _y``), and the number of parameters of ``mlp.fit``.

Usage: python tools/structure.py [ROOT]   (default: the repository this script is in)

The counts are read from mlp/ and backends/ as text (ast); ``mlp.fit`` from the ``mlp`` this Python imports (its
file is printed: the installed package, which may not be ROOT's).
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

MODULE_LINES, FUNCTION_LINES = 500, 60


def source_files(root):
    return sorted(p for top in ("mlp", "backends") for p in (root / top).rglob("*.py"))


def is_private(name):
    """A leading underscore, not a dunder (``__all__``, ``__version__`` are public)."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def sizes(root, files):
    """(lines, module) over MODULE_LINES and (lines, module:function) over FUNCTION_LINES."""
    long_modules, long_functions = [], []
    for path in files:
        text = path.read_text()
        n = len(text.splitlines())
        if n > MODULE_LINES:
            long_modules.append((n, path.relative_to(root)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    long_functions.append((length, f"{path.relative_to(root)}:{node.name}"))
    return long_modules, long_functions


def private_imports(root, files):
    """``path:line from module import _a, _b`` for each import of a private name from another module."""
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [a.name for a in node.names if is_private(a.name)]
                if names:
                    module = "." * node.level + (node.module or "")
                    found.append(f"{path.relative_to(root)}:{node.lineno} from {module} import {', '.join(names)}")
    return found


def fit_parameters():
    """``(parameters, keyword-only ones, mlp's file)`` of ``mlp.fit``, or None and why."""
    try:
        import mlp

        params = inspect.signature(mlp.fit).parameters.values()
    except Exception as e:  # noqa: BLE001 -- a count that cannot be made is reported, not a crash
        return None, None, f"{type(e).__name__}: {e}"
    keyword_only = sum(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    return len(params), keyword_only, mlp.__file__


def main(argv):
    root = Path(argv[0] if argv else Path(__file__).resolve().parent.parent)
    files = source_files(root)
    long_modules, long_functions = sizes(root, files)
    private = private_imports(root, files)
    n, keyword_only, where = fit_parameters()
    print(
        f"{len(files)} modules; {len(long_modules)} over {MODULE_LINES} lines; {len(long_functions)} functions over "
        f"{FUNCTION_LINES} lines; {len(private)} imports of private names between modules"
    )
    for n_lines, name in sorted(long_modules, reverse=True):
        print(f"  module   {n_lines:4d} {name}")
    for n_lines, name in sorted(long_functions, reverse=True):
        print(f"  function {n_lines:4d} {name}")
    for line in private:
        print(f"  private  {line}")
    if n is None:
        print(f"mlp.fit: no count ({where})")
    else:
        print(f"mlp.fit: {n} parameters, {keyword_only} of them keyword-only (mlp from {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
