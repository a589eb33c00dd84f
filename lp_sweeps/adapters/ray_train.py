"""The one module that imports Ray Train: a trial of ``resources.workers`` > 1 data-parallel
processes (Lightning DDP inside a Ray Train ``TorchTrainer``), started from its Tune trial.

The Tune trial is a small driver (:data:`DRIVER_CPUS`); the ``TorchTrainer`` it starts places the
workers (``resources.cpus`` / ``resources.gpus`` each, fractions allowed), sets up the process group
(gloo on CPUs, NCCL on GPUs) and runs :func:`lp_sweeps.trial.run_trial` in every worker. Rank 0
logs to MLflow and hands the checkpoint of each validation epoch to Ray Train, which keeps it in
the trial's Train run under the sweep's storage path. A retried or resumed trial starts the same
Train run again (same name and storage path) and every worker continues from the latest of those
checkpoints (``ray.train.get_checkpoint``). Worker failures are first retried inside the Train run.
"""

import dataclasses
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import ray
import ray.train
from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment
from ray.train.torch import TorchConfig, TorchTrainer

from lp_sweeps.study import Study
from lp_sweeps.trial import CHECKPOINT_FILE, Replicate, TrialContext, WorkerPlacement, run_trial

__all__ = [
    "CHECKPOINT_PATH_KEY", "DRIVER_CPUS", "DistributedTrial", "TrainWorkerReporter", "checkpoint_file",
    "concurrent_trials_that_fit",
    "fit_distributed_trial", "train_storage_path",
]

DRIVER_CPUS = 0.1  # the Tune trial that only starts and watches the TorchTrainer
CHECKPOINT_PATH_KEY = "checkpoint_path"  # where Ray Tune's TuneReportCallback puts the checkpoint's location
WORKER_RETRIES = 2  # worker-group restarts inside one Train run (a worker or its node died)


@dataclasses.dataclass(frozen=True)
class DistributedTrial:
    """One data-parallel trial: its identity, its resources and where Ray Train keeps its run."""

    trial_id: str
    trial_name: str
    sampled: dict
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    storage_path: str  # the sweep's Train runs; shared by every node (filesystem or URI)
    metric: str
    mode: str
    replicate: Optional[Replicate] = None
    number: Optional[int] = None  # the trial's number in the sweep


def checkpoint_file(checkpoint: Checkpoint | None, folder: Path) -> str | None:
    """The Lightning checkpoint file of a Ray checkpoint (Tune's or Train's), copied into ``folder``."""
    if checkpoint is None:
        return None
    checkpoint.to_directory(str(folder))
    return str(folder / CHECKPOINT_FILE)


class TrainWorkerReporter:
    """:class:`lp_sweeps.trial.TrialReporter` for one Ray Train worker."""

    def __init__(self, trial_id: str, trial_name: str, scratch_dir: Path) -> None:
        self.trial_id = trial_id
        self.trial_name = trial_name
        self.node_ip = ray.util.get_node_ip_address()
        self.scratch_dir = scratch_dir

    def resume_checkpoint(self) -> str | None:
        return checkpoint_file(ray.train.get_checkpoint(), self.scratch_dir / "resume")

    def own_checkpoint_state(self) -> dict | None:
        """None: a data-parallel trial only ever continues its own Train run's checkpoints (the
        study check refuses population-based training for it), so no epoch of it is left unlogged
        by a switch to another trial's weights."""
        return None

    def report(self, metrics: dict[str, float], checkpoint_dir: str | None) -> None:
        checkpoint = None if checkpoint_dir is None else Checkpoint.from_directory(checkpoint_dir)
        ray.train.report(metrics, checkpoint=checkpoint)  # every worker calls it; rank 0's metrics count


def _trainer_settings(use_gpu: bool) -> dict:
    """Lightning Trainer device settings for a worker: one device, DDP wired to Ray's process group."""
    return {
        "accelerator": "gpu" if use_gpu else "cpu",
        "devices": "auto",
        "strategy": RayDDPStrategy(),
        "plugins": [RayLightningEnvironment()],
    }


def _train_worker(config: dict) -> None:
    """What each Ray Train worker runs."""
    train_context = ray.train.get_context()
    rank, world_size = train_context.get_world_rank(), train_context.get_world_size()
    trial: DistributedTrial = config["trial"]
    context: TrialContext = config["context"]
    study: Study = config["study"]
    scratch = Path(tempfile.gettempdir(), "lp_sweeps_train", context.sweep_name, trial.trial_id, f"rank{rank}")
    scratch.mkdir(parents=True, exist_ok=True)
    reporter = TrainWorkerReporter(trial.trial_id, trial.trial_name, scratch)
    placement = WorkerPlacement(rank=rank, world_size=world_size, trainer_settings=_trainer_settings(trial.gpus_per_worker > 0))
    try:
        run_trial(study, trial.sampled, context, reporter, model_dir=str(scratch / "model"), placement=placement,
                  replicate=trial.replicate, number=trial.number)
    finally:  # what the worker kept is in the run's storage and in MLflow by now; a restart starts afresh
        shutil.rmtree(scratch, ignore_errors=True)


def fit_distributed_trial(trial: DistributedTrial, study: Study, context: TrialContext,
                          callbacks: Sequence[object]) -> None:
    """Run the trial's Train run to its end; ``callbacks`` forward its reports (Tune's)."""
    use_gpu = trial.gpus_per_worker > 0
    per_worker = {"CPU": trial.cpus_per_worker, **({"GPU": trial.gpus_per_worker} if use_gpu else {})}
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config={"trial": trial, "study": study, "context": context},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=trial.workers, use_gpu=use_gpu, resources_per_worker=per_worker),
        run_config=RunConfig(
            name=trial.trial_id,  # the same run again when the trial is retried: it resumes
            storage_path=trial.storage_path,
            callbacks=list(callbacks),
            failure_config=FailureConfig(max_failures=WORKER_RETRIES),
            checkpoint_config=CheckpointConfig(
                num_to_keep=2, checkpoint_score_attribute=trial.metric, checkpoint_score_order=trial.mode
            ),
        ),
    )
    trainer.fit()


def concurrent_trials_that_fit(workers: int, cpus_per_worker: float, gpus_per_worker: float) -> int:
    """How many such trials the connected cluster holds at once (at least 1). Tune only sees the
    drivers, so without this limit it would start trials whose workers can only wait."""
    total = ray.cluster_resources()
    limits = [math.floor(total.get("CPU", 0.0) / (DRIVER_CPUS + workers * cpus_per_worker))]
    if gpus_per_worker > 0:
        limits.append(math.floor(total.get("GPU", 0.0) / (workers * gpus_per_worker) + 1e-9))
    return max(1, min(limits))


def train_storage_path(storage_dir: str, sweep_name: str) -> str:
    return os.path.join(storage_dir, sweep_name, "ray_train")
