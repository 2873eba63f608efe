"""Op specs for the compute kernels: embedding bags (torch and FBGEMM), MLP layers and the dot
interaction, with their designs, cost-model terms and planning estimates."""

from __future__ import annotations

from collections.abc import Callable

from calibrate.context import Context
from calibrate.grid import Axis, Design
from calibrate.host import COLD_ROTATION_FACTOR
from calibrate.kernels.embedding import EmbeddingKernel
from calibrate.kernels.fbgemm import FbgemmKernel
from calibrate.kernels.interaction import InteractionKernel, interaction_bytes
from calibrate.kernels.mlp import MlpKernel, layer_bytes
from calibrate.kernels.rotation import rotation_bytes, rotation_copies
from calibrate.kernels.step_glue import LossKernel, OptimizerStepKernel, optimizer_sets
from calibrate.opspec import KernelFactory, OpSpec
from calibrate.types import Kernel, Params

FP32_BYTES = 4  # bytes per float32 element (IEEE 754 binary32)
INDEX_BYTES = 8  # bytes per int64 index
ZIPF_CHOICES = (0.0, 1.05, 1.15)  # exponents the issue asks for; 0 means uniform
# Backward-plus-update work relative to the forward gather (dimensionless, a-priori guess):
# SGD scatters every lookup's gradient; row-wise Adagrad also sorts and coalesces them.
LOOKUP_PRIOR_S = 5e-9  # seconds of index handling per lookup, planning guess (a few cycles)
WORKSPACE_COPIES = 3  # backward temporaries: repeated gradients, coalesced rows, scaled update
_BACKWARD_FACTOR = {"forward": 1.0, "sgd": 2.5, "rowwise_adagrad": 5.0}
# Cache misses make a lookup dearer as the table grows: the rows**0.25 terms let the cost per
# lookup and per element rise smoothly with table size (chosen by leave-one-out error on the
# development VM's quick profile over integer-only terms), and pieces split on rows and zipf_s
# catch the steps between cache levels.
EMBEDDING_TERMS: tuple[dict[str, float], ...] = (
    {},  # per call
    {"batch": 1, "pooling": 1},  # per lookup
    {"batch": 1, "pooling": 1, "dim": 1},  # per element gathered (x 4 bytes, fp32)
    {"batch": 1, "dim": 1},  # per pooled output element
    {"batch": 1, "pooling": 1, "rows": 0.25},  # per lookup, growing with table size
    {"batch": 1, "pooling": 1, "dim": 1, "rows": 0.25},  # per element, growing with table size
    # Per element of the backward's per-lookup gradient workspace (repeated gradients, sorted
    # copies), dearer as the workspace outgrows the caches. On the first full CPU profile it cut
    # the leave-one-out median error of row-wise Adagrad from 20% to 12% and of SGD from 12% to
    # 11%, the forward unchanged (a calibration-only check; no end-to-end step was used).
    {"batch": 1.25, "pooling": 1.25, "dim": 1},
)
# torch's kernels also report the distinct rows of each call (EmbeddingKernel.observed_params):
# the optimizer reads and writes each distinct row once, and fewer distinct rows mean more cache
# hits. Adding these two terms cut the leave-one-out median error of the three ops on the
# development VM's first full profile from 15-17% to 9-13% (a calibration-only check).
UNIQUE_TERMS: tuple[dict[str, float], ...] = (
    {"unique_rows": 1},  # per distinct row
    {"unique_rows": 1, "dim": 1},  # per element of a distinct row
)
EMBEDDING_SPLIT_PARAMS = ("rows", "zipf_s")  # pieces of the embedding fits: cache regimes, skew


def _embedding_axes(ctx: Context) -> tuple[Axis, ...]:
    rows_hi = 1e8 if ctx.on_gpu else 1e7  # issue 4: 1e3..1e7 on CPU, more on a GPU
    quick = ctx.settings.name == "quick"
    return (
        Axis("rows", 1e3, rows_hi),
        Axis("dim", 16, 256, choices=(16.0, 64.0, 256.0) if quick else
             (16.0, 32.0, 64.0, 128.0, 256.0)),
        Axis("pooling", 1, 128),
        Axis("batch", 64, 65536),
        Axis("zipf_s", 0, 1.15, integer=False, choices=ZIPF_CHOICES),
    )


