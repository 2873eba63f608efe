"""Specs of how a model is trained: the embedding placement and the job's roles and counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.specs import checks
from sim.specs.checks import SpecError

PLACEMENTS = ("gpu", "system", "remote", "hybrid")
SHARDINGS = ("table_wise", "row_wise")
PACKINGS = ("packed", "spread")


@dataclass(frozen=True)
class PlacementSpec:
    """Where the embedding tables live.

    `gpu`: GPU memory, sharded `table_wise` or `row_wise`, `packed` on the fewest GPUs that hold
    the tables with their optimizer state or `spread` over all. `system`: the GPU server's host
    memory. `remote`: the memory of remote CPU servers (sparse parameter servers). `hybrid`: the
    hottest tables that fit on the GPUs (sharded `table_wise` or `row_wise`; always `spread`,
    since it fills every GPU), the rest in host memory. `sharding` and `packing` do not apply
    to `system` and `remote`. Raises SpecError on a bad field.
    """

    kind: str = "gpu"
    sharding: str = "table_wise"
    packing: str = "spread"

    def __post_init__(self) -> None:
        checks.one_of("PlacementSpec", "kind", self.kind, PLACEMENTS)
        checks.one_of("PlacementSpec", "sharding", self.sharding, SHARDINGS)
        checks.one_of("PlacementSpec", "packing", self.packing, PACKINGS)
        if self.kind == "hybrid" and self.packing == "packed":
            raise SpecError("PlacementSpec", "packing", self.packing,
                            "spread for the hybrid placement, which fills every GPU with the "
                            "hottest tables before it puts the rest in system memory (packed "
                            "applies to placement gpu)")


@dataclass(frozen=True)
class JobSpec:
    """A training job: which model, on which platforms, with how many servers of each role.

    Trainers run on `trainer_platform`; sparse and dense parameter servers and readers on
    `ps_platform`. CPU trainers run `hogwild_threads` threads and synchronize with the dense
    parameter servers by EASGD every `easgd_period` iterations. `gpus_per_trainer` of 0 means
    all GPUs of the trainer platform. With `input_prefetch`, a GPU trainer copies the next
    batch's inputs while the current batch trains (see below). Raises SpecError on a bad or
    inconsistent field.
    """

    name: str
    model: str
    trainer_platform: str
    batch_size: int
    trainers: int = 1
    sparse_ps: int = 0
    dense_ps: int = 0
    readers: int = 0
    hogwild_threads: int = 1
    easgd_period: int = 1
    gpus_per_trainer: int = 0
    ps_platform: str = "dual_socket_cpu"
    placement: PlacementSpec = field(default_factory=PlacementSpec)
    # GPU trainers prefetch: batch i+1's inputs go host to GPU (pinned memory, non-blocking
    # copy on a side stream) while batch i trains, so the copy overlaps the step instead of
    # opening it. Production trainers do (TorchRec's TrainPipelineBase copies the next batch
    # on its `_memcpy_stream`; HugeCTR likewise); the reference dlrm_s_pytorch.py does not
    # (pin_memory=False, blocking .to(device)). False puts the copy at the start of the step.
    input_prefetch: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("name", "model", "trainer_platform", "ps_platform"):
            checks.non_empty_name("JobSpec", name, getattr(self, name))
        for name in ("batch_size", "trainers", "hogwild_threads", "easgd_period"):
            checks.positive_int("JobSpec", name, getattr(self, name))
        for name in ("sparse_ps", "dense_ps", "readers", "gpus_per_trainer"):
            checks.non_negative_int("JobSpec", name, getattr(self, name))
        if not isinstance(self.input_prefetch, bool):
            raise SpecError("JobSpec", "input_prefetch", self.input_prefetch, "true or false")
        if self.placement.kind == "remote" and self.sparse_ps < 1:
            raise SpecError("JobSpec", "sparse_ps", self.sparse_ps,
                            ">= 1 when the placement is remote (tables live on sparse PS)")
