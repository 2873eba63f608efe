"""Embedding-lookup traces: generate them from model specs, read real formats, measure their
locality, and summarize them per batch for the simulator (`traces.summary`).

Imports numpy and the standard library only; torch is loaded by the `.pt` reader and seaborn by
the plots, when used. The names below load with their modules on first use (PEP 562), so that
importing one light module (`traces.errors`, `traces.formats`) does not import the generator,
the readers and their multiprocessing: the command line builds its parser without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.
_HOMES = {
    "BatchDemand": "traces.summary",
    "ModelGenerator": "traces.generator",
    "NativeTrace": "traces.native",
    "NativeWriter": "traces.native",
    "TraceError": "traces.errors",
    "TraceTable": "traces.native",
    "generate_trace": "traces.generator",
    "open_native": "traces.native",
    "summarize_model": "traces.summary",
    "summarize_trace": "traces.summary",
}
__all__ = [
    "BatchDemand",
    "ModelGenerator",
    "NativeTrace",
    "NativeWriter",
    "TraceError",
    "TraceTable",
    "generate_trace",
    "open_native",
    "summarize_model",
    "summarize_trace",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'traces' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found directly from now on
    return value


if TYPE_CHECKING:
    from traces.errors import TraceError
    from traces.generator import ModelGenerator, generate_trace
    from traces.native import NativeTrace, NativeWriter, TraceTable, open_native
    from traces.summary import BatchDemand, summarize_model, summarize_trace
