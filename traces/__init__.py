"""Embedding-lookup traces: generate them from model specs, read real formats, measure their
locality, and summarize them per batch for the simulator (`traces.summary`).

Imports numpy and the standard library only; torch is loaded by the `.pt` reader and seaborn by
the plots, when used.
"""

from traces.errors import TraceError
from traces.generator import ModelGenerator, generate_trace
from traces.native import NativeTrace, NativeWriter, TraceTable, open_native
from traces.summary import BatchDemand, summarize_model, summarize_trace

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
