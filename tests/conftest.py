"""Settings for the whole test suite."""

from __future__ import annotations

import os

# Tests draw their demand afresh: a run that read it from the demand cache (sim/demand_cache.py)
# would no longer test the generator, and a test that compares two draws (one process against
# two, say) would compare an entry with itself. Set before any test runs, so that the commands
# tests start as subprocesses inherit it; tests of the cache turn it on in a folder of their own.
os.environ["DLRMSIM_NO_CACHE"] = "1"
