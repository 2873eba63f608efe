"""calibrate_and_validate.ipynb calibrates only the ops named in its OPS (to stay quick), and says
that validation predicts each step "from the profile alone": so OPS must hold every op whose
fitted cost a CPU training step reads. Checked black-box: a committed full CPU profile cut down
to OPS must predict a validation step exactly as the whole profile does (an op left out would
fall back to the analytic model and change the prediction)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from dlrmsim.validate.configs import default_grid
from dlrmsim.validate.predict import predict_step
from dlrmsim.validate.run import validation_platform
from sim.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "calibrate_and_validate.ipynb"
# A committed full CPU profile: it holds every op a CPU calibration times.
PROFILE = ROOT / "profiles" / "cpu-vm-s10-full.json"


def notebook_ops() -> set[str]:
    """The op names of the notebook's `OPS = "a,b,..."` assignment."""
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "OPS" for t in node.targets):
                return set(ast.literal_eval(node.value).split(","))
    raise AssertionError(f"{NOTEBOOK.name} has no OPS assignment")


def test_the_notebook_calibrates_every_op_a_cpu_step_reads(tmp_path: Path) -> None:
    ops = notebook_ops()
    data = json.loads(PROFILE.read_text())
    assert ops <= set(data["cost_models"]), "the notebook names an op calibration does not time"
    data["cost_models"] = {op: m for op, m in data["cost_models"].items() if op in ops}
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(data))

    centre = default_grid()[0]
    platform = validation_platform(load_profile(PROFILE), "cpu")
    whole = predict_step(centre, platform, profile=PROFILE)
    only_ops = predict_step(centre, platform, profile=cut)
    assert only_ops == whole, (
        f"the step costed from {sorted(ops)} alone differs from the whole profile's: "
        f"{only_ops} against {whole}; add the missing ops to the notebook's OPS")
