"""`dlrmsim reproduce`: every experiment of Acun et al. (HPCA 2021) from the presets, a report
(Markdown and HTML, seaborn figures) beside the paper's statements, and a table of claims with
verdicts computed from the results.

One module per idea: `types` (shared records), `registry` (experiments by id), `sweeps` (the
test-suite axes), `exp_fleet` / `exp_suite` / `exp_population` (the experiments), `paper`
(what the paper says, as far as we quote it), `claims` and `catalog_*` (checking its claims),
`table3` (power accounting), `noise` (Figure 5's system noise), `jobmix` (Figure 9's job month),
`plots`, `summaries`, `doc` and `report` (the report), `outdir` (all-or-nothing output folder),
`runner` (simulations, progress bar) and `pipeline` (all of it in order).
"""

from dlrmsim.reproduce.errors import ReproduceError
from dlrmsim.reproduce.pipeline import DEFAULT_OUT, Reproduction, reproduce, verdicts
from dlrmsim.reproduce.types import Settings

__all__ = ["DEFAULT_OUT", "ReproduceError", "Reproduction", "Settings", "reproduce", "verdicts"]
