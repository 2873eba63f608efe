"""The demand cache (sim/demand_cache.py): an entry gives the numbers a draw gives, bit for bit;
every input of the draw has its own entry; damaged entries and unwritable folders never fail a
run; the folder stays under its size."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import traces.summary
from sim import demand, demand_cache
from sim.demand import demand_for
from sim.specs import ModelSpec, PoolingSpec, PopularitySpec, TableSpec

REPO = Path(__file__).resolve().parents[2]


def _model(**table_a: object) -> ModelSpec:
    a = TableSpec("a", 5_000, 8, PoolingSpec(4.0, "lognormal", max_lookups=32),
                  PopularitySpec("zipf", 1.05))
    b = TableSpec("b", 300, 8, PoolingSpec(2.0, "fixed"), PopularitySpec("uniform"))
    return ModelSpec("tiny", 4, (dataclasses.replace(a, **table_a), b), (16,), (16,))  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The cache on, in a folder of this test's own; the in-process cache cleared around it."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(demand_cache.ENV_DIR, str(folder))
    monkeypatch.delenv(demand_cache.ENV_OFF, raising=False)
    demand._generated.cache_clear()
    yield folder
    demand._generated.cache_clear()


class _Draws:
    """Counts the generator's draws: ModelSummary is what a draw opens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = traces.summary.ModelSummary

        def counted(*args: object, **kwargs: object) -> object:
            self.count += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(traces.summary, "ModelSummary", counted)


def _fresh(model: ModelSpec, batch_size: int = 64, seed: int = 0) -> demand.Demand:
    demand._generated.cache_clear()
    return demand_for(model, batch_size, seed=seed)


