"""Draw the per-table hash sizes and mean lookups of the production-like models, once.

Run from the repository root: `python presets/tools/draw_prod_models.py`. It rewrites
`presets/models/m{1,2,3}_prod.yaml`. The numbers are drawn with a fixed seed and then stored in
the presets, so that they never change unless someone reruns this on purpose.

Method (Acun et al. HPCA 2021, Section IV and Figures 6-7; Table II for counts and averages):
- hash sizes: a bounded power law p(x) ~ x^-b on [30, 20M] rows; uniform draws u are mapped
  through its inverse CDF, the smallest draw pinned to 30 and the largest to 20M so the paper's
  range is met, and b chosen by bisection so that the table average equals Table II's;
- mean lookups per table: a bounded power law on [1, 12 x average] fitted the same way, drawn
  independently of the hash sizes (the paper: access frequency is not tied to size), so that a
  few tables take most of the lookups.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

SEED = 20210227  # HPCA 2021 conference date; any fixed value would do
HASH_MIN_ROWS, HASH_MAX_ROWS = 30, 20_000_000  # Section IV, Figure 6 range
MODELS = {
    # name: tables, dense, mean rows, mean lookups, dim, bottom, top, comment
    "m1_prod": (30, 800, 5.7e6, 28, 64, [512], [512, 512, 512]),
    "m2_prod": (13, 504, 7.3e6, 17, 64, [1024], [1024, 1024, 512]),
    "m3_prod": (127, 809, 3.7e6, 49, 256, [512], [512, 256, 512, 256, 512]),
}
DIM_NOTE = (
    "Table II gives no dimension; 64 for M1 and M2 gives tens of GB and 256 for M3 gives "
    "hundreds of GB, as the paper states (Section IV)"
)


def bounded_power_law(u: np.ndarray, lo: float, hi: float, b: float) -> np.ndarray:
    if abs(b - 1.0) < 1e-9:
        return lo * (hi / lo) ** u
    a = 1.0 - b
    return (lo**a + u * (hi**a - lo**a)) ** (1.0 / a)


def fit_exponent(u: np.ndarray, lo: float, hi: float, target_mean: float) -> float:
    """Bisection on b: the mean falls as b rises."""
    low, high = -5.0, 5.0
    for _ in range(200):
        mid = (low + high) / 2
        if bounded_power_law(u, lo, hi, mid).mean() > target_mean:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def pinned_uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.random(n)
    u[np.argmin(u)], u[np.argmax(u)] = 0.0, 1.0
    return u


def draw(name: str, rng: np.random.Generator) -> dict[str, object]:
    n, dense, mean_rows, mean_lookups, dim, bottom, top = MODELS[name]
    u_rows = pinned_uniforms(rng, n)
    b_rows = fit_exponent(u_rows, HASH_MIN_ROWS, HASH_MAX_ROWS, mean_rows)
    rows = np.rint(bounded_power_law(u_rows, HASH_MIN_ROWS, HASH_MAX_ROWS, b_rows)).astype(int)
    u_look = pinned_uniforms(rng, n)
    hi_look = 12.0 * mean_lookups
    b_look = fit_exponent(u_look, 1.0, hi_look, mean_lookups)
    lookups = np.round(bounded_power_law(u_look, 1.0, hi_look, b_look), 2)
    tables = [
        {"name": f"t{i:03d}", "rows": int(r), "pooling": {"mean_lookups": float(m)}}
        for i, (r, m) in enumerate(zip(rows, lookups, strict=True))
    ]
    return {
        "kind": "model",
        "name": name,
        "description": f"{name.split('_')[0].upper()} of Table II, per-table sizes drawn by "
        f"presets/tools/draw_prod_models.py (seed {SEED}); hash-size exponent b = {b_rows:.3f}, "
        f"lookup exponent b = {b_look:.3f}",
        "source": "Acun et al. HPCA 2021, Table II (tables, dense features, average lookups, "
        "MLP widths) and Section IV (hash sizes 30 to 20M, averages 5.7M/7.3M/3.7M)",
        "sources": {
            "dim": DIM_NOTE,
            "pooling": "lognormal, sigma 1.0 per bag around each table's mean (assumption: the "
            "paper gives only means)",
            "popularity": "Zipf s = 1.05 for every table (assumption; the skew of Meta's released "
            "traces, see shared/data locality stats, is of this order)",
            "optimizer": "row-wise Adagrad, the usual sparse optimizer of DLRM (assumption)",
        },
        "dense_features": dense,
        "bottom_mlp": bottom,
        "top_mlp": top,
        "interaction": "dot",
        "bytes_per_element": 4,
        "optimizer": "rowwise_adagrad",
        "table_defaults": {
            "dim": dim,
            "pooling": {"distribution": "lognormal", "sigma": 1.0},
            "popularity": {"law": "zipf", "zipf_s": 1.05},
        },
        "tables": tables,
    }


def main() -> None:
    rng = np.random.default_rng(SEED)
    out_dir = Path(__file__).resolve().parent.parent / "models"
    for name in MODELS:
        spec = draw(name, rng)
        head = {k: v for k, v in spec.items() if k != "tables"}
        text = yaml.safe_dump(head, sort_keys=False, width=100) + "tables:\n"
        # one table a line, so that a diff of the presets reads table by table
        text += "".join(f"  - {yaml.safe_dump(t, default_flow_style=True, width=200)}"
                        for t in spec["tables"])  # type: ignore[union-attr]
        (out_dir / f"{name}.yaml").write_text(
            "# Generated by presets/tools/draw_prod_models.py; edit that script, not this file.\n"
            + text
        )
        tables = spec["tables"]
        rows = [t["rows"] for t in tables]  # type: ignore[index,union-attr]
        means = [t["pooling"]["mean_lookups"] for t in tables]  # type: ignore[index,union-attr]
        print(f"{name}: {len(rows)} tables, rows {min(rows)}..{max(rows)} mean {np.mean(rows):.3g}, "
              f"lookups mean {np.mean(means):.3g} max {max(means)}")


if __name__ == "__main__":
    main()
