"""The traces package loads its modules on first use: its public names all resolve, and the
command line's parser and the light modules do not import the generator and the readers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import traces

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("traces.generator", "traces.summary", "traces.sources", "traces.summary_processes")


def test_every_public_name_resolves_to_its_modules_object() -> None:
    import importlib

    assert sorted(traces.__all__) == sorted(traces._HOMES)
    for name, home in traces._HOMES.items():
        assert getattr(traces, name) is getattr(importlib.import_module(home), name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        traces.no_such_name  # noqa: B018


def _modules_after(code: str) -> set[str]:
    shown = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(*sys.modules)"],
                           capture_output=True, text=True, cwd=REPO, check=True).stdout
    return set(shown.split())


def test_the_parser_and_the_light_modules_leave_the_readers_unloaded() -> None:
    for code in ("import traces.errors", "import traces.formats",
                 "import dlrmsim.cli as c; c.build_parser()"):
        loaded = _modules_after(code)
        assert not loaded & set(HEAVY), (code, sorted(loaded & set(HEAVY)))
    assert set(HEAVY) <= _modules_after("import traces; traces.summarize_model; traces.open_native"
                                        "; import traces.sources")
