"""``python -m mlp`` is the ``mlp`` command.

Through :mod:`mlp_entry` where it is importable (an install, a source checkout), so that Ctrl-C is one line and
status 130 at any moment; the ``mlp`` package itself is imported before this file runs, so a Ctrl-C during that
import is Python's own (the ``mlp`` console script covers it).
"""

import sys

try:
    from mlp_entry import main
except ImportError:  # pragma: no cover - an install without the entry module
    from mlp.cli import main

sys.exit(main())
