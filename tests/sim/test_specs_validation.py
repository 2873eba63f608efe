"""Specs refuse bad values with an error that names the spec, the field and the rule."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import SpecError
from sim.specs import (
    CpuSocketSpec,
    EfficiencySpec,
    GpuSpec,
    JobSpec,
    LinkSpec,
    ModelSpec,
    PcieSwitchSpec,
    PlacementSpec,
    PoolingSpec,
    PopularitySpec,
    ServerSpec,
    TableSpec,
)

BAD_COUNTS = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)
BAD_RATES = st.one_of(
    st.floats(max_value=0.0),
    st.just(math.nan),
    st.just(math.inf),
    st.text(max_size=5),
    st.none(),
)


def table(**over: object) -> TableSpec:
    fields = {"name": "t", "rows": 1000, "dim": 16, "pooling": PoolingSpec(4.0)}
    fields.update(over)
    return TableSpec(**fields)  # type: ignore[arg-type]


def socket(**over: object) -> CpuSocketSpec:
    fields = {"name": "s", "cores": 4, "core_flops_per_s": 1e10, "mem_bw_bytes_per_s": 1e10,
              "mem_capacity_bytes": 2**30}
    fields.update(over)
    return CpuSocketSpec(**fields)  # type: ignore[arg-type]


def gpu() -> GpuSpec:
    return GpuSpec("g", 2**34, 9e11, 1.5e13)


def server(**over: object) -> ServerSpec:
    link = LinkSpec(1e10)
    fields: dict[str, object] = {
        "name": "srv", "sockets": (socket(),), "power_w": 500.0, "gpus": (gpu(), gpu()),
        "nvlink": LinkSpec(2.5e10), "nvlink_links": ((0, 2), (2, 0)),
        "pcie_switches": (PcieSwitchSpec(0, (0, 1), link, link),),
    }
    fields.update(over)
    return ServerSpec(**fields)  # type: ignore[arg-type]


@given(BAD_COUNTS)
def test_table_rows_must_be_a_positive_whole_number(bad: object) -> None:
    with pytest.raises(SpecError) as err:
        table(rows=bad)
    assert err.value.field == "rows" and "TableSpec.rows" in str(err.value)


@given(BAD_COUNTS)
def test_table_dim_must_be_a_positive_whole_number(bad: object) -> None:
    with pytest.raises(SpecError, match=r"TableSpec\.dim"):
        table(dim=bad)


@given(BAD_RATES)
def test_pooling_mean_must_be_positive_and_finite(bad: object) -> None:
    with pytest.raises(SpecError, match=r"PoolingSpec\.mean_lookups"):
        PoolingSpec(bad)  # type: ignore[arg-type]


@given(st.text().filter(lambda s: s not in ("fixed", "uniform", "lognormal", "power_law")))
def test_pooling_distribution_is_one_of_the_known(bad: str) -> None:
    with pytest.raises(SpecError, match="one of 'fixed'"):
        PoolingSpec(4.0, distribution=bad)


@given(st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0), st.just(math.nan)))
def test_reuse_fraction_is_in_unit_interval(bad: float) -> None:
    with pytest.raises(SpecError, match="reuse_fraction"):
        PopularitySpec(reuse_fraction=bad)


def test_heavy_hitters_must_leave_room_for_the_law() -> None:
    with pytest.raises(SpecError, match="summing to < 1"):
        PopularitySpec(heavy_hitters=(0.6, 0.5))


@given(BAD_RATES)
def test_socket_bandwidth_must_be_positive(bad: object) -> None:
    with pytest.raises(SpecError, match=r"CpuSocketSpec\.mem_bw_bytes_per_s"):
        socket(mem_bw_bytes_per_s=bad)


@given(BAD_RATES)
def test_link_bandwidth_must_be_positive(bad: object) -> None:
    with pytest.raises(SpecError, match=r"LinkSpec\.bw_bytes_per_s"):
        LinkSpec(bad)  # type: ignore[arg-type]


@given(st.sampled_from(["cpu_compute_efficiency", "gpu_gather_efficiency", "hbm_usable_fraction"]),
       st.one_of(st.floats(min_value=1.0001, max_value=1e9), st.floats(max_value=0.0)))
def test_efficiencies_are_fractions(name: str, bad: float) -> None:
    with pytest.raises(SpecError, match=name):
        EfficiencySpec(**{name: bad})


def test_model_needs_tables_with_unique_names() -> None:
    with pytest.raises(SpecError, match="unique table names"):
        ModelSpec("m", 13, (table(), table()), (64,), (32,))
    with pytest.raises(SpecError, match="at least one table"):
        ModelSpec("m", 13, (), (64,), (32,))


def test_dot_interaction_needs_one_dimension() -> None:
    tables = (table(name="a", dim=16), table(name="b", dim=32))
    with pytest.raises(SpecError, match="one dimension"):
        ModelSpec("m", 13, tables, (64,), (32,), interaction="dot")
    assert ModelSpec("m", 13, tables, (64,), (32,), interaction="cat").interaction_width == 64 + 16 + 32


@given(st.sampled_from(["bytes_per_element", "optimizer", "interaction"]))
def test_model_enumerations_are_checked(name: str) -> None:
    with pytest.raises(SpecError, match=f"ModelSpec.{name}"):
        ModelSpec("m", 13, (table(),), (64,), (32,), **{name: 3})  # type: ignore[arg-type]


def test_model_derived_figures_follow_from_fields() -> None:
    model = ModelSpec("m", 10, (table(name="a", rows=100, dim=8), table(name="b", rows=50, dim=8)),
                      (16,), (4,), optimizer="rowwise_adagrad")
    assert model.embedding_bytes == (100 + 50) * 8 * 4
    assert model.optimizer_state_bytes == (100 + 50) * 4
    # bottom 10 -> 16 -> 8; interaction: 8 + C(3, 2) = 11; top 11 -> 4 -> 1
    assert model.bottom_layer_widths == (10, 16, 8)
    assert model.top_layer_widths == (11, 4, 1)
    assert model.dense_parameters == (10 * 16 + 16) + (16 * 8 + 8) + (11 * 4 + 4) + (4 * 1 + 1)


def test_specs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        table().rows = 5  # type: ignore[misc]


def test_nvlink_matrix_must_be_square_symmetric_without_self_links() -> None:
    with pytest.raises(SpecError, match="symmetric"):
        server(nvlink_links=((0, 1), (2, 0)))
    with pytest.raises(SpecError, match="no self link"):
        server(nvlink_links=((1, 1), (1, 0)))
    with pytest.raises(SpecError, match="2 x 2 matrix"):
        server(nvlink_links=((0, 1, 1), (1, 0, 1), (1, 1, 0)))


def test_every_gpu_sits_on_exactly_one_switch() -> None:
    link = LinkSpec(1e10)
    with pytest.raises(SpecError, match="on none"):
        server(pcie_switches=(PcieSwitchSpec(0, (0,), link, link),))
    with pytest.raises(SpecError, match="each on one switch"):
        server(pcie_switches=(PcieSwitchSpec(0, (0, 1), link, link), PcieSwitchSpec(0, (1,), link, link)))
    with pytest.raises(SpecError, match="socket index below 1"):
        server(pcie_switches=(PcieSwitchSpec(3, (0, 1), link, link),))


def test_two_sockets_need_an_inter_socket_link() -> None:
    with pytest.raises(SpecError, match="inter_socket"):
        server(sockets=(socket(), socket()))


@given(st.sampled_from(["batch_size", "trainers", "hogwild_threads", "easgd_period"]), BAD_COUNTS)
def test_job_counts_must_be_positive(name: str, bad: object) -> None:
    with pytest.raises(SpecError, match=f"JobSpec.{name}"):
        JobSpec("j", "m", "p", **{"batch_size": 10, name: bad})  # type: ignore[arg-type]


@given(st.sampled_from(["sparse_ps", "dense_ps", "readers"]), st.integers(max_value=-1))
def test_job_server_counts_are_not_negative(name: str, bad: int) -> None:
    with pytest.raises(SpecError, match=f"JobSpec.{name}"):
        JobSpec("j", "m", "p", batch_size=10, **{name: bad})  # type: ignore[arg-type]


def test_remote_placement_needs_sparse_parameter_servers() -> None:
    with pytest.raises(SpecError, match="sparse_ps"):
        JobSpec("j", "m", "p", batch_size=10, placement=PlacementSpec("remote"))


@given(st.sampled_from(["kind", "sharding", "packing"]), st.text(max_size=8))
def test_placement_options_are_checked(name: str, bad: str) -> None:
    valid = {"kind": ("gpu", "system", "remote", "hybrid"), "sharding": ("table_wise", "row_wise"),
             "packing": ("packed", "spread")}
    if bad in valid[name]:
        return
    with pytest.raises(SpecError, match=f"PlacementSpec.{name}"):
        PlacementSpec(**{name: bad})
