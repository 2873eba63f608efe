"""The power accounting of Table III, and the seeded Figure 5 and Figure 9 samplers."""

from __future__ import annotations

import pytest

from dlrmsim.reproduce import jobmix, noise, table3
from dlrmsim.reproduce.exp_fleet import preset_power_ratio, setup_of

M1 = table3.Setup(cpu_trainers=6, cpu_parameter_servers=8)
M3 = table3.Setup(cpu_trainers=8, cpu_parameter_servers=8, gpu_remote_servers=8)


def test_factors_by_hand() -> None:
    assert table3.efficiency_factor(M1, 7.3, "all_servers") == pytest.approx(14 / 7.3)
    assert table3.efficiency_factor(M1, 7.3, "trainers_only") == pytest.approx(6 / 7.3)
    assert table3.efficiency_factor(M3, 7.3, "all_servers") == pytest.approx(16 / 15.3)
    assert table3.efficiency_factor(M3, 7.3, "gpu_server_only") == pytest.approx(16 / 7.3)
    assert table3.relative_efficiency(2.0, M1, 7.3) == pytest.approx(2 * 14 / 7.3)


def test_arithmetic_text() -> None:
    assert table3.arithmetic(M1, 7.3, "all_servers") == "(6 + 8) / (1 x 7.3) = 1.918"
    assert table3.arithmetic(M3, 7.3, "all_servers") == "(8 + 8) / (1 x 7.3 + 8) = 1.046"
    assert table3.arithmetic(M3, 7.3, "trainers_only") == "(8) / (1 x 7.3) = 1.096"


def test_implied_accounting_finds_the_one_that_fits_or_none() -> None:
    assert table3.implied_accounting(2.0, 2 * 6 / 7.3, M1, 7.3) == "trainers_only"
    assert table3.implied_accounting(2.0, 2 * 14 / 7.3, M1, 7.3) == "all_servers"
    assert table3.implied_accounting(2.0, 9.0, M1, 7.3) is None


def test_within() -> None:
    assert table3.within(1.2, 1.0, 0.25) and not table3.within(1.3, 1.0, 0.25)
    assert table3.within(1.0, None, 0.25) is None


def test_unknown_accounting_and_bad_setup_are_refused() -> None:
    with pytest.raises(ValueError, match="accounting"):
        table3.efficiency_factor(M1, 7.3, "per_gpu")
    with pytest.raises(ValueError, match="at least one"):
        table3.Setup(cpu_trainers=0, cpu_parameter_servers=1)


def test_presets_match_table_iii_counts_and_power_ratio() -> None:
    assert preset_power_ratio() == pytest.approx(7.3)
    assert setup_of("M1") == table3.Setup(6, 8)
    assert setup_of("M2") == table3.Setup(20, 16)
    assert setup_of("M3") == table3.Setup(8, 8, 1, 8)


def test_noise_runs_are_seeded_and_vary() -> None:
    a, b = noise.draw_runs(6, seed=1), noise.draw_runs(6, seed=1)
    assert a == b
    assert noise.draw_runs(6, seed=2) != a
    rates = {r.trainer_platform.efficiency.cpu_compute_efficiency for r in a}
    assert len(rates) > 1 and max(rates) <= 1.0
    assert all(r.job.sparse_ps + r.job.dense_ps == 8 and r.job.trainers == 6 for r in a)


def test_server_utilization_groups_channels_by_server_and_kind() -> None:
    got = noise.server_utilization({"trainer0.cpu0": 0.2, "trainer0.cpu1": 0.4,
                                    "trainer0.nic0.tx": 0.1, "trainer0.pcie0": 0.9})
    assert got == [("trainer0", "cpu", pytest.approx(0.3)), ("trainer0", "network", 0.1)]
    assert noise.role_of("sparse_ps12") == "sparse_ps"


def test_job_month_is_seeded_and_bounded() -> None:
    month = jobmix.sample_month(500, seed=3)
    assert month == jobmix.sample_month(500, seed=3)
    assert {j.model for j in month} == {"M1", "M2", "M3"}
    assert all(1 <= j.trainers <= jobmix.MAX_SERVERS for j in month)
    assert all(1 <= j.parameter_servers <= jobmix.MAX_SERVERS for j in month)


def test_table_iii_rows_say_which_accounting_quoted_values_follow(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from dlrmsim.reproduce import exp_fleet, paper
    from dlrmsim.reproduce.types import Outcome, Settings

    settings = Settings(quick=True, iterations=4)
    outcomes = {t: Outcome(throughput=10.0 if "gpu" in str(t.job) else 5.0,
                           examples_per_joule=1.0, power_w=1.0)
                for t in exp_fleet.plan_table_3(settings)}
    rows = exp_fleet.analyze_table_3(outcomes, settings)
    assert [r["paper_accounting"] for r in rows] == [paper.NOT_QUOTED] * 3
    assert rows[0]["relative_throughput"] == 2.0
    assert rows[0]["relative_efficiency_all_servers"] == pytest.approx(2 * 14 / 7.3)
    monkeypatch.setitem(paper.TABLE_III_RELATIVE_THROUGHPUT, "M1", paper.Quoted(2.0, "x", "test"))
    monkeypatch.setitem(paper.TABLE_III_RELATIVE_EFFICIENCY, "M1",
                        paper.Quoted(2 * 6 / 7.3, "x", "test"))
    assert exp_fleet.analyze_table_3(outcomes, settings)[0]["paper_accounting"] == "trainers only"
