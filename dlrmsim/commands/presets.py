"""`dlrmsim presets`: list the presets, or show one resolved spec with its derived figures."""

from __future__ import annotations

import argparse
from typing import Any

from dlrmsim.output import counted, format_table, human_bytes, print_json
from sim.mapping import to_mapping
from sim.presets import list_presets, load_any, load_job_part, load_model, load_platform
from sim.specs import JobSpec, ModelSpec, ServerSpec


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "presets", help="list the models, platforms and jobs that ship with dlrmsim",
        description="List presets, or `presets show NAME` for one resolved spec. NAME may also be "
                    "a path to your own YAML file.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run_list)
    sub = parser.add_subparsers(dest="presets_command", metavar="ACTION")
    show = sub.add_parser("show", help="print one preset, resolved, with derived figures")
    show.add_argument("name", help="preset name (see `dlrmsim presets`) or a YAML/JSON file")
    # No default of its own: `presets --json show NAME` keeps the --json given before `show`.
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                      help="print JSON instead of text")
    show.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    names = list_presets()
    if args.json:
        print_json(names)
        return 0
    rows = [("model", n, _model_summary(load_model(n))) for n in names["models"]]
    rows += [("platform", n, _platform_summary(load_platform(n))) for n in names["platforms"]]
    rows += [("job", n, load_any(n)[1].description) for n in names["jobs"]]
    print(format_table(("kind", "name", "summary"), rows))
    return 0


def _model_summary(model: ModelSpec) -> str:
    return (f"{counted(model.num_tables, 'table')}, {model.dense_features} dense, "
            f"{human_bytes(model.embedding_bytes)} embeddings, "
            f"{model.mean_lookups_per_example:.0f} lookups/example")


def _platform_summary(server: ServerSpec) -> str:
    gpus = f", {len(server.gpus)} x {server.gpus[0].name}" if server.gpus else ""
    mark = " [estimate]" if server.estimate else ""
    return (f"{counted(len(server.sockets), 'socket')} / {counted(server.cores, 'core')}, "
            f"{human_bytes(server.mem_capacity_bytes)} DRAM{gpus}, {server.power_w:.0f} W{mark}")


def derived_figures(spec: Any) -> dict[str, Any]:
    """Figures computed from a spec, shown beside it by `presets show`."""
    if isinstance(spec, ModelSpec):
        return {
            "tables": spec.num_tables,
            "embedding_bytes": spec.embedding_bytes,
            "optimizer_state_bytes": spec.optimizer_state_bytes,
            "mean_lookups_per_example": round(spec.mean_lookups_per_example, 3),
            "dense_parameters": spec.dense_parameters,
            "bottom_layer_widths": list(spec.bottom_layer_widths),
            "top_layer_widths": list(spec.top_layer_widths),
        }
    if isinstance(spec, ServerSpec):
        return {
            "cores": spec.cores,
            "mem_capacity_bytes": spec.mem_capacity_bytes,
            "mem_bw_bytes_per_s": spec.mem_bw_bytes_per_s,
            "gpus": len(spec.gpus),
            "hbm_per_gpu_bytes": spec.gpus[0].hbm_capacity_bytes if spec.gpus else 0,
            "hbm_total_bytes": spec.hbm_capacity_bytes,
            "network_bw_bytes_per_s": spec.network_bw_bytes_per_s,
            "gpu_to_gpu_links": spec.has_gpu_links,
        }
    assert isinstance(spec, JobSpec)
    return {"servers": spec.trainers + spec.sparse_ps + spec.dense_ps + spec.readers}


def run_show(args: argparse.Namespace) -> int:
    kind, spec = load_any(args.name)
    if isinstance(spec, JobSpec):  # a job is resolved only if what it names resolves
        for field in ("model", "trainer_platform", "ps_platform"):
            load_job_part(args.name, field, getattr(spec, field))
    derived = derived_figures(spec)
    data = {"kind": kind[:-1], "spec": to_mapping(spec), "derived": derived}
    if args.json:
        print_json(data)
        return 0
    print(f"{kind[:-1]} {spec.name}")
    if getattr(spec, "description", ""):
        print(f"  {spec.description}")
    for key, value in derived.items():
        shown = human_bytes(value) if key.endswith("bytes") else value
        if key.endswith("bytes_per_s"):
            shown = human_bytes(value) + "/s"
        print(f"  {key:28s} {shown}")
    if isinstance(spec, ModelSpec):
        rows = [(t.name, t.rows, t.dim, t.pooling.mean_lookups, t.popularity.zipf_s,
                 human_bytes(t.weight_bytes(spec.bytes_per_element))) for t in spec.tables]
        print(format_table(("table", "rows", "dim", "mean_lookups", "zipf_s", "bytes"), rows))
    else:
        print_json(data["spec"])
    return 0
