"""``python -m mlp`` is the ``mlp`` command."""
import sys

from mlp.cli import main

sys.exit(main())
