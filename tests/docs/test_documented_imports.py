"""Every name a page teaches imports the way Python users write it (issue 31).

The pages are docs/*.md and README.md.  From each ```python block: every ``import mlp...`` and ``from mlp... import
...`` line; from the prose and the python blocks: every dotted ``mlp.a.b`` name in backticks or code.  Each is checked
as Python would meet it: a module path imports with importlib (``import mlp.tables`` needs a module, not an attribute
of ``mlp``), and a dotted name resolves (the longest prefix that is a module is imported, the rest found by getattr).
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

#: dotted words that start with ``mlp.`` but are not Python names, each with the reason
NOT_PYTHON = {
    "mlp.json": "a file name (examples/compare_public.py --merge mlp.json ...)",
    "mlp.X": "a placeholder: `mlp.X` is `mlp.core.errors.X` for each error class X",
    "mlp.core.errors.X": "a placeholder: `mlp.X` is `mlp.core.errors.X` for each error class X",
    "mlp.preprocessing": "a key of an ONNX file's metadata, not a module",
}

#: ``mlp.name`` at a word's start: not the file names ``test_mlp.py``, ``sklearn_mlp.py`` or ``examples/mlp...``
DOTTED = re.compile(r"(?<![\w./-])mlp(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
INLINE_CODE = re.compile(r"(`+)([^`]+?)\1")  # a span may run on to the next line
IMPORT = re.compile(r"^\s*import\s+(mlp(?:\.\w+)*(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)")
FROM = re.compile(r"^\s*from\s+(mlp(?:\.\w+)*)\s+import\s+(.+)$")


def _python_blocks(text):
    """``(line number, line)`` of each line inside a ```python fence."""
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        fence = line.strip()
        if fence.startswith("```"):
            inside = not inside and fence[3:].strip().lower() in ("python", "py", "pycon")
            continue
        if inside:
            yield number, line


def _prose(text):
    """The page without its fenced blocks (their lines left empty, so that line numbers hold)."""
    out, inside = [], False
    for line in text.splitlines():
        fence = line.strip().startswith("```")
        inside ^= fence
        out.append("" if inside or fence else line)
    return "\n".join(out)


def _from_names(module, names, lines):
    """The names of ``from module import names``, a parenthesised list over several lines included."""
    names = names.split("#", 1)[0]
    if names.strip().startswith("(") and ")" not in names:
        for _, more in lines:
            names += " " + more.split("#", 1)[0]
            if ")" in more:
                break
    for name in names.strip().strip("()").split(","):
        name = name.strip().split(" as ")[0].strip()
        if name and name != "*":
            yield f"{module}.{name}"


def documented(pages=PAGES, root=ROOT, skip=NOT_PYTHON):
    """``{(kind, path): where it was first seen}``: ``("module", "mlp.tables")`` for an import statement's module,
    ``("name", "mlp.tables.load_table")`` for a name that must resolve."""
    found = {}

    def add(kind, path, where):
        found.setdefault((kind, path), where)

    for page in pages:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(root).as_posix()
        lines = iter(_python_blocks(text))
        for number, line in lines:
            if m := IMPORT.match(line):
                for part in m.group(1).split(","):
                    add("module", part.split(" as ")[0].strip(), f"{where}:{number}")
            elif m := FROM.match(line):
                add("module", m.group(1), f"{where}:{number}")
                for name in _from_names(m.group(1), m.group(2), lines):
                    add("name", name, f"{where}:{number}")
            else:
                for name in DOTTED.findall(line.split("#", 1)[0]):
                    add("name", name, f"{where}:{number}")
        prose = _prose(text)
        for span in INLINE_CODE.finditer(prose):
            for name in DOTTED.findall(span.group(2)):
                add("name", name, f"{where}:{prose.count(chr(10), 0, span.start()) + 1}")
    return {key: where for key, where in found.items() if key[1] not in skip}


def resolve(path):
    """The object ``path`` names: its longest prefix that imports as a module, then getattr for the rest."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and module_name.startswith(e.name) and e.name.startswith("mlp"):
                continue  # this prefix is not a module: try a shorter one
            raise
        for i, attr in enumerate(parts[cut:], cut + 1):
            if not hasattr(obj, attr):
                raise AttributeError(f"{'.'.join(parts[: i - 1])} has no attribute {attr!r} (resolving {path})")
            obj = getattr(obj, attr)
            if isinstance(obj, types.ModuleType):
                # a module reached as an attribute (mlp.tables) is imported by that name too: `import mlp.tables`
                importlib.import_module(".".join(parts[:i]))
        return obj
    raise ModuleNotFoundError(f"no module {parts[0]!r}")


def _skip_if_an_extra_is_missing(e):
    """A page's import that needs an optional library (scikit-learn for mlp.sklearn, ...) is skipped without it."""
    if isinstance(e, ModuleNotFoundError) and e.name and not e.name.startswith("mlp"):
        pytest.skip(f"needs {e.name}, not installed here")
    if type(e) is ImportError and e.name is None and "pip install" in str(e):
        pytest.skip(str(e))