def test_a_cached_demand_is_the_drawn_one_bit_for_bit(cache: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    draws = _Draws(monkeypatch)
    drawn = _fresh(_model())
    assert draws.count == 1 and len(list(cache.glob("*.npy"))) == 1
    read = _fresh(_model())
    assert draws.count == 1  # read back, not drawn again
    for name in ("lookups", "unique_rows"):
        ours, theirs = getattr(read, name), getattr(drawn, name)
        assert ours.dtype == np.int64 and ours.shape == theirs.shape
        assert ours.tobytes() == theirs.tobytes()
        assert not ours.flags.writeable
    assert read.batch_size == drawn.batch_size and read.notes == drawn.notes


def test_a_cached_demand_is_what_a_run_without_the_cache_draws(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = [_fresh(_model()) for _ in range(2)]  # drawn and stored, then read
    monkeypatch.setenv(demand_cache.ENV_OFF, "1")
    uncached = _fresh(_model())
    assert cached[1].lookups.tobytes() == uncached.lookups.tobytes()
    assert cached[1].unique_rows.tobytes() == uncached.unique_rows.tobytes()


def test_every_input_of_the_draw_has_its_own_entry() -> None:
    model = _model()
    key = demand_cache.entry_key(model, 64, 0, None, 0.005)
    others = [
        demand_cache.entry_key(model, 64, 1, None, 0.005),  # seed
        demand_cache.entry_key(model, 128, 0, None, 0.005),  # batch size
        demand_cache.entry_key(model, 64, 0, 8, 0.005),  # a fixed batch count
        demand_cache.entry_key(model, 64, 0, None, 0.004),  # sample target
        demand_cache.entry_key(_model(rows=5_001), 64, 0, None, 0.005),
        demand_cache.entry_key(_model(pooling=PoolingSpec(4.0, "fixed")), 64, 0, None, 0.005),
        demand_cache.entry_key(_model(popularity=PopularitySpec("zipf", 1.1)), 64, 0, None,
                               0.005),
        demand_cache.entry_key(dataclasses.replace(model, tables=model.tables[::-1]), 64, 0,
                               None, 0.005),  # the same tables in another order
    ]
    assert len({key, *others}) == len(others) + 1
    # What the generator does not read shares the entry: table names and widths, the MLPs.
    wider = tuple(dataclasses.replace(t, dim=64) for t in model.tables)
    same = [demand_cache.entry_key(_model(name="renamed"), 64, 0, None, 0.005),
            demand_cache.entry_key(dataclasses.replace(model, tables=wider), 64, 0, None, 0.005),
            demand_cache.entry_key(dataclasses.replace(model, top_mlp=(64, 1)), 64, 0, None,
                                   0.005)]
    assert set(same) == {key}


def test_another_seed_is_drawn_not_read(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draws = _Draws(monkeypatch)
    first, second = _fresh(_model(), seed=0), _fresh(_model(), seed=1)
    assert draws.count == 2 and len(list(cache.glob("*.npy"))) == 2
    assert first.lookups.tobytes() != second.lookups.tobytes()


def test_a_change_to_any_source_file_is_a_new_cache(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    before = demand_cache.tree_digest([package])
    assert demand_cache.tree_digest([package]) == before
    (package / "sub" / "b.py").write_text("y = 3\n")
    edited = demand_cache.tree_digest([package])
    (package / "c.py").write_text("")
    added = demand_cache.tree_digest([package])
    assert len({before, edited, added}) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other_tables", "negative",
                                    "more_distinct_than_lookups", "pickled"])
def test_a_damaged_entry_is_drawn_again_and_rewritten(
        cache: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    good = _fresh(_model())
    (entry,) = cache.glob("*.npy")
    counts = np.load(entry)
    if damage == "garbage":
        entry.write_bytes(b"not an array")
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[:100])
    elif damage == "other_tables":
        np.save(entry, counts[:, :, :1])
    elif damage == "negative":
        counts[1, 0, 0] = -1
        np.save(entry, counts)
    elif damage == "more_distinct_than_lookups":
        counts[1, 0, 0] = counts[0, 0, 0] + 1
        np.save(entry, counts)
    else:  # an object array needs pickle, which the cache never loads
        np.save(entry, np.array([counts], dtype=object), allow_pickle=True)
    draws = _Draws(monkeypatch)
    again = _fresh(_model())
    assert draws.count == 1
    assert again.lookups.tobytes() == good.lookups.tobytes()
    assert again.unique_rows.tobytes() == good.unique_rows.tobytes()
    assert np.load(entry).tobytes() == np.stack([good.lookups, good.unique_rows]).tobytes()


def test_an_unwritable_folder_warns_once_and_the_runs_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(demand_cache.ENV_DIR, str(blocker / "cache"))  # a path through a file
    monkeypatch.delenv(demand_cache.ENV_OFF, raising=False)
    demand_cache._warn_unwritable.cache_clear()
    with pytest.warns(demand_cache.CacheWarning, match="DLRMSIM_CACHE_DIR") as caught:
        runs = [_fresh(_model(), seed=seed) for seed in (0, 1)]
    assert len(caught) == 1
    assert str(blocker / "cache") in str(caught[0].message)
    monkeypatch.setenv(demand_cache.ENV_OFF, "1")
    assert _fresh(_model(), seed=1).lookups.tobytes() == runs[1].lookups.tobytes()
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]  # no temporary file left
    demand._generated.cache_clear()


def test_turned_off_it_reads_and_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    _fresh(_model())
    monkeypatch.setenv(demand_cache.ENV_OFF, "1")
    draws = _Draws(monkeypatch)
    _fresh(_model())
    _fresh(_model(), seed=5)
    assert draws.count == 2 and len(list(cache.glob("*.npy"))) == 1


def test_the_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.delenv(demand_cache.ENV_OFF, raising=False)
    monkeypatch.delenv(demand_cache.ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert demand_cache.cache_folder() == tmp_path / "dlrmsim" / "demand"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demand_cache.cache_folder() == tmp_path / "home" / ".cache" / "dlrmsim" / "demand"
    monkeypatch.setenv(demand_cache.ENV_DIR, str(tmp_path / "mine"))
    assert demand_cache.cache_folder() == tmp_path / "mine"
    monkeypatch.setenv(demand_cache.ENV_OFF, "0")
    assert demand_cache.cache_folder() == tmp_path / "mine"
    monkeypatch.setenv(demand_cache.ENV_OFF, "1")
    assert demand_cache.cache_folder() is None
    monkeypatch.delenv(demand_cache.ENV_OFF)
    monkeypatch.setenv(demand_cache.ENV_DIR, "~no_such_user_here/cache")
    demand_cache._warn_unwritable.cache_clear()
    with pytest.warns(demand_cache.CacheWarning, match="~no_such_user_here/cache"):
        assert demand_cache.cache_folder() is None  # an unknown home: no cache, no failure


def test_pruning_keeps_the_most_recently_used_entries(tmp_path: Path) -> None:
    sizes = {}
    for age, name in enumerate(["newest", "middle", "oldest"]):
        path = tmp_path / f"{name}.npy"
        np.save(path, np.zeros((2, 10, 10), dtype=np.int64))
        os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
        sizes[name] = path.stat().st_size
    demand_cache._prune(tmp_path, sizes["newest"] + sizes["middle"])
    assert sorted(p.stem for p in tmp_path.glob("*.npy")) == ["middle", "newest"]
    demand_cache._prune(tmp_path, sizes["newest"] + sizes["middle"] - 1)
    assert [p.stem for p in tmp_path.glob("*.npy")] == ["newest"]


def test_reading_an_entry_makes_it_recently_used(cache: Path) -> None:
    _fresh(_model())
    (entry,) = cache.glob("*.npy")
    os.utime(entry, (1_000, 1_000))
    _fresh(_model())
    assert entry.stat().st_mtime > 1_000


def test_the_command_gives_the_same_json_from_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, demand_cache.ENV_DIR: str(tmp_path / "cache")}
    env.pop(demand_cache.ENV_OFF, None)
    command = [sys.executable, "-m", "dlrmsim", "simulate", "--job", "test_suite_gpu",
               "--iterations", "6", "--json"]
    runs = [subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO,
                           check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout
    assert json.loads(runs[0].stdout)["throughput_examples_per_s"] > 0
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1


def test_the_command_warns_of_an_unwritable_cache_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    env = {**os.environ, demand_cache.ENV_DIR: str(blocker / "cache")}
    env.pop(demand_cache.ENV_OFF, None)
    run = subprocess.run([sys.executable, "-m", "dlrmsim", "simulate", "--job", "test_suite_gpu",
                          "--iterations", "6", "--json"], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True)
    assert json.loads(run.stdout)["throughput_examples_per_s"] > 0
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("dlrmsim simulate: warning: cannot write the demand cache in ")
    assert "Warning" not in lines[0] and demand_cache.ENV_OFF in lines[0]


def test_models_that_draw_the_same_numbers_share_one_draw_in_a_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(demand_cache.ENV_OFF, "1")  # the process's own cache alone
    demand._generated.cache_clear()
    draws = _Draws(monkeypatch)
    model = _model()
    wider = tuple(dataclasses.replace(t, dim=64) for t in model.tables)
    first = demand_for(model, 64, seed=0)
    for alike in (dataclasses.replace(model, name="other", top_mlp=(64, 1)),
                  dataclasses.replace(model, tables=wider), _model(name="renamed")):
        assert demand_for(alike, 64, seed=0) is first
    assert draws.count == 1
    demand_for(_model(rows=5_001), 64, seed=0)
    assert draws.count == 2
    demand._generated.cache_clear()
