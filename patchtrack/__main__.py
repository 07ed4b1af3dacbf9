"""``python -m patchtrack``: the same as the ``patchtrack`` command."""

import sys

from .cli import main

sys.exit(main())
