"""Validation results: one row per configuration, error statistics, table, JSON and plot."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from calibrate.fit import error_summary
from dlrmsim.figures import new_figure, seaborn_theme
from dlrmsim.output import format_table
from dlrmsim.validate.drift import drift_text
from sim.arguments import check_path
from sim.errors import DlrmsimInputError
from sim.notes import weak_fit_note
from traces.atomic import atomic_output
from traces.errors import TraceError

BAND = 0.10  # the +-10% band drawn around y = x (the accuracy bar for the median)


@dataclass(frozen=True)
class ValidationRow:
    """One configuration: measured and predicted step time (s) and signed relative errors.
    `skipped` holds the reason when the configuration could not run; times are then None."""

    name: str
    batch_size: int
    measured_s: float | None
    predicted_s: float | None
    error: float | None
    analytic_s: float | None
    analytic_error: float | None
    skipped: str | None = None
    rounds_s: tuple[float, ...] | None = None  # each round's median step time (s)
    # Seconds of each phase group of the step (dlrmsim/validate/phases.py): measured, and as
    # the calibrated simulation predicts them
    measured_phases_s: dict[str, float] | None = None
    predicted_phases_s: dict[str, float] | None = None


def signed_error(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured."""
    return (predicted - measured) / measured


def summary(errors: Sequence[float]) -> dict[str, float | None]:
    """Median, 90th percentile and maximum of absolute errors (None when there are none)."""
    stats = error_summary(errors)
    return {"median_abs_error": stats["median_abs_rel"], "p90_abs_error": stats["p90_abs_rel"],
            "max_abs_error": stats["max_abs_rel"]}


def phase_errors(rows: Sequence[ValidationRow]) -> dict[str, dict[str, float | None]]:
    """Per phase of the step, over the configurations with both sides: the median share of
    the measured phases' sum it takes, the median signed error of the calibrated prediction,
    and the median, 90th percentile and maximum absolute error."""
    pairs = [(r.measured_phases_s, r.predicted_phases_s) for r in rows
             if r.measured_phases_s and r.predicted_phases_s]
    out: dict[str, dict[str, float | None]] = {}
    for phase in dict.fromkeys(p for measured, _ in pairs for p in measured):
        both = [(m[phase], p[phase]) for m, p in pairs if m.get(phase, 0) > 0 and phase in p]
        if not both:
            continue
        errors = [signed_error(predicted, measured) for measured, predicted in both]
        shares = [m[phase] / sum(m.values()) for m, p in pairs if m.get(phase, 0) > 0]
        out[phase] = {"median_share": float(np.median(shares)),
                      "median_error": float(np.median(errors)), **summary(errors)}
    return out


def to_json(rows: Sequence[ValidationRow], meta: dict[str, Any]) -> dict[str, Any]:
    measured = [r for r in rows if r.error is not None]
    analytic = [r.analytic_error for r in rows if r.analytic_error is not None]
    return {
        **meta,
        "configs": [asdict(r) for r in rows],
        **summary([r.error for r in measured if r.error is not None]),
        "analytic": summary(analytic),
        "phases": phase_errors(rows),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.2f}"


def table_text(rows: Sequence[ValidationRow]) -> str:
    body = [(r.name, r.batch_size, _ms(r.measured_s), _ms(r.predicted_s), _pct(r.error),
             _ms(r.analytic_s), _pct(r.analytic_error), r.skipped or "") for r in rows]
    headers = ("config", "batch", "measured_ms", "calibrated_ms", "error", "analytic_ms",
               "analytic_error", "note")
    return format_table(headers, body)


def summary_text(data: dict[str, Any]) -> str:
    def line(label: str, stats: dict[str, Any]) -> str:
        if stats.get("median_abs_error") is None:
            return f"{label}: no configuration measured"
        return (f"{label}: median |error| {stats['median_abs_error']:.1%}, "
                f"p90 {stats['p90_abs_error']:.1%}, max {stats['max_abs_error']:.1%}")
    lines = [profile_line(data), line("calibrated (profile)", data)]
    if data.get("uncalibrated_ops"):  # else "calibrated" would pass for the analytic model
        lines.append(f"  not in the profile, charged at analytic costs: "
                     f"{', '.join(data['uncalibrated_ops'])}")
    if data.get("weak_fits"):  # fits calibrate called too weak, used all the same
        lines.append(f"  {weak_fit_note(data['profile'], data['weak_fits'], data.get('mode', ''))}")
    lines.append(line("analytic (nominal rates)", data["analytic"]))
    drift = drift_text(data.get("drift") or {})
    if drift:
        lines.append(drift)
    phases = data.get("phases") or {}
    if phases:
        rows = [(phase, f"{s['median_share']:.0%}", _pct(s["median_error"]),
                 f"{s['median_abs_error']:.1%}", f"{s['p90_abs_error']:.1%}")
                for phase, s in phases.items()]
        lines += ["calibrated prediction by phase of the step (median over configurations):",
                  format_table(("phase", "share of step", "signed error", "|error|",
                                "p90 |error|"), rows)]
    return "\n".join(lines)