def _embedding_design(ctx: Context, extra: dict[str, float] | None = None) -> Design:
    centres = [{"rows": 1e5, "dim": 64.0, "pooling": 16.0, "batch": 1024.0, "zipf_s": 1.05}]
    if ctx.settings.second_centre:
        centres.append({"rows": 2e6, "dim": 128.0, "pooling": 32.0, "batch": 4096.0,
                        "zipf_s": 0.0})
        # Small calls (2k lookups, 8x fewer than the first centre), where per-call and
        # per-row costs weigh most: the first centre's sweeps reach them one axis at a time
        # only, and the fits ran 15-35% low there against the kernels timed alone.
        centres.append({"rows": 3e4, "dim": 32.0, "pooling": 8.0, "batch": 256.0,
                        "zipf_s": 1.05})
    return Design(_embedding_axes(ctx), tuple(centres), ctx.settings.sweep_points,
                  ctx.settings.lhs_points, fixed=extra or {})


def _maker(kind: type, direction: str, ctx: Context) -> KernelFactory:
    """A factory of `kind(params, direction, device, seed, flush_bytes)` kernels."""

    def make(params: dict[str, float], seed: int) -> Kernel:
        kernel: Kernel = kind(params, direction, ctx.device, seed, ctx.flush_bytes)
        return kernel

    return make


def _half_if_backward(estimate: Callable[[Params], float], direction: str
                      ) -> Callable[[Params], float]:
    """A backward call's untimed forward in `prepare` costs about half the backward."""
    return lambda p: estimate(p) / 2 if direction == "backward" else 0.0


Estimates = tuple[Callable[[Params], float], ...]


def _embedding_estimates(ctx: Context, direction: str, tables_key: str | None) -> Estimates:
    rates = ctx.priors

    def tables(p: Params) -> float:
        return p[tables_key] if tables_key else 1.0

    def estimate_s(p: Params) -> float:
        lookups = tables(p) * p["batch"] * p["pooling"]
        gathered = lookups * p["dim"] * FP32_BYTES
        return rates.call_overhead_s + _BACKWARD_FACTOR[direction] * (
            gathered / rates.gather_bytes_per_s + lookups * LOOKUP_PRIOR_S)

    def prepare_s(p: Params) -> float:
        forward_s = estimate_s(p) if direction != "forward" and tables_key else 0.0
        return tables(p) * p["batch"] * p["pooling"] * rates.index_s_per_lookup + forward_s

    def table_set_bytes(p: Params) -> float:
        one = tables(p) * p["rows"] * p["dim"] * FP32_BYTES
        return one * rotation_copies(one, ctx.flush_bytes)

    def setup_s(p: Params) -> float:
        cdf_s = p["rows"] * 5e-8 if p["zipf_s"] > 0 else 0.0  # measured: 0.5 s for 1e7 rows
        return table_set_bytes(p) / rates.fill_bytes_per_s + cdf_s

    def memory_bytes(p: Params) -> float:
        lookups = tables(p) * p["batch"] * p["pooling"]
        workspace = (WORKSPACE_COPIES * lookups * p["dim"] * FP32_BYTES
                     if direction != "forward" else 0.0)
        cdf = p["rows"] * 8 if p["zipf_s"] > 0 else 0.0
        return table_set_bytes(p) + workspace + cdf + 4 * lookups * INDEX_BYTES

    return estimate_s, prepare_s, setup_s, memory_bytes


