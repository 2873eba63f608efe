"""The README's table of the analytic model's free parameters matches the code's defaults."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from sim.specs.efficiency import EfficiencySpec

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_lists_every_free_parameter_with_its_value() -> None:
    rows = dict(re.findall(r"^\s*\| `(\w+)` \| ([^|]+?) \|", README.read_text(), re.MULTILINE))
    defaults = {f.name: f.default for f in dataclasses.fields(EfficiencySpec)}
    listed = {name: value for name, value in rows.items() if name in defaults}
    assert set(listed) == set(defaults), "add the missing parameters to the README's table"
    for name, text in listed.items():
        default = defaults[name]
        if isinstance(default, bool):
            assert text == str(default).lower(), name
        else:
            assert float(text) == default, name
