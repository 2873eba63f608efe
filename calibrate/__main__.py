"""`python -m calibrate`: see `calibrate.cli`."""

import sys

from calibrate.cli import main

sys.exit(main())
