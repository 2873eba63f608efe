"""The claims of Section V (Figures 10 to 13, the test suite) and their checks: the statement
is our paraphrase with its section, the method says what is computed, and the verdict comes from
the rows of the run (never from a fixed answer)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlrmsim.reproduce.claims import (
    MissingData,
    falls,
    fmt,
    fmt_list,
    knee,
    need,
    paired,
    series,
    verdict,
)
from dlrmsim.reproduce.types import Claim, Rows, Verdict

# Thresholds that turn the paper's words into numbers (ours, stated in each claim's method).
LINEAR_DOUBLING = 1.8      # "grows about linearly": doubling a small batch gives >= 1.8x
SATURATED_DOUBLING = 1.2   # "saturates": doubling the largest batch gives < 1.2x
FLAT_FRACTION = 0.90       # "hardly depends": every point >= 90% of the best
HARDLY_CHANGES = 0.85      # "does not change much" up to 256 units: >= 85% of the 64-unit value
# "falls significantly" (V-C): the largest hash size at least 30% below the smallest. The findings
# test asked 30% and the report 10% until both were made to read this one catalog; the stricter
# bar was kept (ours, from the word "significantly"; the paper gives no figure).
FALLS_SIGNIFICANTLY = 0.30


def _features_fall(rows: Rows) -> Verdict:
    data = need(rows, "fig10")
    parts = {f"{sweep} on {setup}": [v for _, v in series(data, sweep, setup)]
             for sweep in ("dense_features", "sparse_features") for setup in ("cpu", "gpu")}
    bad = [k for k, v in parts.items() if not falls(v)]
    return verdict(not bad, "; ".join(f"{k}: {fmt_list(v)}" for k, v in parts.items()))


def _gpu_always_faster(rows: Rows) -> Verdict:
    data, ratios = need(rows, "fig10"), []
    for sweep in ("dense_features", "sparse_features"):
        ratios += [g / c for _, c, g in paired(data, sweep)]
    return verdict(min(ratios) > 1, f"Big Basin / CPU throughput from {fmt(min(ratios))} to "
                                    f"{fmt(max(ratios))}")


def _efficiency_ratios(rows: Rows, sweep: str) -> list[float]:
    return [g / c for _, c, g in paired(need(rows, "fig10"), sweep, "examples_per_joule")]


def _gpu_not_always_efficient(rows: Rows) -> Verdict:
    ratios = _efficiency_ratios(rows, "dense_features") + _efficiency_ratios(rows, "sparse_features")
    return verdict(min(ratios) < 1, f"Big Basin / CPU examples per joule from {fmt(min(ratios))} "
                                    f"to {fmt(max(ratios))}")


def _efficiency_best_with_dense(rows: Rows) -> Verdict:
    ratios = _efficiency_ratios(rows, "dense_features")
    return verdict(int(np.argmax(ratios)) == len(ratios) - 1,
                   f"Big Basin / CPU examples per joule along dense features: {fmt_list(ratios)}")


def _batch_linear_then_saturates(rows: Rows) -> Verdict:
    points = series(need(rows, "fig11"), "batch_size", "gpu")
    if len(points) < 3:  # the first doubling and the last must be two different steps
        raise MissingData(f"batch sizes {[b for b, _ in points]}: the claim needs at least three")
    first, last = points[1][1] / points[0][1], points[-1][1] / points[-2][1]
    ok = first >= LINEAR_DOUBLING and last < SATURATED_DOUBLING
    return verdict(ok, f"{points[0][0]}->{points[1][0]}: x{fmt(first)}; "
                       f"{points[-2][0]}->{points[-1][0]}: x{fmt(last)}")


def _cpu_knee_smaller(rows: Rows) -> Verdict:
    data = need(rows, "fig11")
    cpu, gpu = knee(series(data, "batch_size", "cpu")), knee(series(data, "batch_size", "gpu"))
    return verdict(cpu < gpu, f"smallest batch within 10% of the best: CPU {cpu}, Big Basin {gpu}")


def _cpu_flat_with_hash(rows: Rows) -> Verdict:
    values = [v for _, v in series(need(rows, "fig12"), "hash_size", "cpu")]
    return verdict(min(values) >= FLAT_FRACTION * max(values), f"CPU: {fmt_list(values)}")


def _gpu_falls_with_hash(rows: Rows) -> Verdict:
    points = series(need(rows, "fig12"), "hash_size", "gpu_packed")
    ok = points[-1][1] <= (1 - FALLS_SIGNIFICANTLY) * points[0][1]
    return verdict(ok, f"Big Basin, tables packed: {fmt(points[0][1])} at {points[0][0]:,} rows, "
                       f"{fmt(points[-1][1])} at {points[-1][0]:,}")


def _mlp_check(setup: str) -> Callable[[Rows], Verdict]:
    def check(rows: Rows) -> Verdict:
        at = dict(series(need(rows, "fig13"), "mlp_width", setup))
        if 64 not in at or 256 not in at:
            raise MissingData("MLP widths 64 and 256 were not both swept")
        ratio = at[256] / at[64]
        return verdict(ratio >= HARDLY_CHANGES, f"throughput at 256 / at 64 units: {fmt(ratio)}")
    return check


def _cpu_falls_more_beyond_256(rows: Rows) -> Verdict:
    both = paired(need(rows, "fig13"), "mlp_width")
    cpu = {width: c for width, c, _ in both}
    gpu = {width: g for width, _, g in both}
    top = max(cpu)
    if 256 not in cpu or top <= 256:
        raise MissingData("MLP widths 256 and above were not swept")
    cpu_fall, gpu_fall = cpu[256] / cpu[top], gpu[256] / gpu[top]
    return verdict(cpu_fall > gpu_fall, f"256 -> {top} units: CPU falls {fmt(cpu_fall)}x, "
                                        f"Big Basin {fmt(gpu_fall)}x")


def _claim(cid: str, exp: str, source: str, statement: str, method: str,
           check: Callable[[Rows], Verdict]) -> Claim:
    return Claim(cid, exp, source, statement, method, check)


CLAIMS = (
    _claim("V-A.1", "fig10", "Section V-A", "Throughput falls as dense or sparse features grow, "
           "on CPU and on Big Basin.", "each sweep: no step rises > 2%, last point >= 10% below "
           "the first", _features_fall),
    _claim("V-A.2", "fig10", "Section V-A", "Big Basin has higher throughput than the CPU setup "
           "in every configuration.", "Big Basin / CPU throughput > 1 at every swept point",
           _gpu_always_faster),
    _claim("V-A.3", "fig10", "Section V-A", "Big Basin (7.3x the power) is not always more "
           "power-efficient than the CPU setup.", "Big Basin / CPU examples per joule < 1 at "
           "some swept point", _gpu_not_always_efficient),
    _claim("V-A.4", "fig10", "Section V-A", "Big Basin's efficiency advantage is largest with "
           "the most dense features.", "Big Basin / CPU examples per joule is highest at the "
           "largest dense-feature count", _efficiency_best_with_dense),
    _claim("V-B.1", "fig11", "Section V-B", "Big Basin's throughput grows about linearly with "
           "the batch size, then saturates.", f"doubling the smallest batch gives >= "
           f"{LINEAR_DOUBLING}x; doubling the largest < {SATURATED_DOUBLING}x",
           _batch_linear_then_saturates),
    _claim("V-B.2", "fig11", "Section V-B", "The CPU setup's optimal batch is smaller than Big "
           "Basin's.", "smallest batch within 10% of the best throughput: CPU < Big Basin",
           _cpu_knee_smaller),
    _claim("V-C.1", "fig12", "Section V-C", "The CPU setup's throughput hardly depends on the "
           "hash size.", f"every point >= {FLAT_FRACTION:.0%} of the best", _cpu_flat_with_hash),
    _claim("V-C.2", "fig12", "Section V-C", "Big Basin's throughput falls once the tables need "
           "more GPUs.", f"tables packed on the fewest GPUs: largest hash size >= "
           f"{FALLS_SIGNIFICANTLY:.0%} below the smallest", _gpu_falls_with_hash),
    _claim("V-D.1", "fig13", "Section V-D", "Up to 256 units per layer, Big Basin's throughput "
           "hardly changes.", f"throughput at 256 >= {HARDLY_CHANGES:.0%} of that at 64",
           _mlp_check("gpu")),
    _claim("V-D.2", "fig13", "Section V-D", "Up to 256 units per layer, the CPU setup's "
           "throughput hardly changes.", f"throughput at 256 >= {HARDLY_CHANGES:.0%} of that "
           "at 64", _mlp_check("cpu")),
    _claim("V-D.3", "fig13", "Section V-D", "Beyond 256 units, the CPU setup's throughput falls "
           "more than Big Basin's.", "throughput(256) / throughput(widest): CPU > Big Basin",
           _cpu_falls_more_beyond_256),
)