def embedding_specs(ctx: Context) -> list[OpSpec]:
    """`embedding_forward`, `embedding_backward_sgd`, `embedding_backward_rowwise_adagrad`."""
    specs = []
    for op, direction in (("embedding_forward", "forward"), ("embedding_backward_sgd", "sgd"),
                          ("embedding_backward_rowwise_adagrad", "rowwise_adagrad")):
        estimate_s, prepare_s, setup_s, memory_bytes = _embedding_estimates(ctx, direction, None)
        specs.append(OpSpec(
            name=op, backend="torch",
            params=("batch", "rows", "dim", "pooling", "zipf_s", "unique_rows"),
            design=_embedding_design(ctx), terms=EMBEDDING_TERMS + UNIQUE_TERMS,
            split_params=EMBEDDING_SPLIT_PARAMS,
            estimate_s=estimate_s, prepare_s=prepare_s, setup_s=setup_s,
            memory_bytes=memory_bytes, shrink_for_memory=("rows", "batch"),
            shrink_for_time=("batch", "pooling"),
            make=_maker(EmbeddingKernel, direction, ctx)))
    return specs


COLD_MAX_COPIES = 512  # table copies at most (count): tiny tables stop short of the rotation
COLD_SWEEP_POINTS = 8  # table sizes (count), log-spaced over the rows axis
COLD_ROWS_HI = 4e6  # rows: a 1 GB table at dim 64, so a rotation of a few copies fits in memory


def working_set_specs(ctx: Context) -> list[OpSpec]:
    """`embedding_*_cold`: the three torch embedding ops at the first design centre's batch,
    pooling, dimension and skew, over table sizes, each call on another of as many table copies
    as fill COLD_ROTATION_FACTOR x the flush size, each followed by the same kernel with the
    usual rotation. A step cycles through all of its tables, so a large model's calls run colder
    than calibration's usual rotation leaves them; the profile keeps, per table size, how much
    slower (`working_set_ratios`), and sim/ scales an embedding call by it as far as the step's
    tables exceed the usual rotation. Not fitted themselves."""
    cold = COLD_ROTATION_FACTOR * ctx.flush_bytes
    centre = {"rows": 1e5, "dim": 64.0, "pooling": 16.0, "batch": 1024.0, "zipf_s": 1.05}
    fixed = {k: v for k, v in centre.items() if k != "rows"}
    design = Design((Axis("rows", 1e3, COLD_ROWS_HI),), ({"rows": centre["rows"]},),
                    COLD_SWEEP_POINTS, 0, fixed=fixed)
    specs = []
    for base, direction in (("embedding_forward", "forward"), ("embedding_backward_sgd", "sgd"),
                            ("embedding_backward_rowwise_adagrad", "rowwise_adagrad")):
        estimate_s, prepare_s, _, _ = _embedding_estimates(ctx, direction, None)

        def cold_bytes(p: Params) -> float:
            return rotation_bytes(p["rows"] * p["dim"] * FP32_BYTES, cold, COLD_MAX_COPIES)

        def make(params: dict[str, float], seed: int, d: str = direction) -> Kernel:
            return EmbeddingKernel(params, d, ctx.device, seed, cold, COLD_MAX_COPIES)

        def make_usual(params: dict[str, float], seed: int, d: str = direction) -> Kernel:
            return EmbeddingKernel(params, d, ctx.device, seed, ctx.flush_bytes)

        specs.append(OpSpec(
            name=f"{base}_cold", backend="torch",
            params=("batch", "rows", "dim", "pooling", "zipf_s", "unique_rows"),
            design=design, terms=(), estimate_s=estimate_s, prepare_s=prepare_s,
            setup_s=lambda p: cold_bytes(p) / ctx.priors.fill_bytes_per_s,
            memory_bytes=lambda p: cold_bytes(p) + 64 * p["batch"] * p["pooling"] * p["dim"],
            shrink_for_memory=("rows",), make=make, ratio_of=base, paired_make=make_usual))
    return specs


