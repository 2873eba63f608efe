"""calibrate/ runs on a bare GPU host: at run time it imports only torch, numpy and the
standard library (FBGEMM only through importlib, when present), never sim/traces/dlrmsim."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "calibrate"
ALLOWED = {"torch", "numpy", "calibrate", "__future__"} | set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.add("<relative>")
    return names


def test_every_module_imports_only_torch_numpy_stdlib_and_itself():
    offenders = {str(p.relative_to(PACKAGE)): sorted(_imports(p) - ALLOWED)
                 for p in sorted(PACKAGE.rglob("*.py")) if _imports(p) - ALLOWED}
    assert not offenders


def test_fbgemm_is_named_only_in_its_optional_module():
    named = [p.name for p in PACKAGE.rglob("*.py")
             if 'import_module("fbgemm_gpu' in p.read_text() or "import fbgemm_gpu" in p.read_text()]
    assert named == ["fbgemm.py"]


def test_a_live_run_loads_nothing_beyond_what_torch_and_numpy_load():
    code = ("import sys, torch, numpy; base = set(sys.modules); "
            "import calibrate.cli, calibrate.runner; "
            "std = set(sys.stdlib_module_names); "
            "bad = sorted({m.split('.')[0] for m in set(sys.modules) - base} - std - {'calibrate'}); "
            "print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=PACKAGE.parent)
    assert result.stdout.strip() == "[]"


def test_modules_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 450, sizes
