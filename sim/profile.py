"""Read calibration profiles written by `calibrate/` (JSON, schema "dlrmsim.profile").

The profile is the only link between `calibrate/` and `sim/`; this module knows its schema and
refuses any version it does not know, with a message that says what to do.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.arguments import check_path
from sim.errors import ProfileError

SCHEMA_NAME = "dlrmsim.profile"
SUPPORTED_SCHEMA_VERSIONS = (1,)
DEVICES = ("cpu", "cuda")  # what `dlrmsim calibrate` measures on; costs.calibrated maps them
# The ops the simulator times from a profile and the params it evaluates each with
# (sim.costs.calibrated; tests/sim/test_profile.py checks the two agree): a cost model of one of
# them that lists another param would fail in the middle of a run, for want of it.
_EMBEDDING_PARAMS = ("batch", "rows", "dim", "pooling", "zipf_s", "unique_rows")
SIMULATED_PARAMS = {
    "embedding_forward": _EMBEDDING_PARAMS,
    "embedding_backward_sgd": _EMBEDDING_PARAMS,
    "embedding_backward_rowwise_adagrad": _EMBEDDING_PARAMS,
    "mlp_forward": ("batch", "in_features", "out_features"),
    "mlp_backward": ("batch", "in_features", "out_features"),
    "interaction_forward": ("batch", "features", "dim"),
    "interaction_backward": ("batch", "features", "dim"),
    "dense_optimizer_step": ("tensors", "elements"),
    "loss": ("batch",),
}


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
class WorkingSetPoint:
    """One working-set measurement: a table of `table_bytes` took `ratio` times as long when its
    calls cycled through `cold_rotation_bytes` as with the usual `base_rotation_bytes`, which is
    what its op's fitted cost stands for."""

    table_bytes: float
    base_rotation_bytes: float
    cold_rotation_bytes: float
    ratio: float


@dataclass(frozen=True)
class WorkingSetCurve:
    """How an embedding op's cost grows with the memory its processor cycles through between
    calls (calibrate/working_set.py), as measured at a few table sizes, by table size."""

    points: tuple[WorkingSetPoint, ...]

    def factor(self, table_bytes: float, working_set_bytes: float) -> float:
        """The multiplier of the fitted cost for a table of `table_bytes` in a step that cycles
        through `working_set_bytes`: 1 up to the usual rotation, the measured ratio from the
        cold rotation on, geometric in between (log-linear in the working set). Between
        measured table sizes the ratio and both rotations are interpolated in log size; beyond
        them the nearest is used."""
        if working_set_bytes <= 0 or table_bytes <= 0:
            return 1.0
        ratio, base, cold = self._at(math.log(table_bytes))
        if working_set_bytes <= base:
            return 1.0
        if working_set_bytes >= cold or cold <= base:
            return ratio
        weight = math.log(working_set_bytes / base) / math.log(cold / base)
        return float(ratio ** weight)

    @functools.cached_property
    def _log_sizes(self) -> list[float]:
        return [math.log(p.table_bytes) for p in self.points]

    def _at(self, log_bytes: float) -> tuple[float, float, float]:
        logs = self._log_sizes
        if log_bytes <= logs[0] or len(logs) == 1:
            p = self.points[0]
            return p.ratio, p.base_rotation_bytes, p.cold_rotation_bytes
        if log_bytes >= logs[-1]:
            p = self.points[-1]
            return p.ratio, p.base_rotation_bytes, p.cold_rotation_bytes
        i = bisect.bisect_left(logs, log_bytes)  # logs[i - 1] < log_bytes <= logs[i]
        t = (log_bytes - logs[i - 1]) / (logs[i] - logs[i - 1]) if logs[i] > logs[i - 1] else 1.0
        a, b = self.points[i - 1], self.points[i]

        def mix(x: float, y: float) -> float:
            return math.exp((1 - t) * math.log(x) + t * math.log(y))

        return (mix(a.ratio, b.ratio), mix(a.base_rotation_bytes, b.base_rotation_bytes),
                mix(a.cold_rotation_bytes, b.cold_rotation_bytes))


@dataclass(frozen=True)
class MeasuredPoint:
    """One raw timing a profile kept (an entry of its `measurements`), as far as dlrmsim reads
    it: `dlrmsim validate` times some of them again to see whether the host's speed has moved."""

    op: str
    params: Mapping[str, float]
    median_s: float
    flagged: bool = False


@dataclass(frozen=True)
class Profile:
    """A loaded calibration profile: where it was measured, its fitted cost functions and the
    raw timings it kept."""

    path: str
    device: str
    mode: str
    host: Mapping[str, Any]
    cost_functions: Mapping[str, CostFunction]
    bandwidths_bytes_per_s: Mapping[str, float]
    latencies_s: Mapping[str, float]
    working_sets: Mapping[str, WorkingSetCurve] = field(default_factory=dict)
    measurements: tuple[MeasuredPoint, ...] = ()
    # {op: reasons} of the fits calibrate called too weak to use (its `run.weak_fits`; none in
    # profiles made before it kept them). They are used all the same; sim.notes names them.
    weak_fits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, op: str) -> bool:
        return op in self.cost_functions

    def working_set_factor(self, op: str, table_bytes: float, working_set_bytes: float) -> float:
        """See WorkingSetCurve.factor; 1 for an op the profile has no curve for."""
        curve = self.working_sets.get(op)
        return curve.factor(table_bytes, working_set_bytes) if curve else 1.0

    def seconds(self, op: str, **params: float) -> float:
        return self.cost_functions[op].seconds(**params)


