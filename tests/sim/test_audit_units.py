"""Plain numbers written in exponent form in a preset: PyYAML (YAML 1.1) reads `1e9`, `1.0e9` and
`1e-6` as text, not as numbers (its float pattern needs a dot and a signed exponent), so
`parse_quantity` meets them as strings. The module's contract is that a plain number is taken in
the field's base unit, and its own error message offers `1e9` as an example."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.mapping import from_mapping
from sim.presets import load_model, preset_root
from sim.specs import LinkSpec
from sim.units import parse_quantity


@pytest.mark.parametrize("text", ["1e9", "1.0e9", "1E9"])
def test_yaml_reads_exponent_numbers_as_text(text: str) -> None:
    # The premise: what a preset author writes reaches parse_quantity as a str.
    assert isinstance(yaml.safe_load(f"x: {text}")["x"], str)


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [("x_bytes_per_s", "1e9", 1e9),          # bytes/s, base unit
     ("x_bytes_per_s", "1.5e9", 1.5e9),
     ("latency_s", "1e-6", 1e-6),            # seconds
     ("hbm_capacity_bytes", " 16e9 ", 16e9),
     ("power_w", "3.5e2", 350.0),            # watts
     ("rows", "1e6", 1e6),                   # a count: no unit suffix
     ("zipf_s", "1.05", 1.05)],              # field name ends in _s but is not seconds
)
def test_a_plain_number_in_text_is_taken_in_the_base_unit(field: str, text: str,
                                                          expected: float) -> None:
    assert parse_quantity(field, text) == expected


def test_a_link_from_yaml_with_exponent_numbers() -> None:
    data = yaml.safe_load("bw_bytes_per_s: 1e9\nlatency_s: 1e-6\n")
    link = from_mapping(LinkSpec, data)
    assert (link.bw_bytes_per_s, link.latency_s) == (1e9, 1e-6)


def test_a_model_with_rows_in_exponent_form_loads(tmp_path: Path) -> None:
    text = (preset_root() / "models" / "test_suite.yaml").read_text()
    assert "rows: 100000" in text
    path = tmp_path / "suite_1e5.yaml"
    path.write_text(text.replace("rows: 100000", "rows: 1e5").replace("name: test_suite",
                                                                      "name: suite_1e5"))
    model = load_model(path)
    assert {t.rows for t in model.tables} == {100_000}


@pytest.mark.parametrize(("field", "text"), [("rows", "1e6 rows"), ("x_bytes", "nan"),
                                             ("x_bytes", "inf"), ("x_bytes_per_s", "1e999"),
                                             ("rows", "")])
def test_text_that_is_not_a_plain_number_still_fails(field: str, text: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_quantity(field, text)
