"""Load models, platforms and jobs from the preset YAML files, or from a user's own file.

Presets live in the top-level `presets/` folder: `models/`, `platforms/` and `jobs/`, one spec a
file, named after the file. Wherever a preset name is accepted, a path to a `.yaml`, `.yml` or
`.json` file is accepted too. Every problem is a PresetError naming the file and the field.
"""

from __future__ import annotations

import difflib
import json
import os
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sim.arguments import described
from sim.errors import PresetError
from sim.mapping import from_mapping, to_mapping
from sim.specs import JobSpec, ModelSpec, ServerSpec

PRESET_ROOT = Path(__file__).resolve().parent.parent / "presets"
KINDS: dict[str, type] = {"models": ModelSpec, "platforms": ServerSpec, "jobs": JobSpec}
_SUFFIXES = (".yaml", ".yml", ".json")
T = TypeVar("T")


def names_a_file(text: str) -> bool:
    """Whether `text` names a spec file rather than a preset: a spec suffix or a folder in it."""
    return text.endswith(_SUFFIXES) or os.sep in text


def preset_root() -> Path:
    """The presets folder; `DLRMSIM_PRESETS` overrides it (for tests and private fleets)."""
    return Path(os.environ.get("DLRMSIM_PRESETS", PRESET_ROOT))


@cache
def _registry(root: Path) -> dict[str, dict[str, Path]]:
    registry: dict[str, dict[str, Path]] = {kind: {} for kind in KINDS}
    owner: dict[str, Path] = {}
    for kind in KINDS:
        for path in sorted((root / kind).glob("*.yaml")):
            name = path.stem
            if name in owner:  # one name, one preset: refuse silent shadowing
                raise PresetError(f"preset name '{name}' is defined twice: {owner[name]} and {path}")
            owner[name] = path
            registry[kind][name] = path
    return registry


def list_presets() -> dict[str, list[str]]:
    """Names of all presets by kind: {"models": [...], "platforms": [...], "jobs": [...]}."""
    return {kind: sorted(names) for kind, names in _registry(preset_root()).items()}


