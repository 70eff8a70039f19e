"""`python -m executor.pod init|wait`: the same as `trellis-exec` (for hosts without the entry point)."""

import sys

from executor.pod.main import main

sys.exit(main())
