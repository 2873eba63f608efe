"""The numbers table beside each experiment's figure in the report, one function per kind of
experiment, all returning a doc.Table made from the rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dlrmsim.reproduce import table3
from dlrmsim.reproduce.claims import fmt
from dlrmsim.reproduce.doc import Table
from dlrmsim.reproduce.paper import NOT_QUOTED
from dlrmsim.reproduce.plots import SETUP_LABELS
from dlrmsim.reproduce.types import Row


def _value(row: Row, column: str, first: bool = False) -> str:
    """A number of a row; a refused run says why in its first column and "-" in the others."""
    if row.get("error"):
        return f"does not run ({_short(row['error'])})" if first else "-"
    return fmt(row[column])


def _label(setup: str) -> str:
    return SETUP_LABELS.get(setup, setup)


def _paper(value: float | None) -> str:
    return NOT_QUOTED if value is None else fmt(value)


def _short(error: str) -> str:
    return error if len(error) <= 60 else error[:57] + "..."


def fleet(rows: Sequence[Row]) -> Table:
    """Figure 1: every model, platform and placement, the best marked."""
    body = tuple((r["model"], _label(r["platform"]), r["placement"]
                  + (" (best)" if r["best"] and r["platform"] != "cpu" else ""),
                  _value(r, "throughput", True), _value(r, "relative_to_cpu"),
                  _value(r, "examples_per_joule")) for r in rows)
    return Table(("model", "platform", "placement", "examples/s", "relative to CPU",
                  "examples/J"), body)


def placements(rows: Sequence[Row]) -> Table:
    body = tuple((_label(r["platform"]), r["placement"]
                  + (" (best)" if r["best"] else ""), _value(r, "throughput", True),
                  _value(r, "examples_per_joule"), str(r["bottleneck"] or "-"),
                  str(r.get("longest_phase") or "-")) for r in rows)
    return Table(("platform", "placement", "examples/s", "examples/J", "bottleneck",
                  "longest phase"), body)


def sweep(rows: Sequence[Row]) -> Table:
    """Sweeps: one line per axis value, throughput and examples per joule per setup."""
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    keys = list(dict.fromkeys((r["sweep"], r["value"]) for r in rows))
    index = {(r["sweep"], r["value"], r["setup"]): r for r in rows}
    headers = ["sweep", "value"]
    for s in setups:
        label = _label(s)
        headers += [f"{label} examples/s", f"{label} examples/J"]
    body = []
    for sweep_name, value in keys:
        line = [sweep_name, f"{value:,}"]
        for s in setups:
            r = index[(sweep_name, value, s)]
            line += [_value(r, "throughput", True), _value(r, "examples_per_joule")]
        body.append(tuple(line))
    return Table(tuple(headers), tuple(body))


def utilization(rows: Sequence[Row]) -> Table:
    """Figure 5: quantiles of the busy fraction per role and resource."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["role"], r["resource"]), []).append(r["utilization"])
    body = tuple((role, res, str(len(v)), *(f"{q:.2f}" for q in np.quantile(v, (0.1, 0.5, 0.9))))
                 for (role, res), v in sorted(groups.items()))
    return Table(("role", "resource", "server-runs", "p10", "median", "p90"), body)


def models(rows: Sequence[Row]) -> Table:
    body = []
    for m in dict.fromkeys(r["model"] for r in rows):
        sizes = np.array([r["rows"] for r in rows if r["model"] == m], dtype=float)
        lookups = np.array([r["mean_lookups"] for r in rows if r["model"] == m], dtype=float)
        body.append((m, str(len(sizes)), f"{sizes.min():,.0f}", f"{sizes.max():,.0f}",
                     f"{sizes.mean():.3g}", f"{lookups.mean():.3g}"))
    return Table(("model", "tables", "smallest", "largest", "mean hash size", "mean lookups"),
                 tuple(body))


def job_month(rows: Sequence[Row]) -> Table:
    body = []
    for column, label in (("trainers", "trainers"), ("parameter_servers", "parameter servers")):
        v = np.array([r[column] for r in rows], dtype=float)
        body.append((label, *(f"{q:g}" for q in np.quantile(v, (0.1, 0.5, 0.9))), f"{v.max():g}"))
    return Table(("servers per job", "p10", "median", "p90", "max"), tuple(body))


def table_iii(rows: Sequence[Row]) -> Table:
    body = tuple((r["model"], f"{r['cpu_servers']} (paper {r['paper_cpu_servers']})",
                  f"{r['gpu_servers']} Big Basin" + (f" + {r['gpu_remote_servers']} remote"
                                                     if r["gpu_remote_servers"] else ""),
                  fmt(r["relative_throughput"]), _paper(r["paper_relative_throughput"]),
                  fmt(r["relative_efficiency_all_servers"]),
                  _paper(r["paper_relative_efficiency"]),
                  fmt(r["simulated_relative_efficiency"]), r["paper_accounting"]) for r in rows)
    return Table(("model", "CPU setup", "GPU setup", "relative throughput (ours)", "(paper)",
                  "relative power efficiency (ours)", "(paper)", "(simulator's power_w)",
                  "accounting the paper's values follow"), body)


def accounting(rows: Sequence[Row]) -> Table:
    """Table III: the power accounting of every model under each of the three accountings."""
    body = tuple((r["model"], acc.replace("_", " "), r[f"arithmetic_{acc}"],
                  f"{fmt(r['relative_throughput'])} x {r[f'factor_{acc}']:.3f} = "
                  f"{fmt(r[f'relative_efficiency_{acc}'])}")
                 for r in rows for acc in table3.ACCOUNTINGS)
    return Table(("model", "accounting", "P_cpu / P_gpu (CPU-server units)",
                  "relative throughput x factor = relative efficiency"), body)


SUMMARIES: dict[str, Callable[[Sequence[Row]], Table]] = {
    "fig1": fleet, "fig5": utilization, "fig6_7": models, "fig9": job_month, "fig10": sweep,
    "fig11": sweep, "fig12": sweep, "fig13": sweep, "fig14": placements, "table3": table_iii,
}