# libyaml's loader where PyYAML was built with it (its wheels are): the same safe subset of
# YAML, parsed in C; m3_prod's 127 tables take 0.26 s in the pure-Python loader on the EPYC host.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_file(path: Path, *, allow_list: bool = False) -> Any:
    """Parse a YAML or JSON file into a mapping (or a list, when allowed); PresetError on
    unreadable or malformed text."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PresetError(f"{path}: cannot read ({err.strerror}); check the path") from err
    except UnicodeDecodeError as err:  # e.g. a trace or an image given by mistake
        raise PresetError(f"{path}: not a YAML or JSON text file (byte {err.start} is not UTF-8); "
                          "give a spec file such as those under presets/") from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except json.JSONDecodeError as err:
        raise PresetError(f"{path}: not valid JSON: {err.msg} at line {err.lineno}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise PresetError(f"{path}: not valid YAML: {problem}{at}; fix the syntax there") from err
    if not isinstance(data, dict) and not (allow_list and isinstance(data, list)):
        raise PresetError(f"{path}: expected a mapping of fields at the top, got {type(data).__name__}")
    return data


def _locate(kind: str, name_or_path: str | os.PathLike[str], field: str = "") -> Path:
    """The file of a preset name or a path; PresetError when there is none. `field` names the
    job field that gave the name, so that the message says which of the job's entries is bad."""
    if not isinstance(name_or_path, str | os.PathLike):  # from Python: a number, a spec, None
        raise PresetError(f"{kind[:-1]} = {described(name_or_path)}: give a {kind[:-1]} preset "
                          f"name or the path of a YAML file{_already(kind, name_or_path)}")
    text = os.fspath(name_or_path)
    what = f"{field} '{text}'" if field else text
    if names_a_file(text):
        path = Path(text)
        if path.is_dir():  # e.g. a folder named x.yaml, where "no such file" would be untrue
            raise PresetError(f"{what}: is a folder; a spec file (.yaml, .yml or .json) or a "
                              "preset name is expected")
        if not path.is_file():
            raise PresetError(f"{what}: no such file; give a preset name or the path of a YAML file")
        return path
    names = _registry(preset_root())[kind]
    if text in names:
        return names[text]
    close = difflib.get_close_matches(text, list(names), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    unknown = (f"{what} is not a {kind[:-1]} preset or a file" if field
               else f"unknown {kind[:-1]} preset '{text}'")
    raise PresetError(
        f"{unknown}{hint}. Known: {', '.join(sorted(names))} (or give a path to a YAML file)"
    )


def _already(kind: str, value: object) -> str:
    """A hint for a spec given where its name or file goes: it needs no loading."""
    return " (this one is loaded already: use it as it is)" if isinstance(value, KINDS[kind]) else ""


def _expand_tables(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Apply `table_defaults` to each table, and expand `tables: {count: N, each: {...}}`."""
    data = dict(data)
    defaults = data.pop("table_defaults", {}) or {}
    tables = data.get("tables")
    if isinstance(tables, dict):
        count, each = tables.get("count"), tables.get("each", {})
        if not isinstance(count, int) or count < 1 or set(tables) - {"count", "each"}:
            raise PresetError(f"{path}: tables: give a list, or {{count: N >= 1, each: {{...}}}}")
        tables = [{"name": f"t{i}", **each} for i in range(count)]
    if isinstance(tables, list):
        data["tables"] = [_merge(defaults, t) if isinstance(t, dict) else t for t in tables]
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Where each kind of spec is given, named when a file of another kind is given in its place.
_GIVEN_WITH = {"models": "--model (model= in Python)",
               "platforms": "--platform or --ps-platform (platform= or ps_platform= in Python)",
               "jobs": "--job (job= in Python)"}


def _load(kind: str, name_or_path: str | os.PathLike[str], field: str = "") -> Any:
    path = _locate(kind, name_or_path)
    # Specs are immutable, so a file unchanged since the last read gives the same spec: sweeps
    # that call simulate() hundreds of times then parse each preset once.
    return _load_file(kind, str(path.resolve()), path.stat().st_mtime_ns, field)


@lru_cache(maxsize=256)
def _load_file(kind: str, resolved: str, mtime_ns: int, field: str = "") -> Any:
    path = Path(resolved)
    data = read_file(path)
    _check_kind(kind, data, path, field)
    if kind == "models":
        data = _expand_tables(data, path)
    try:
        return from_mapping(KINDS[kind], data)
    except PresetError as err:
        raise PresetError(f"{path}: {err}") from err


def _check_kind(kind: str, data: dict[str, Any], path: Path, field: str) -> None:
    """PresetError when the file says it is another kind of spec (`kind: job` given as a
    model): checked first, since the fields of one kind read as unknown or missing fields of
    another and send the user to edit a file that is right. `field` is the job field that named
    the file, if any: then the job file is what to fix, not a flag."""
    declared = data.get("kind")
    if f"{declared}s" not in KINDS or f"{declared}s" == kind:
        return  # no kind, one we do not know (documentation), or the right one
    wanted = kind[:-1]
    fix = (f"the job's {field} field must name a {wanted} preset or file" if field
           else f"give it with {_GIVEN_WITH[f'{declared}s']}")
    raise PresetError(f"{path} is a {declared} spec (kind: {declared}), not a {wanted}; {fix}")


def model_from_mapping(data: dict[str, Any], where: str = "") -> ModelSpec:
    """A model from plain data in the preset form (`table_defaults`, `tables: {count, each}`)."""
    try:
        return from_mapping(ModelSpec, _expand_tables(data, Path(where or "model")))
    except PresetError as err:
        raise PresetError(f"{where}: {err}" if where else str(err)) from err


def load_model(name_or_path: str | os.PathLike[str]) -> ModelSpec:
    return _load("models", name_or_path)


def model_file(name_or_path: str | os.PathLike[str]) -> Path:
    """The file `load_model` reads for a preset name or a path; PresetError when there is none."""
    return _locate("models", name_or_path)


def load_platform(name_or_path: str | os.PathLike[str]) -> ServerSpec:
    return _load("platforms", name_or_path)


def load_job(name_or_path: str | os.PathLike[str]) -> JobSpec:
    return _load("jobs", name_or_path)


def load_job_part(job: str | os.PathLike[str] | None, field: str, name_or_path: str) -> Any:
    """The model or platform that the job's `field` (model, trainer_platform, ps_platform)
    names. `job` is the preset name or file the job came from (None for a job built in code):
    a name there that resolves to nothing is that file's error, so the message names the job
    file and the field, since the user gave only --job."""
    kind = "models" if field == "model" else "platforms"
    if job is None:
        return _load(kind, name_or_path, field)
    try:
        path = _locate(kind, name_or_path, field)
    except PresetError as err:
        raise PresetError(f"job file {_locate('jobs', job)}: {err}") from err
    return _load(kind, path, field)


def load_any(name_or_path: str) -> tuple[str, Any]:
    """Resolve a name or file of any kind; returns (kind, spec). Files say `kind:` or are guessed."""
    if names_a_file(name_or_path):
        data = read_file(_locate("models", name_or_path))
        kind = str(data.get("kind", "")) + "s"
        if kind not in KINDS:
            kind = "models" if "tables" in data else "jobs" if "trainer_platform" in data else "platforms"
        return kind, _load(kind, name_or_path)
    for kind, names in _registry(preset_root()).items():
        if name_or_path in names:
            return kind, _load(kind, name_or_path)
    every = [n for names in list_presets().values() for n in names]
    close = difflib.get_close_matches(name_or_path, every, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise PresetError(f"unknown preset '{name_or_path}'{hint}. Run `dlrmsim presets` to list them")


def save_spec(spec: Any, path: str | os.PathLike[str], *, kind: str, source: str = "") -> None:
    """Write a spec as YAML that the matching loader reads back: whole or not at all, through a
    hidden temporary file renamed when complete, with a new file's permissions (the umask's).
    Raises PresetError for a folder, or a file that cannot be written there."""
    from traces.atomic import atomic_output  # imported here, as sim/demand_cache does
    from traces.errors import TraceError

    data: dict[str, Any] = {"kind": kind}
    if source:
        data["source"] = source
    mapping = to_mapping(spec)
    assert isinstance(mapping, dict)
    data.update(mapping)
    target = Path(path)
    if target.is_dir():  # os.replace would fail only after the text was written
        raise PresetError(f"{target}: is a folder; give a file name, e.g. "
                          f"{target / (spec.name + '.yaml')}")
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        with atomic_output(target) as out:
            out.write(text.encode("utf-8"))
    except TraceError as err:  # a missing folder, a full disk: the user's to fix, not a bug
        raise PresetError(str(err)) from err


def save_model(spec: ModelSpec, path: str | os.PathLike[str], *, source: str = "") -> None:
    save_spec(spec, path, kind="model", source=source)