def load_profile(path: str | Path) -> Profile:
    """Load and check a profile; ProfileError names the file and the problem."""
    check_path("path", path, "a calibration profile (`dlrmsim calibrate` writes one)",
               ProfileError, optional=False)
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ProfileError(f"{path}: cannot read profile ({err.strerror}); "
                           "run `dlrmsim calibrate` to make one") from err
    except UnicodeDecodeError as err:  # e.g. the plot or a binary file given by mistake
        raise ProfileError(f"{path}: not a JSON profile (byte {err.start} is not UTF-8 text); "
                           "give the .json file that `dlrmsim calibrate` wrote") from err
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
            device=_device(data["device"]),
            mode=str(data.get("mode", "")),
            host=_host(data.get("host", {})),
            cost_functions=functions,
            bandwidths_bytes_per_s=_rates("bandwidths_bytes_per_s", data),
            latencies_s=_rates("latencies_s", data),
            working_sets=_working_set_curves(data.get("working_set_ratios", {})),
            measurements=_measurements(data.get("measurements")),
            weak_fits=_weak_fits(data.get("run")),
        )
    except KeyError as err:
        raise ProfileError(f"{where}: malformed profile (field {err} is missing); re-run "
                           "`dlrmsim calibrate` to write a whole one") from err
    except (TypeError, ValueError, AttributeError) as err:
        raise ProfileError(f"{where}: malformed profile ({err}); re-run `dlrmsim calibrate` "
                           "to write a whole one") from err


def _rates(section: str, data: Mapping[str, Any]) -> dict[str, float]:
    """A section of measured rates or times, each finite and > 0; a missing one (0 or null, a
    measurement the run skipped) is left out. A negative bandwidth would run a channel
    backwards, without a word."""
    rates = {}
    for name, value in data.get(section, {}).items():
        if not value:
            continue
        rate = float(value)
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"{section}.{name} = {value} is not a finite number > 0; "
                             "recalibrate (`dlrmsim calibrate`) or correct the profile")
        rates[name] = rate
    return rates


def _device(device: object) -> str:
    # Any other device would match no processor, so every cost would silently be analytic.
    if device not in DEVICES:
        raise ValueError(f"device {device!r} is not one of {', '.join(DEVICES)}; "
                         "recalibrate (`dlrmsim calibrate`) or correct the profile")
    return str(device)


def _host(host: object) -> dict[str, Any]:
    if not isinstance(host, dict):
        raise ValueError(f"host is {json.dumps(host)[:40]}, not an object")
    return dict(host)


def _cost_function(op: str, body: dict[str, Any]) -> CostFunction:
    if not isinstance(body, dict):
        raise ValueError(f"cost model {op!r} is {json.dumps(body)[:40]}, not an object")
    if body.get("form") != "piecewise_monomial_sum":
        raise ValueError(f"cost model {op!r} has unknown form {body.get('form')!r}")
    params = tuple(str(name) for name in body.get("params", ()))
    given = SIMULATED_PARAMS.get(op, params)
    extra = [name for name in params if name not in given]
    if extra:
        raise ValueError(f"cost model {op!r}: params lists {', '.join(map(repr, extra))}, "
                         f"which the simulator does not give this op (it gives "
                         f"{', '.join(given)})")
    pieces = tuple(_piece(op, i, p, params) for i, p in enumerate(body["pieces"]))
    if not pieces:
        raise ValueError(f"cost model {op!r} has no pieces")
    error = body.get("fit_error", {}).get("holdout_median_abs_rel")
    return CostFunction(op, params, pieces, None if error is None else float(error))


def _piece(op: str, index: int, body: dict[str, Any], params: tuple[str, ...]) -> Piece:
    where = f"pieces[{index}]"
    when = tuple((name, float(lo), float(hi)) for name, (lo, hi) in body.get("when", {}).items())
    for name, _, _ in when:
        _check_param(op, f"{where}.when", name, params)
    terms = tuple(_term(op, t, f"{where}.terms[{j}]", params)
                  for j, t in enumerate(body["terms"]))
    return Piece(when, terms)


def _check_param(op: str, where: str, name: str, params: tuple[str, ...]) -> None:
    """A piece's range or a term's power may name only the cost model's params: the simulator
    evaluates the function with those, and any other name fails in the middle of a run (the
    rule calibrate's validate_profile applies when it writes a profile)."""
    if name not in params:
        allowed = ", ".join(params) if params else "none are listed"
        # parse_profile's message adds the fix: re-run calibrate.
        raise ValueError(f"cost model {op!r}: {where} names {name!r}, not one of its params "
                         f"({allowed})")


