"""The package boundaries of DESIGN.md, checked on the source and on a live import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_sim_never_imports_torch() -> None:
    offenders = {path: names for path, names in imported_modules("sim").items() if "torch" in names}
    assert not offenders, f"sim/ must not import torch: {offenders}"


def test_sim_does_not_import_calibrate() -> None:
    offenders = [p for p, names in imported_modules("sim").items() if "calibrate" in names]
    assert not offenders, f"the profile file is the only link from calibrate/ to sim/: {offenders}"


def test_calibrate_imports_only_torch_numpy_and_stdlib() -> None:
    allowed = {"torch", "numpy", "calibrate", "fbgemm_gpu", "__future__"} | set(sys.stdlib_module_names)
    offenders = {p: sorted(n - allowed) for p, n in imported_modules("calibrate").items() if n - allowed}
    assert not offenders, f"calibrate/ must run on a bare GPU host: {offenders}"


def test_importing_the_simulator_does_not_load_torch() -> None:
    code = ("import sys, sim, sim.presets, sim.costs, sim.placement, sim.profile; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