def check(kind, path, where):
    """Import ``path`` as the page that teaches it does; an AssertionError that names the page if it breaks."""
    try:
        if kind == "module":
            importlib.import_module(path)  # `import mlp.tables` and `from mlp.tables import x` need a module
        else:
            resolve(path)
    except ImportError as e:
        _skip_if_an_extra_is_missing(e)
        raise AssertionError(f"{where} teaches {path}, which does not import: {e!r}") from e
    except AttributeError as e:
        raise AssertionError(f"{where} teaches {path}, which does not resolve: {e}") from e


DOCUMENTED = documented()


@pytest.mark.parametrize(("kind", "path"), sorted(DOCUMENTED), ids=[f"{k}:{p}" for k, p in sorted(DOCUMENTED)])
def test_documented_path_imports(kind, path):
    check(kind, path, DOCUMENTED[(kind, path)])


#: the imports issue 31 found broken (each had worked before the sub-packages; only attribute access was left)
ISSUE_31 = (
    "import mlp.tables",
    "from mlp.tables import load_table",
    "from mlp.errors import DataError",
    "import mlp.datasets",
    "from mlp.datasets import load_mnist",
)


def test_the_imports_of_issue_31_work_in_a_fresh_interpreter():
    # a fresh process: nothing imported before may have put the module in sys.modules
    code = "\n".join(f"{line}\nprint({line!r})" for line in ISSUE_31)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == list(ISSUE_31)
    from mlp.errors import DataError
    from mlp.tables import load_table

    assert load_table is importlib.import_module("mlp.io.tables").load_table  # one home, re-exported
    assert DataError is importlib.import_module("mlp.core.errors").DataError


def test_the_collector_finds_what_the_pages_teach():
    # the parametrised test is only as good as the collection: the paths of issue 31 must be among them
    assert ("name", "mlp.tables.load_table") in DOCUMENTED
    assert ("name", "mlp.datasets.load_mnist") in DOCUMENTED
    assert ("name", "mlp.DataError") in DOCUMENTED
    assert ("module", "mlp") in DOCUMENTED  # `import mlp` in a python block
    assert not any(path.endswith((".json", ".py")) for _, path in DOCUMENTED)  # file names are not Python names


def test_collector_reads_imports_from_python_blocks_only(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Use `mlp.tables.load_table` or `test_mlp.py`.\n"
        "```python\nimport mlp.errors as errors\nfrom mlp.tables import (\n    load_table,\n    split_indices,\n)\n"
        "x = mlp.fit(model)  # mlp.not_this\n```\n"
        "```bash\npython -c 'import mlp.not_a_module'\n```\n"
    )
    assert set(documented([page], tmp_path)) == {
        ("name", "mlp.tables.load_table"),
        ("module", "mlp.errors"),
        ("module", "mlp.tables"),
        ("name", "mlp.tables.split_indices"),
        ("name", "mlp.fit"),
    }


def test_every_skip_is_still_on_a_page():
    # a skip for a word no page holds any more is stale: drop it
    seen = {path for _, path in documented(skip={})}
    assert sorted(set(NOT_PYTHON) - seen) == []


def test_a_broken_path_fails(monkeypatch):
    # the check can fail: a module that does not exist, an attribute that does not exist, an attribute of mlp
    # imported as if it were a module (what issue 31 found: `import mlp.tables` while mlp.tables was an attribute)
    with pytest.raises(AssertionError, match="page.md:1 teaches mlp.no_such_module"):
        check("module", "mlp.no_such_module", "page.md:1")
    with pytest.raises(AssertionError, match="has no attribute 'no_such_function'"):
        check("name", "mlp.tables.no_such_function", "page.md:1")
    with pytest.raises(AssertionError, match="does not resolve"):
        check("name", "mlp.no_such_name", "page.md:1")
    with pytest.raises(AssertionError, match="does not import"):
        check("module", "mlp.fit", "page.md:1")  # a function, not a module
    mlp = importlib.import_module("mlp")
    monkeypatch.setattr(mlp, "only_an_attribute", types.ModuleType("mlp.io.somewhere"), raising=False)
    with pytest.raises(AssertionError, match="teaches mlp.only_an_attribute, which does not import"):
        check("name", "mlp.only_an_attribute", "page.md:1")  # mlp.tables before issue 31's fix
    assert resolve("mlp.io.tables.load_table") is resolve("mlp.tables.load_table")