def _term(op: str, body: dict[str, Any], where: str, params: tuple[str, ...]) -> Term:
    """One fitted term (`where` in its cost model); a cost is a sum of them, so each must be
    finite and >= 0 (`seconds` would otherwise turn a NaN into 0 and let a negative term cancel
    the others), and its powers may name only the cost model's `params`."""
    coef = float(body["coef"])
    if not _finite_non_negative(coef):
        raise ValueError(f"cost model {op!r}: coef {coef} is not a finite number >= 0; "
                         "recalibrate (`dlrmsim calibrate`) or correct the profile")
    powers = tuple((name, float(power)) for name, power in body["powers"].items())
    for name, power in powers:
        _check_param(op, f"{where}.powers", name, params)
        if not _finite_non_negative(power):
            raise ValueError(f"cost model {op!r}: power of {name} is {power}, not a finite "
                             "number >= 0; recalibrate (`dlrmsim calibrate`) or correct the profile")
    return Term(coef, powers)


def _finite_non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def _weak_fits(run: object) -> dict[str, tuple[str, ...]]:
    """calibrate's `run.weak_fits`, {op: [reason, ...]}; empty when the profile has no `run` or
    was made before calibrate kept them."""
    if run is None:
        return {}
    if not isinstance(run, dict):
        raise ValueError(f"run is {json.dumps(run)[:40]}, not an object")
    weak = run.get("weak_fits")
    if weak is None:
        return {}
    if not isinstance(weak, dict):
        raise ValueError(f"run.weak_fits is {json.dumps(weak)[:40]}, not an object of "
                         "{op: [reasons]}")
    for op, reasons in weak.items():
        if not (isinstance(reasons, list) and reasons and all(isinstance(r, str)
                                                               for r in reasons)):
            raise ValueError(f"run.weak_fits.{op} is {json.dumps(reasons)[:40]}, not a list of "
                             "reasons (text)")
    return {op: tuple(reasons) for op, reasons in weak.items()}


def _measurements(entries: object) -> tuple[MeasuredPoint, ...]:
    """The profile's raw timings; none when it kept none (absent, null or []). A malformed
    entry names its index and field: validate's host speed check reads these, and would
    otherwise end in a traceback."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError(f"measurements is {json.dumps(entries)[:40]}, not a list of "
                         "measurements")
    return tuple(_measurement(f"measurements[{i}]", m) for i, m in enumerate(entries))


def _measurement(where: str, entry: object) -> MeasuredPoint:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is {json.dumps(entry)[:40]}, not an object")
    missing = [name for name in ("op", "params", "median_s") if name not in entry]
    if missing:
        raise ValueError(f"{where} has no {', '.join(missing)}")
    op, params, median_s = entry["op"], entry["params"], entry["median_s"]
    if not isinstance(op, str):
        raise ValueError(f"{where}.op is {json.dumps(op)[:40]}, not an op's name")
    if not isinstance(params, dict):
        raise ValueError(f"{where}.params is {json.dumps(params)[:40]}, not an object of "
                         "numbers")
    for name, value in params.items():
        if not _is_finite_number(value):
            raise ValueError(f"{where}.params.{name} is {json.dumps(value)[:40]}, not a finite "
                             "number")
    if not (_is_finite_number(median_s) and median_s >= 0):
        raise ValueError(f"{where}.median_s is {json.dumps(median_s)[:40]}, not a finite "
                         "number of seconds >= 0")
    flagged = entry.get("flagged", False)
    if not isinstance(flagged, bool):
        raise ValueError(f"{where}.flagged is {json.dumps(flagged)[:40]}, not true or false")
    return MeasuredPoint(op, {str(k): float(v) for k, v in params.items()}, float(median_s),
                         flagged)


def _is_finite_number(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def _working_set_curves(ratios: dict[str, Any]) -> dict[str, WorkingSetCurve]:
    """A curve per op; an op whose every pair calibration excluded as noisy has none (its
    calls are not scaled), while an op with neither points nor exclusions is malformed."""
    return {op: _working_set_curve(op, body) for op, body in ratios.items()
            if body["points"] or not body.get("excluded")}


def _working_set_curve(op: str, body: dict[str, Any]) -> WorkingSetCurve:
    points = tuple(WorkingSetPoint(float(p["table_bytes"]), float(p["base_rotation_bytes"]),
                                   float(p["cold_rotation_bytes"]), float(p["ratio"]))
                   for p in body["points"])
    values = [v for p in points for v in (p.table_bytes, p.base_rotation_bytes,
                                          p.cold_rotation_bytes, p.ratio)]
    if not points or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"working_set_ratios of {op}: need points with positive, finite "
                         "table_bytes, rotations and ratio")
    if any(b.table_bytes < a.table_bytes for a, b in itertools.pairwise(points)):
        raise ValueError(f"working_set_ratios of {op}: points must be sorted by table_bytes")
    return WorkingSetCurve(points)