def profile_line(data: dict[str, Any]) -> str:
    """Which profile the calibrated column came from: its path, mode and host, so that a table
    kept without the command line still says what it validated."""
    host = data.get("host") or {}
    where = ", ".join(str(host[k]) for k in ("hostname", "cpu_model", "gpu_name") if host.get(k))
    mode = data.get("mode") or "unknown"
    return (f"profile: {data.get('profile')} ({mode} mode, {data.get('device')}, "
            f"measured on {where or 'an unnamed host'})")


def check_plot_path(path: Path) -> None:
    """Raise DlrmsimInputError when the plot could not be written at `path`: a folder, an
    image format matplotlib does not write, or a place where no file can be made. Called
    before measuring, so that a bad --plot does not cost the minutes of a run."""
    if path.is_dir():
        raise DlrmsimInputError(f"--plot {path} is a folder; give a file name, e.g. "
                                f"{path / 'validate.png'}")
    _check_format(path)
    folder = _nearest_existing(path.parent)
    try:  # the missing folders below `folder` are made when the plot is written
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as err:
        raise DlrmsimInputError(f"--plot {path}: cannot write in {folder} ({err.strerror}); "
                                "give a path in a folder you can write") from err


def _check_format(path: Path) -> None:
    """DlrmsimInputError unless matplotlib writes an image format of `path`'s extension."""
    from matplotlib.backend_bases import FigureCanvasBase

    if path.suffix.lstrip(".").lower() not in FigureCanvasBase.get_supported_filetypes():
        raise DlrmsimInputError(f"--plot {path}: end the name with an image extension that "
                                "matplotlib writes, e.g. .png, .svg or .pdf")


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def write_plot(rows: Sequence[ValidationRow], path: str | os.PathLike[str]) -> None:
    """Predicted against measured step time, log-log, with y = x and a +-10% band.

    Written whole or not at all; raises DlrmsimInputError when it cannot be written, and
    before drawing when matplotlib has no format for its name."""
    check_path("path", path, "the image file to write, e.g. validate.png", optional=False)
    path = Path(path)
    _check_format(path)  # savefig's own refusal is a raw ValueError
    done = [(r.measured_s, r.predicted_s, r.analytic_s) for r in rows
            if r.measured_s is not None and r.predicted_s is not None]
    if not done:
        return
    with seaborn_theme("whitegrid"):  # the caller's style and backend stay as they were
        _draw_and_save(done, path)


def _draw_and_save(done: Sequence[tuple[float, float, float | None]], path: Path) -> None:
    """The plot of write_plot from (measured, predicted, analytic) step times in seconds."""
    fig = new_figure(figsize=(6, 6))
    ax = fig.subplots()
    measured = [m for m, _, _ in done]
    lo, hi = min(measured) / 2, max(measured) * 2
    line = np.geomspace(lo, hi, 50)
    ax.fill_between(line, line * (1 - BAND), line * (1 + BAND), color="0.85", label="±10%")
    ax.plot(line, line, color="0.3", lw=1, label="y = x")
    ax.scatter(measured, [p for _, p, _ in done], label="calibrated", zorder=3)
    analytic = [(m, a) for m, _, a in done if a is not None]
    if analytic:
        ax.scatter(*zip(*analytic, strict=True), marker="x", label="analytic (nominal)", zorder=3)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), xlabel="measured step time (s)",
           ylabel="predicted step time (s)", title="dlrmsim validate: predicted vs measured")
    ax.legend(loc="upper left")
    fig.tight_layout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as handle:  # whole or not at all
            fig.savefig(handle, dpi=120, format=path.suffix.lstrip(".").lower())
    except (OSError, TraceError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise DlrmsimInputError(f"cannot write the plot {path} ({reason}); the results above "
                                "are complete, only the plot is missing") from err

