"""docs/reliability.md names, for each bad input or fault, the tests that prove it: every one of them exists."""

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

#: ``folder/test_file.py::test_name`` or ``...::test_name[case id]``, as docs/reliability.md writes them
REFERENCE = re.compile(r"(?<![\w/])((?:\w+/)*test_\w+\.py)::(test_\w+)(\[[^\]]*\])?")


@pytest.mark.backend_independent
def test_every_test_that_reliability_md_names_is_collected():
    text = (ROOT / "docs" / "reliability.md").read_text()
    references = {(path, name + (case or "")) for path, name, case in REFERENCE.findall(text)}
    assert len(references) > 150, "docs/reliability.md names fewer tests than it did: is the pattern still right?"
    paths = sorted({path for path, _ in references})
    missing_files = [path for path in paths if not (ROOT / "tests" / path).is_file()]
    assert not missing_files, f"docs/reliability.md names test files that do not exist: {missing_files}"

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}  # every backend's case ids
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + [f"tests/{path}" for path in paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = {line.strip() for line in proc.stdout.splitlines() if "::" in line}
    unknown = []
    for path, test in sorted(references):
        node = f"tests/{path}::{test}"
        if node not in collected and not any(c.startswith(node + "[") for c in collected):
            unknown.append(f"{path}::{test}")
    assert not unknown, f"docs/reliability.md names tests that pytest does not collect: {unknown}"