def fbgemm_specs(ctx: Context) -> list[OpSpec]:
    """The same three ops on FBGEMM's batched kernel, `fbgemm_` prefixed, with `tables`."""
    terms = tuple({**t, "tables": 1} for t in EMBEDDING_TERMS)
    specs = []
    for op, direction in (("fbgemm_embedding_forward", "forward"),
                          ("fbgemm_embedding_backward_sgd", "sgd"),
                          ("fbgemm_embedding_backward_rowwise_adagrad", "rowwise_adagrad")):
        estimate_s, prepare_s, setup_s, memory_bytes = _embedding_estimates(ctx, direction,
                                                                            "tables")
        base = _embedding_design(ctx)
        design = Design((*base.axes, Axis("tables", 1, 16)),
                        tuple({**c, "tables": 4.0} for c in base.centres),
                        base.sweep_points, base.lhs_points)
        specs.append(OpSpec(
            name=op, backend="fbgemm",
            params=("batch", "rows", "dim", "pooling", "zipf_s", "tables"),
            design=design, terms=terms, split_params=EMBEDDING_SPLIT_PARAMS,
            estimate_s=estimate_s, prepare_s=prepare_s, setup_s=setup_s,
            memory_bytes=memory_bytes, shrink_for_memory=("rows", "tables", "batch"),
            shrink_for_time=("batch", "pooling", "tables"),
            make=_maker(FbgemmKernel, direction, ctx)))
    return specs


def mlp_specs(ctx: Context) -> list[OpSpec]:
    """`mlp_forward` and `mlp_backward` of one Linear+ReLU layer."""
    batch_hi = 65536 if ctx.on_gpu else 4096  # issue 4: batch and widths 64..4096 (more on GPU)
    axes = (Axis("batch", 64, batch_hi), Axis("in_features", 64, 4096),
            Axis("out_features", 64, 4096))
    centres = [{"batch": 512.0, "in_features": 512.0, "out_features": 512.0}]
    if ctx.settings.second_centre:
        centres.append({"batch": 2048.0, "in_features": 1024.0, "out_features": 256.0})
    design = Design(axes, tuple(centres), ctx.settings.sweep_points + 1, ctx.settings.lhs_points)
    terms: tuple[dict[str, float], ...] = ({}, {"batch": 1, "in_features": 1, "out_features": 1},
             {"batch": 1, "in_features": 1}, {"batch": 1, "out_features": 1},
             {"in_features": 1, "out_features": 1})
    specs = []
    for op, direction, flop_factor in (("mlp_forward", "forward", 2.0),
                                       ("mlp_backward", "backward", 4.0)):
        def estimate_s(p: Params, f: float = flop_factor) -> float:
            flops = f * p["batch"] * p["in_features"] * p["out_features"]
            moved = layer_bytes(p["batch"], p["in_features"], p["out_features"])
            return (ctx.priors.call_overhead_s * 3  # 3 ops: matmul, bias, relu
                    + flops / ctx.priors.flops_per_s
                    + f / 2 * moved / ctx.priors.stream_bytes_per_s)

        def memory_bytes(p: Params) -> float:
            one = layer_bytes(p["batch"], p["in_features"], p["out_features"])
            return 3 * one * rotation_copies(one, ctx.flush_bytes)  # inputs, outputs, grads

        specs.append(OpSpec(
            name=op, backend="torch", params=("batch", "in_features", "out_features"),
            design=design, terms=terms, split_params=("batch", "in_features", "out_features"),
            estimate_s=estimate_s, memory_bytes=memory_bytes,
            prepare_s=_half_if_backward(estimate_s, direction),
            shrink_for_memory=("batch",), shrink_for_time=("batch",),
            make=_maker(MlpKernel, direction, ctx)))
    return specs


