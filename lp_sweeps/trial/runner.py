"""What one sweep trial does, whatever scheduler runs it.

A Ray adapter calls :func:`run_trial` with the parsed study, the trial's sampled values and a
:class:`~lp_sweeps.trial.context.TrialReporter`. The trial composes its config, opens (or re-opens,
on retry/resume) its one MLflow child run, trains through :func:`lightning_pose.train.train`, and
after every validation epoch logs the metrics to MLflow and reports them, with a checkpoint, to the
scheduler.
"""

import logging
import math
import os
import tempfile
import time
from typing import Optional

import lightning.pytorch as pl
from omegaconf import OmegaConf

from lightning_pose.train import train
from lp_sweeps.search import mutations_of
from lp_sweeps.staging import default_stage_root, stage_data
from lp_sweeps.study import Study, compose_trial_config
from lp_sweeps.study.space import clean_param_names
from lp_sweeps.tracking import TrackingFlushError, TrialTracker
from lp_sweeps.trial.context import (
    CHECKPOINT_FILE, TAG_NODE_IP, TAG_WORLD_SIZE, TrialContext, TrialReporter, WorkerPlacement,
)
from lp_sweeps.trial.lineage import ConfiguredLearningRate, record_start, write_lineage

__all__ = ["EpochReporter", "Stopwatch", "epoch_metrics", "run_trial"]

logger = logging.getLogger(__name__)

TRACKED_PREFIXES = ("val_", "train_", "lr-", "total_", "epoch")
FLUSH_TIMEOUT_S = 5.0  # per report; while the server is away the spool keeps the rest


