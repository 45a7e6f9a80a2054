"""``python -m mlp.bench [options]``: the same as ``mlp bench``."""

import sys

from mlp.bench import main

sys.exit(main())
