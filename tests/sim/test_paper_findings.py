"""The findings of Acun et al. (HPCA 2021), Sections V and VI, that the presets and the analytic
cost model must reproduce: one test per claim, named by the claim's id (its section).

The claims, their thresholds and their checks are those of the reproduce report
(dlrmsim/reproduce/catalog_suite.py and catalog_fleet.py), run on the experiments of
`dlrmsim reproduce --quick`: a claim cannot pass here and fail in the report. Claims the model
does not reproduce are strict xfails with the reason, and must flip when the model is fixed."""

from __future__ import annotations

from functools import cache

import pytest

from dlrmsim.reproduce import Settings, verdicts
from dlrmsim.reproduce.catalog_fleet import all_claims
from dlrmsim.reproduce.types import NOT_COMPARED, PASS, ClaimResult

# The experiments of Sections V and VI: Figures 10 to 13 (the test suite), Figure 14 (M2's
# placements on Big Basin and Zion) and Figure 1 (which models fit Big Basin's GPU memory).
EXPERIMENTS = ("fig1", "fig10", "fig11", "fig12", "fig13", "fig14")
# What issue 5 lists as the paper's findings, by claim id.
FINDINGS = ("V-A.1", "V-A.2", "V-A.3", "V-A.4", "V-B.1", "V-B.2", "V-C.1", "V-C.2", "V-D.1",
            "V-D.2", "V-D.3", "VI.1", "VI.2", "VI.3", "VI.4", "VI.5", "F1.1")

NOT_REPRODUCED = {
    "V-A.1": (
        "Big Basin falls 8.9% from 64 to 4096 dense features (1.13M to 1.03M ex/s); the bar is "
        "10%. Its fixed all-to-all through host memory (3 of each GPU's 7 peers have no NVLink) "
        "makes the MLPs a smaller share of the step. See docs/paper_findings.md"),
    "V-A.3": (
        "Big Basin comes out 26x (4 sparse features) to 45x (128) faster than the 3-server CPU "
        "setup in the full `dlrmsim reproduce` (26x to 45x in the quick run this test uses), "
        "10.7x to 18.4x more examples per joule (10.8x to 18.6x); per watt it loses only below "
        "7.3 x 350 W / 1050 W = 2.43x throughput. No defensible change closes an order of "
        "magnitude. See "
        "docs/paper_findings.md"),
    "V-C.2": (
        "packed on the fewest GPUs, small tables crowd one GPU, so throughput rises with the "
        "hash size (322k ex/s at 100k rows, 1.11M at 25M on 8 GPUs; the claim needs a 30% "
        "fall); spread, it is flat. Replicating small tables costs each GPU every table's "
        "operators and a sparse-gradient all-reduce. See docs/paper_findings.md"),
}


@cache
def results() -> dict[str, ClaimResult]:
    settings = Settings.for_mode(quick=True, only=EXPERIMENTS)
    return {r.claim.id: r for r in verdicts(settings)}


def _cases() -> list[object]:
    return [pytest.param(cid, marks=pytest.mark.xfail(strict=True, raises=AssertionError,
                                                      reason=NOT_REPRODUCED[cid]))
            if cid in NOT_REPRODUCED else cid for cid in FINDINGS]


@pytest.mark.parametrize("claim_id", _cases())
def test_the_papers_finding_holds(claim_id: str) -> None:
    result = results()[claim_id]
    said = f"{claim_id} ({result.claim.source}): {result.claim.statement} {result.verdict.detail}"
    if result.verdict.status == NOT_COMPARED:  # missing data is a failure, never expected
        pytest.fail(f"not compared: {said}")
    assert result.verdict.status == PASS, said


def test_every_finding_has_its_claim_in_the_report() -> None:
    claims = {c.id: c.experiment for c in all_claims()}
    assert all(claims.get(cid) in EXPERIMENTS for cid in FINDINGS)
    assert set(NOT_REPRODUCED) <= set(FINDINGS)
