"""`python -m bertemb_np ...` runs the `bertemb` command."""

import sys

from .cli import main

sys.exit(main())
