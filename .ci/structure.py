#!/usr/bin/env python3
"""Size counts of the source tree: modules over 500 lines and functions over 60 lines.

Usage: python .ci/structure.py [ROOT]   (default: the repository this script is in)
"""

import ast
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
files = sorted(p for top in ("mlp", "backends") for p in (root / top).rglob("*.py"))
long_modules, long_functions = [], []
for path in files:
    text = path.read_text()
    n = len(text.splitlines())
    if n > 500:
        long_modules.append((n, path.relative_to(root)))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > 60:
                long_functions.append((length, f"{path.relative_to(root)}:{node.name}"))
print(f"{len(files)} modules; {len(long_modules)} over 500 lines; {len(long_functions)} functions over 60 lines")
for n, name in sorted(long_modules, reverse=True):
    print(f"  module   {n:4d} {name}")
for n, name in sorted(long_functions, reverse=True):
    print(f"  function {n:4d} {name}")
