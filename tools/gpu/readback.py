"""pytest's and `mlp bench`'s output read back for the GPU proof's report.

Standard library only, and no import of the package's other modules: the tests load this file by its path.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+)(?: in ([\d.]+)s)?.*?=*$")
_ITEM = re.compile(r"(\d+) ([a-z]+)")
_PROGRESS = re.compile(r"^([.FEsxX]+)\s*(\[\s*\d+%\])?\s*$")
#: the progress characters pytest prints, by outcome
_CHARS = (("passed", "."), ("failed", "F"), ("errors", "E"), ("skipped", "s"), ("xfailed", "x"), ("xpassed", "X"))


def _norm(word):
    return {"error": "errors", "warning": "warnings"}.get(word, word)


def parse_pytest(text, junit_path=None):
    """``{"counts": {...}, "seconds", "summary", "failures": [first lines], "interrupted"}`` from a pytest log.

    The counts are pytest's closing line; without one (the run was killed) the junit XML's, else the progress
    characters printed so far; ``source`` says which.
    """
    lines = text.splitlines()
    out = {
        "counts": {},
        "seconds": None,
        "summary": None,
        "failures": _summary_failures(lines),
        "source": None,
        "interrupted": any("KeyboardInterrupt" in line or "Interrupted:" in line for line in lines),
    }
    _read_closing_line(lines, out)
    junit = _parse_junit(junit_path) if junit_path else None
    if not out["counts"] and junit:
        out["counts"], out["source"] = junit["counts"], "junit"
    if junit:
        out["failures"] = _with_messages(out["failures"], junit["failures"])
    if not out["counts"]:
        chars = "".join(m.group(1) for m in map(_PROGRESS.match, lines) if m)
        if chars:
            out["counts"] = {k: chars.count(c) for k, c in _CHARS if chars.count(c)}
            out["source"] = "progress"
    return out


def _read_closing_line(lines, out):
    """pytest's last line (``1 failed, 6 passed in 12.50s``) into ``out``'s counts, seconds and summary."""
    for line in reversed(lines):
        m = _SUMMARY.match(line.strip())
        if m and any(w in m.group(1) for w in ("passed", "failed", "skipped", "error", "deselected", "xfail")):
            out["counts"] = {_norm(w): int(n) for n, w in _ITEM.findall(m.group(1))}
            out["seconds"] = float(m.group(2)) if m.group(2) else None
            out["summary"] = line.strip().strip("= ")
            out["source"] = "summary"
            return


def _summary_failures(lines):
    """The FAILED and ERROR lines of pytest's short test summary."""
    failures, in_summary = [], False
    for line in lines:
        if "short test summary info" in line:
            in_summary = True
            continue
        if in_summary and line.startswith(("FAILED ", "ERROR ")):
            failures.append(line.strip())
        elif in_summary and line.startswith("="):
            in_summary = False
    return failures


def _with_messages(failures, junit_failures):
    """The summary's failure lines, each with its message from the XML where the terminal's width cut it off
    (or the XML's lines where the log has none)."""
    if not failures:
        return [line for _, line in junit_failures]
    messages = {key: line.split(" - ", 1)[1] for key, line in junit_failures if " - " in line}
    return [
        line if " - " in line or _key(line) not in messages else f"{line} - {messages[_key(line)]}" for line in failures
    ]


def _key(line):
    """``(module or class, test name)`` of a summary line ``FAILED tests/test_x.py::test_y[p] - message``."""
    parts = line.split(" - ", 1)[0].split(" ", 1)[-1].split("::")
    if len(parts) < 2:  # a module that did not import: ERROR tests/test_x.py
        return parts[0], ""
    return parts[-2].rsplit("/", 1)[-1].removesuffix(".py"), parts[-1]


def _parse_junit(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures = []
    for case in root.iter("testcase"):
        node = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        kinds = [child.tag for child in case]
        if "failure" in kinds or "error" in kinds:
            child = case.find("failure") if "failure" in kinds else case.find("error")
            word = "FAILED" if child.tag == "failure" else "ERROR"
            counts["failed" if child.tag == "failure" else "errors"] += 1
            message = (child.get("message") or "").strip().splitlines()
            key = (case.get("classname", "").rsplit(".", 1)[-1], case.get("name"))
            failures.append((key, f"{word} {node} - {message[0] if message else ''}".rstrip(" -")))
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return {"counts": {k: v for k, v in counts.items() if v}, "failures": failures}


def read_bench(path):
    """The JSON ``mlp bench --json`` wrote, or None."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