def interaction_specs(ctx: Context) -> list[OpSpec]:
    """`interaction_forward` and `interaction_backward` (features = tables + 1)."""
    axes = (Axis("batch", 64, 65536), Axis("features", 2, 128),
            Axis("dim", 16, 256, choices=(16.0, 32.0, 64.0, 128.0, 256.0)))
    centres = [{"batch": 1024.0, "features": 27.0, "dim": 64.0}]
    if ctx.settings.second_centre:
        centres.append({"batch": 4096.0, "features": 101.0, "dim": 128.0})
    design = Design(axes, tuple(centres), ctx.settings.sweep_points + 1, ctx.settings.lhs_points)
    terms: tuple[dict[str, float], ...] = (
        {}, {"batch": 1, "features": 2, "dim": 1}, {"batch": 1, "features": 1, "dim": 1},
        {"batch": 1, "features": 2})
    specs = []
    for op, direction, factor in (("interaction_forward", "forward", 1.0),
                                  ("interaction_backward", "backward", 2.0)):
        def estimate_s(p: Params, f: float = factor) -> float:
            flops = 2 * p["batch"] * p["features"] ** 2 * p["dim"]
            moved = interaction_bytes(p["batch"], p["features"], p["dim"])
            return ctx.priors.call_overhead_s * 6 + f * (
                flops / ctx.priors.flops_per_s  # cat, bmm and gather each pass over the data:
                + 3 * moved / ctx.priors.stream_bytes_per_s)

        def memory_bytes(p: Params) -> float:
            one = interaction_bytes(p["batch"], p["features"], p["dim"])
            return 6 * one + one * rotation_copies(one, ctx.flush_bytes, max_copies=8)

        specs.append(OpSpec(
            name=op, backend="torch", params=("batch", "features", "dim"), design=design,
            terms=terms, split_params=("batch", "features"), estimate_s=estimate_s,
            memory_bytes=memory_bytes, shrink_for_memory=("batch",), shrink_for_time=("batch",),
            prepare_s=_half_if_backward(estimate_s, direction),
            make=_maker(InteractionKernel, direction, ctx)))
    return specs


def step_glue_specs(ctx: Context) -> list[OpSpec]:
    """`dense_optimizer_step` (SGD over the MLP parameters) and `loss` (BCE, both passes)."""
    sweep_points = ctx.settings.sweep_points
    # the MLPs of the test suite hold 2 tensors per layer, 1e3 to 3e7 parameters in all
    optimizer_design = Design(
        (Axis("tensors", 2, 32), Axis("elements", 1e3, 3e7)),
        ({"tensors": 8.0, "elements": 3e5},), sweep_points, ctx.settings.lhs_points)

    def optimizer_estimate_s(p: Params) -> float:
        moved = 3 * p["elements"] * FP32_BYTES  # read weight and gradient, write weight
        return ctx.priors.call_overhead_s * (1 + p["tensors"]) + moved / ctx.priors.stream_bytes_per_s

    loss_design = Design((Axis("batch", 64, 65536),), ({"batch": 1024.0},), sweep_points + 1,
                         ctx.settings.lhs_points // 2)

    def loss_estimate_s(p: Params) -> float:
        # sigmoid, log terms, mean and their gradients: about 8 elementwise operators
        return ctx.priors.call_overhead_s * 8 + 8 * p["batch"] * FP32_BYTES / ctx.priors.stream_bytes_per_s

    return [
        OpSpec(name="dense_optimizer_step", backend="torch", params=("tensors", "elements"),
               design=optimizer_design,
               terms=({}, {"tensors": 1}, {"elements": 1}), split_params=("elements",),
               estimate_s=optimizer_estimate_s,
               memory_bytes=lambda p: 2 * p["elements"] * FP32_BYTES * optimizer_sets(
                   p["elements"], ctx.flush_bytes),
               setup_s=lambda p: 2 * p["elements"] * FP32_BYTES * optimizer_sets(
                   p["elements"], ctx.flush_bytes) / ctx.priors.init_bytes_per_s,
               shrink_for_memory=("elements",), shrink_for_time=("elements",),
               make=_maker(OptimizerStepKernel, "step", ctx)),
        OpSpec(name="loss", backend="torch", params=("batch",), design=loss_design,
               terms=({}, {"batch": 1}), estimate_s=loss_estimate_s,
               memory_bytes=lambda p: 6 * p["batch"] * FP32_BYTES,
               prepare_s=lambda p: p["batch"] * FP32_BYTES / ctx.priors.init_bytes_per_s,
               shrink_for_memory=("batch",), shrink_for_time=("batch",),
               make=_maker(LossKernel, "forward_backward", ctx)),
    ]
