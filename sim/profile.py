"""Read calibration profiles written by `calibrate/` (JSON, schema "dlrmsim.profile").

The profile is the only link between `calibrate/` and `sim/`; this module knows its schema and
refuses any version it does not know, with a message that says what to do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ProfileError

SCHEMA_NAME = "dlrmsim.profile"
SUPPORTED_SCHEMA_VERSIONS = (1,)


@dataclass(frozen=True)
class Term:
    coef: float
    powers: tuple[tuple[str, float], ...]

    def value(self, params: Mapping[str, float]) -> float:
        result = self.coef
        for name, power in self.powers:
            result *= float(params[name]) ** power
        return result


@dataclass(frozen=True)
class Piece:
    when: tuple[tuple[str, float, float], ...]  # (param, lo inclusive, hi exclusive)
    terms: tuple[Term, ...]

    def distance(self, params: Mapping[str, float]) -> float:
        """0 when the params fall inside every range; else how far outside, in log space."""
        total = 0.0
        for name, lo, hi in self.when:
            x = max(float(params[name]), 1e-300)
            if x < lo:
                total += math.log(max(lo, 1e-300) / x)
            elif x >= hi:
                total += math.log(x / hi) + 1e-12
        return total


@dataclass(frozen=True)
class CostFunction:
    """A fitted cost: seconds = sum of coef * prod(param ** power), piecewise over param ranges.

    Outside every piece's ranges the nearest piece is used (extrapolation).
    """

    op: str
    params: tuple[str, ...]
    pieces: tuple[Piece, ...]
    holdout_median_abs_rel: float | None = None

    def seconds(self, **params: float) -> float:
        missing = [p for p in self.params if p not in params]
        if missing:
            raise KeyError(f"cost function {self.op} needs {', '.join(missing)}")
        piece = min(self.pieces, key=lambda p: p.distance(params))
        return max(0.0, sum(term.value(params) for term in piece.terms))


@dataclass(frozen=True)
class Profile:
    """A loaded calibration profile: where it was measured and its fitted cost functions."""

    path: str
    device: str
    mode: str
    host: Mapping[str, Any]
    cost_functions: Mapping[str, CostFunction]
    bandwidths_bytes_per_s: Mapping[str, float]
    latencies_s: Mapping[str, float]

    def has(self, op: str) -> bool:
        return op in self.cost_functions

    def seconds(self, op: str, **params: float) -> float:
        return self.cost_functions[op].seconds(**params)


def load_profile(path: str | Path) -> Profile:
    """Load and check a profile; ProfileError names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ProfileError(f"{path}: cannot read profile ({err.strerror}); "
                           "run `dlrmsim calibrate` to make one") from err
    except json.JSONDecodeError as err:
        raise ProfileError(f"{path}: not a JSON profile ({err.msg} at line {err.lineno})") from err
    return parse_profile(data, str(path))


def parse_profile(data: object, where: str) -> Profile:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA_NAME:
        raise ProfileError(f"{where}: not a dlrmsim profile (no \"schema\": \"{SCHEMA_NAME}\")")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ProfileError(
            f"{where}: profile schema version {version!r} is not one this dlrmsim reads "
            f"({', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))}); re-run `dlrmsim calibrate` "
            "with this version, or use the dlrmsim that wrote it"
        )
    try:
        functions = {op: _cost_function(op, body) for op, body in data["cost_models"].items()}
        return Profile(
            path=where,
            device=str(data["device"]),
            mode=str(data.get("mode", "")),
            host=dict(data.get("host", {})),
            cost_functions=functions,
            bandwidths_bytes_per_s={k: float(v) for k, v in
                                    data.get("bandwidths_bytes_per_s", {}).items() if v},
            latencies_s={k: float(v) for k, v in data.get("latencies_s", {}).items() if v},
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ProfileError(f"{where}: malformed profile ({type(err).__name__}: {err})") from err


def _cost_function(op: str, body: dict[str, Any]) -> CostFunction:
    if body.get("form") != "piecewise_monomial_sum":
        raise ValueError(f"cost model {op!r} has unknown form {body.get('form')!r}")
    pieces = tuple(
        Piece(
            when=tuple((name, float(lo), float(hi)) for name, (lo, hi) in p.get("when", {}).items()),
            terms=tuple(Term(float(t["coef"]), tuple((k, float(v)) for k, v in t["powers"].items()))
                        for t in p["terms"]),
        )
        for p in body["pieces"]
    )
    if not pieces:
        raise ValueError(f"cost model {op!r} has no pieces")
    error = body.get("fit_error", {}).get("holdout_median_abs_rel")
    return CostFunction(op, tuple(body.get("params", ())), pieces,
                        None if error is None else float(error))
