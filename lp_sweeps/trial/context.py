"""What a trial is given besides its sampled values, and what it asks of its scheduler."""

import dataclasses
from typing import Any, Optional, Protocol, runtime_checkable

from lp_sweeps.tracking import TRACKING_PATIENCE_S

__all__ = [
    "CHECKPOINT_FILE", "PARAM_OOM_BATCH", "Replicate", "SAMPLED_PARAMS_FILE", "TAG_NODE_IP", "TAG_OOM_RETRY",
    "TAG_REPLICATE_OF", "TAG_WORLD_SIZE",
    "TrialContext", "TrialReporter", "WorkerPlacement",
]

CHECKPOINT_FILE = "model.ckpt"
SAMPLED_PARAMS_FILE = "sampled_params.json"  # in the trial folder: the values the trial trained with
TAG_NODE_IP = "lp_sweeps.node_ip"  # the Ray node of the trial's rank-0 process (latest attempt)
TAG_WORLD_SIZE = "lp_sweeps.world_size"  # training processes of the trial (DDP workers)
TAG_REPLICATE_OF = "lp_sweeps.replicate_of"  # a replicate's search trial (trial id)
TAG_OOM_RETRY = "lp_sweeps.oom_retry"  # "16 -> 8": the trial ran out of device memory and trained with half the batch
PARAM_OOM_BATCH = "oom_retry_train_batch_size"  # the batch the retried trial trained with


@dataclasses.dataclass(frozen=True)
class Replicate:
    """A retraining of the configuration of search trial ``source_trial_id`` (short name ``group``,
    e.g. ``t03``) with seed ``seed`` (1, 2, ...: added to the base config's model and data seeds)."""

    group: str
    seed: int
    source_trial_id: str


@dataclasses.dataclass(frozen=True)
class TrialContext:
    """Where a sweep's trials record and find things (sent to every trial by the driver, with the
    parsed study)."""

    demo_dir: Optional[str]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    sweep_name: str
    cache_dir: Optional[str] = None
    spool_dir: Optional[str] = None
    storage_dir: Optional[str] = None  # the sweep's storage path (data-parallel trials keep their Train runs there)
    stage_data: bool = False  # copy data_dir to node-local scratch once per node (sweeps on a cluster)
    tracking_patience_s: float = TRACKING_PATIENCE_S  # how long a trial's end waits for an unreachable server


@runtime_checkable
class TrialReporter(Protocol):
    """The scheduler side of a trial (implemented by the Ray adapters), one per training process.

    ``report`` is called by every process of a data-parallel trial in the same order (Ray Train
    collects them); only rank 0 passes a checkpoint folder, the others pass None."""

    trial_id: str
    trial_name: str
    node_ip: str

    def resume_checkpoint(self) -> Optional[str]: ...

    def own_checkpoint_state(self) -> Optional[dict]:
        """The lineage state (:mod:`lp_sweeps.trial.lineage`) of this trial's newest checkpoint."""
        ...

    def report(self, metrics: dict[str, float], checkpoint_dir: Optional[str]) -> None: ...


@dataclasses.dataclass(frozen=True)
class WorkerPlacement:
    """Where one training process of a trial sits: its rank among ``world_size`` DDP processes and
    the Lightning Trainer device settings that go with it (None: one process, the usual device)."""

    rank: int = 0
    world_size: int = 1
    trainer_settings: Optional[dict[str, Any]] = None
