"""Which servers of a job send messages to other servers, as the role processes decide, and the
check, made before a run, that every platform they run on has a NIC to send them with (without
one, the first message would fail in the middle of the run: ServerResources.nic_pool)."""

from __future__ import annotations

from collections.abc import Mapping

from sim.errors import DlrmsimInputError
from sim.specs import JobSpec, ServerSpec

# Each role's platform field and its noun; PLATFORM_FLAGS: the flag that sets each field (the fix).
_ROLES = {"trainer": ("trainer_platform", "trainer"),
          "sparse_ps": ("ps_platform", "sparse parameter server"),
          "dense_ps": ("ps_platform", "dense parameter server"),
          "reader": ("ps_platform", "reader")}
PLATFORM_FLAGS = {"trainer_platform": "--platform", "ps_platform": "--ps-platform"}


def crossings(spec: JobSpec, trainer: ServerSpec) -> dict[str, list[str]]:
    """By role, the messages its servers exchange with other servers, for every role that
    has any; `trainer`: the trainer platform, whose GPUs decide what the trainers do."""
    found: dict[str, list[str]] = {}

    def add(role: str, what: str) -> None:
        found.setdefault(role, []).append(what)

    if spec.placement.kind == "remote":  # sparse_ps.exchange: cpu_trainer, remote_lookup
        add("trainer", "lookups to the sparse parameter servers, placement remote")
        add("sparse_ps", "lookups from the trainers, placement remote")
    if spec.dense_ps and not trainer.gpus:  # dense_ps.easgd; GPU trainers all-reduce instead
        add("trainer", "EASGD syncs with the dense parameter servers")
        add("dense_ps", "EASGD syncs with the CPU trainers")
    if spec.readers:  # reader.feed
        add("trainer", "batches from the readers")
        add("reader", "batches to the trainers")
    if trainer.gpus and spec.trainers > 1:  # gpu_step._dense_sync, gpu_plan's routes
        add("trainer", "the dense all-reduce across GPU servers")
        if spec.placement.kind != "remote":  # the tables are spread over all the servers
            add("trainer", "indices and embeddings between GPU servers")
    return found


def check_nics(spec: JobSpec, trainer: ServerSpec, ps: ServerSpec,
               files: Mapping[str, str] | None = None) -> None:
    """Raise DlrmsimInputError for the first platform of the job (the trainers' first) that
    has no NIC while servers on it exchange messages with other servers; `files`: the file
    each platform was read from, by job field, where it came from one."""
    files = files or {}
    found = crossings(spec, trainer)
    counts = {"trainer": spec.trainers, "sparse_ps": spec.sparse_ps, "dense_ps": spec.dense_ps,
              "reader": spec.readers}
    for field, server in (("trainer_platform", trainer), ("ps_platform", ps)):
        roles = [role for role in _ROLES if role in found and _ROLES[role][0] == field]
        if server.nics or not roles:
            continue
        runs = " and ".join(f"{_counted(counts[r], _ROLES[r][1])} ({'; '.join(found[r])})"
                            for r in roles)
        source = f" (from {files[field]})" if field in files else ""
        raise DlrmsimInputError(
            f"platform {server.name}{source} has no NIC, but it runs the job's {runs}, and a "
            f"message between servers needs a NIC at each end: give the platform one (an entry "
            f"under nics: in its file), or give {PLATFORM_FLAGS[field]} a platform that has one")


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