class Stopwatch:
    """Accumulates the foreground time spent in tracking calls (for the overhead benchmark)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds += time.perf_counter() - self._start


class EpochReporter(pl.Callback):
    """After each validation epoch: save a checkpoint and report it with the metrics to the
    scheduler, then log the metrics to MLflow (rank 0). Under DDP the validation metrics are
    already reduced across processes.

    The order keeps every epoch in the trial's MLflow history exactly once across crashes: an
    epoch's metrics are logged only after its checkpoint is durable (a trial restarts from its
    newest durable checkpoint, so it never trains a logged epoch again), the checkpoint carries the
    epoch's metrics (a trial that died between the report and the log logs them when it restarts),
    and replayed records are sent only for steps MLflow does not have yet."""

    def __init__(self, reporter: TrialReporter, tracker: Optional[TrialTracker], metric: str, started: float,
                 tracking_time: Stopwatch, sampled: Optional[dict] = None) -> None:
        super().__init__()
        self.reporter = reporter
        self.sampled = dict(sampled or {})
        self.tracker = tracker
        self.metric = metric
        self.started = started
        self.tracking_time = tracking_time
        self.first_step_time: Optional[float] = None
        self._last: dict = {}  # the epoch being reported: saved with its checkpoint
        self.restored: dict = {}  # what the checkpoint the trial restarted from carried

    def state_dict(self) -> dict:
        return dict(self._last)

    def load_state_dict(self, state_dict: dict) -> None:
        self.restored = dict(state_dict)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """After a restart: the restored epoch's metrics (logged unless MLflow has them) and a
        ``resumed_from_epoch`` record."""
        if not self.restored or self.tracker is None:
            return
        epoch = int(self.restored["epoch"])
        with self.tracking_time:
            if self.restored.get("trial_id", self.reporter.trial_id) == self.reporter.trial_id:
                # not for another trial's checkpoint (PBT): those metrics are the donor's
                self.tracker.log_metrics(self.restored["metrics"], step=epoch, once=True)
            self.tracker.log_metrics({"resumed_from_epoch": float(epoch)}, step=epoch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.first_step_time is None:
            self.first_step_time = time.perf_counter()

    def _log(self, metrics: dict[str, float], step: int) -> None:
        """Spool the epoch's metrics and try to send them; while the server is away they stay
        spooled and are retried."""
        if self.tracker is None:
            return
        with self.tracking_time:
            self.tracker.log_metrics(metrics, step=step)
            try:
                self.tracker.flush(timeout=FLUSH_TIMEOUT_S)
            except TrackingFlushError as err:
                logger.warning(f"metrics of epoch {step} not yet delivered ({err}); training goes on")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = epoch_metrics(trainer.callback_metrics)
        metrics["epoch"] = float(trainer.current_epoch)
        if self.metric not in metrics:  # the same on every rank: the objective is synced
            logger.warning(f"objective {self.metric!r} was not logged this epoch; have: {sorted(metrics)}")
            self._log(metrics, trainer.current_epoch)
            return
        self._last = {"epoch": trainer.current_epoch, "metrics": metrics, "trial_id": self.reporter.trial_id}
        try:
            with tempfile.TemporaryDirectory(prefix="lp-trial-ckpt-") as folder:
                trainer.save_checkpoint(os.path.join(folder, CHECKPOINT_FILE))  # every rank takes part; rank 0 writes
                write_lineage(folder, self.reporter.trial_id, trainer.current_epoch, self.sampled)
                diagnostics = {
                    "lp_start_overhead_s": (self.first_step_time or time.perf_counter()) - self.started,
                    "lp_tracking_s": self.tracking_time.seconds,
                }
                self.reporter.report({**metrics, **diagnostics}, folder if trainer.is_global_zero else None)
        finally:  # also when the scheduler stops the trial at this report
            self._log(metrics, trainer.current_epoch)


def epoch_metrics(callback_metrics: dict) -> dict[str, float]:
    """The tracked scalar, finite metrics of an epoch (validation, training, learning rates)."""
    return {
        k: float(v) for k, v in callback_metrics.items()
        if v.numel() == 1 and k.startswith(TRACKED_PREFIXES) and math.isfinite(float(v))
    }


def _open_tracker(context: TrialContext, reporter: TrialReporter, sampled: dict, cfg, world_size: int) -> TrialTracker:
    tracker = TrialTracker(
        context.tracking_uri, context.parent_run_id, context.experiment_id,
        reporter.trial_id, reporter.trial_name, context.sweep_name, spool_dir=context.spool_dir,
    )
    tracker.start()
    tracker.set_tags({TAG_NODE_IP: reporter.node_ip, TAG_WORLD_SIZE: world_size})
    tracker.log_params(clean_param_names(sampled))
    tracker.log_text(OmegaConf.to_yaml(cfg), "config.yaml")
    return tracker


def run_trial(study: Study, sampled: dict, context: TrialContext, reporter: TrialReporter, model_dir: str,
              placement: WorkerPlacement = WorkerPlacement()) -> None:
    """Train one trial to the end (or until the scheduler stops it), as one of
    ``placement.world_size`` processes. Only rank 0 opens the trial's MLflow run.

    The study's batch sizes are per trial: with N processes each takes ``ceil(batch / N)``
    labeled frames and its share of the unlabeled frames (``training.num_gpus`` = N).
    Besides the Lightning metrics, each report carries ``lp_start_overhead_s`` (trial start to
    first training step) and ``lp_tracking_s`` (time the trial waited on MLflow so far)."""
    started = time.perf_counter()
    cfg = compose_trial_config(study, sampled, context.demo_dir)
    if placement.world_size > 1:
        cfg.training.num_gpus = placement.world_size
    tracking_time = Stopwatch()
    tracker = None
    if placement.rank == 0:
        with tracking_time:
            tracker = _open_tracker(context, reporter, sampled, cfg, placement.world_size)
    cache_dir = context.cache_dir
    if context.stage_data:  # after the config went to MLflow: the run shows the data's real home
        cfg.data.data_dir = str(stage_data(cfg.data.data_dir))
        cache_dir = str(default_stage_root() / "decoded_frames")
    resume = reporter.resume_checkpoint()
    if tracker is not None:  # a trial continuing another trial's checkpoint (PBT) records what changed
        record_start(tracker, reporter.trial_id, sampled, resume,
                     mutations_of(study.scheduler.name, study.parameters, study.scheduler.options))
    callback = EpochReporter(reporter, tracker, study.objective.metric, started, tracking_time, sampled)
    rate = ConfiguredLearningRate(cfg.training.optimizer_params.learning_rate)
    status = "FAILED"
    try:
        train(
            cfg, model_dir=model_dir, skip_evaluation=True, extra_callbacks=[callback, rate],
            cache_dir=cache_dir, resume_from=resume, quiet=True, trainer_settings=placement.trainer_settings,
        )
        status = "FINISHED"
    finally:
        # a trial stopped by the scheduler ends here through an exception from report()
        if tracker is not None:
            _end_tracker(tracker, status if status == "FINISHED" else "KILLED")


def _end_tracker(tracker: TrialTracker, status: str) -> None:
    """Close the run; records the server did not take stay in the spool, which the driver
    delivers at the end of the sweep (the trial itself succeeded)."""
    try:
        tracker.end(status)
    except TrackingFlushError as err:
        logger.warning(f"the trial's last tracking records wait in its spool for the end of the sweep: {err}")
