"""`python -m tests.load`: the many-analysts load test (see tests/load/run.py)."""

import sys

from tests.load.run import main

sys.exit(main())
