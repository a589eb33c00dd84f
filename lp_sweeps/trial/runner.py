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
import shutil
import time
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl
import psutil
import torch
from omegaconf import OmegaConf

from lightning_pose.train import train
from lp_sweeps.search import mutations_of
from lp_sweeps.staging import default_stage_root, stage_data
from lp_sweeps.study import METRICS, Study, compose_trial_config
from lp_sweeps.study.labels import replicate_name, trial_group, trial_name
from lp_sweeps.study.metrics import EPOCH
from lp_sweeps.study.space import clean_param_names
from lp_sweeps.tracking import TAG_GROUP, TAG_SAMPLED_KEYS, TAG_SEED, TrackingFlushError, TrialTracker
from lp_sweeps.trial.context import (
    CHECKPOINT_FILE, PARAM_OOM_BATCH, TAG_NODE_IP, TAG_OOM_RETRY, TAG_REPLICATE_OF, TAG_WORLD_SIZE, Replicate,
    TrialContext, TrialReporter, WorkerPlacement,
)
from lp_sweeps.trial.checkpoints import reap_orphan_scratch, scratch_folder
from lp_sweeps.trial.evaluation import evaluate_trial
from lp_sweeps.trial.inputs import apply_loader_workers, apply_seed, labeled_dataset, non_default_values
from lp_sweeps.trial.lineage import ConfiguredLearningRate, record_start, write_lineage

__all__ = ["EpochReporter", "Stopwatch", "epoch_metrics", "run_trial", "train_retrying_oom"]

logger = logging.getLogger(__name__)

TRACKED_PREFIXES = ("val_", "train_", "lr-", "total_", "epoch")
FLUSH_TIMEOUT_S = 5.0  # per report; while the server is away the spool keeps the rest
SYSTEM_METRICS_INTERVAL_S = 5.0  # CPU, memory (GPU) samples of a trial's machine, as system/* metrics


class Stopwatch:
    """Accumulates the foreground time spent in tracking calls (for the overhead benchmark)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds += time.perf_counter() - self._start


@dataclass
class _Pending:
    """An epoch's report held back: what goes to the scheduler, what goes to MLflow, the checkpoint."""

    report: dict[str, float]
    metrics: dict[str, float]
    step: int
    checkpoint_dir: Optional[str]  # rank 0 hands the checkpoint to the scheduler
    folder: str


class EpochReporter(pl.Callback):
    """After each validation epoch: save a checkpoint and report it with the metrics to the
    scheduler, then log the metrics to MLflow (rank 0). Under DDP the validation metrics are
    already reduced across processes.

    The order keeps every epoch in the trial's MLflow history exactly once across crashes: an
    epoch's metrics are logged only after its checkpoint is durable (a trial restarts from its
    newest durable checkpoint, so it never trains a logged epoch again), the checkpoint carries the
    epoch's metrics (a trial that died between the report and the log logs them when it restarts),
    and replayed records are sent only for steps MLflow does not have yet.

    The last epoch's report is held back (:attr:`pending`) until :meth:`report_final`, so that it
    carries what the trial measures after training (the video stage) and a scheduler that stops
    trials at their last report cannot cut that short."""

    def __init__(self, reporter: TrialReporter, tracker: Optional[TrialTracker], metric: str, started: float,
                 tracking_time: Stopwatch, sampled: Optional[dict] = None, process_age_s: float = 0.0) -> None:
        super().__init__()
        self.reporter = reporter
        self.sampled = dict(sampled or {})
        self.tracker = tracker
        self.metric = metric
        self.started = started
        self.process_age_s = process_age_s
        self.tracking_time = tracking_time
        self.first_step_time: Optional[float] = None
        self._last: dict = {}  # the epoch being reported: saved with its checkpoint
        self.restored: dict = {}  # what the checkpoint the trial restarted from carried
        self.pending: Optional[_Pending] = None  # the held-back report of the last epoch
        self.last_step = 0

    def state_dict(self) -> dict:
        return dict(self._last)

    def load_state_dict(self, state_dict: dict) -> None:
        self.restored = dict(state_dict)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """After a restart: the restored epoch's metrics (logged unless MLflow has them) and a
        ``resumed_from_epoch`` record. At fit start (the checkpoint is loaded by then), so a trial
        restarted from the checkpoint of its last epoch, with nothing left to train, records it too."""
        if not self.restored:
            return
        epoch = self.last_step = int(self.restored["epoch"])
        if self.tracker is None:
            return
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
        self.last_step = trainer.current_epoch
        if self.metric not in metrics:  # the same on every rank: the objective is synced
            logger.warning(f"objective {self.metric!r} was not logged this epoch; have: {sorted(metrics)}")
            self._log(metrics, trainer.current_epoch)
            return
        self._last = {"epoch": trainer.current_epoch, "metrics": metrics, "trial_id": self.reporter.trial_id}
        folder = scratch_folder()
        trainer.save_checkpoint(os.path.join(folder, CHECKPOINT_FILE))  # every rank takes part; rank 0 writes
        write_lineage(folder, self.reporter.trial_id, trainer.current_epoch, self.sampled, metrics)
        diagnostics = {
            "lp_start_overhead_s": (self.first_step_time or time.perf_counter()) - self.started,
            "lp_tracking_s": self.tracking_time.seconds,
            "lp_process_age_s": self.process_age_s,
        }
        self.pending = _Pending({**metrics, **diagnostics}, metrics, trainer.current_epoch,
                                folder if trainer.is_global_zero else None, folder)
        interval = trainer.check_val_every_n_epoch or 1
        if not (trainer.should_stop or trainer.current_epoch + interval >= trainer.max_epochs):
            self.report_final({})

    def report_final(self, extra: dict[str, float]) -> None:
        """Sends the held report with ``extra`` metrics added (nothing when none is held), then
        logs the epoch's metrics to MLflow (also when the scheduler stops the trial at this report)."""
        if self.pending is None:
            return
        pending, self.pending = self.pending, None
        try:
            self.reporter.report({**pending.report, **extra}, pending.checkpoint_dir)
        finally:
            try:
                self._log(pending.metrics, pending.step)
            finally:
                shutil.rmtree(pending.folder, ignore_errors=True)

    @property
    def reported(self) -> bool:
        """Whether this attempt reported (or holds) an epoch."""
        return bool(self._last) or self.pending is not None

    def discard_pending(self) -> None:
        """Drops a report still held (the trial failed after its last epoch)."""
        if self.pending is not None:
            shutil.rmtree(self.pending.folder, ignore_errors=True)
            self.pending = None


def epoch_metrics(callback_metrics: dict) -> dict[str, float]:
    """The tracked scalar, finite metrics of an epoch (validation, training, learning rates)."""
    return {
        k: float(v) for k, v in callback_metrics.items()
        if v.numel() == 1 and k.startswith(TRACKED_PREFIXES) and math.isfinite(float(v))
    }


def _run_name(trial_id: str, sampled: dict, replicate: Optional[Replicate], number: Optional[int]) -> str:
    if replicate is None:
        return trial_name(trial_id, sampled, number)
    return replicate_name(replicate.group, replicate.seed, sampled)


def _open_tracker(context: TrialContext, reporter: TrialReporter, sampled: dict, cfg, world_size: int,
                  replicate: Optional[Replicate], number: Optional[int], started_at: float) -> TrialTracker:
    tracker = TrialTracker(
        context.tracking_uri, context.parent_run_id, context.experiment_id,
        reporter.trial_id, _run_name(reporter.trial_id, sampled, replicate, number), context.sweep_name,
        spool_dir=context.spool_dir, started_at=started_at, patience_s=context.tracking_patience_s,
    )
    tracker.start()
    tags: dict[str, Any] = {TAG_NODE_IP: reporter.node_ip, TAG_WORLD_SIZE: world_size,
                            TAG_SAMPLED_KEYS: ", ".join(sampled)}
    if replicate is None:
        tags[TAG_GROUP] = trial_group(reporter.trial_id, number)
    else:
        tags.update({TAG_GROUP: replicate.group, TAG_SEED: replicate.seed, TAG_REPLICATE_OF: replicate.source_trial_id})
    tracker.set_tags(tags)
    tracker.log_params({**non_default_values(cfg), **clean_param_names(sampled)})
    tracker.log_dataset(labeled_dataset(cfg))
    tracker.log_text(OmegaConf.to_yaml(cfg), "config.yaml")
    tracker.monitor_system(SYSTEM_METRICS_INTERVAL_S)
    return tracker


def train_retrying_oom(cfg, tracker: Optional[TrialTracker], callback: EpochReporter, **kwargs):
    """:func:`train`; a trial that runs out of device memory (``torch.OutOfMemoryError``, also the
    one ``training.memory_cap_bytes`` raises) before its first report trains once more with half
    the batch, recorded on its run (tag :data:`TAG_OOM_RETRY`, param :data:`PARAM_OOM_BATCH`).
    Not retried: a second out-of-memory error, one after an epoch was reported (the scheduler has
    seen that epoch), and ``train_batch_size: auto`` (the probe already sized the batch)."""
    try:
        return train(cfg, **kwargs)
    except torch.OutOfMemoryError as err:
        batch = cfg.training.train_batch_size
        if callback.reported or isinstance(batch, str) or batch < 2:
            raise
        message = str(err).splitlines()[0][:200]
    half = batch // 2  # outside the except block: the error's frames (and their tensors) are freed
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    logger.warning(f"out of device memory at train_batch_size={batch} ({message}); retrying once with {half}")
    cfg.training.train_batch_size = half
    if tracker is not None:
        tracker.set_tags({TAG_OOM_RETRY: f"{batch} -> {half}: {message}"})
        tracker.log_params({PARAM_OOM_BATCH: half})
    return train(cfg, **kwargs)


def epoch_objective(study: Study) -> str:
    """The metric every epoch's report must carry: the objective, or for an objective measured
    after training (the video stage), the validation pixel error (checkpoints are ranked by it)."""
    metric = study.objective.metric
    return metric if METRICS[metric].stage == EPOCH else "val_pixel_error"


def _evaluate(cfg, result, study: Study, tracker: Optional[TrialTracker], step: int) -> dict[str, float]:
    """Rank 0: the trial's evaluation (labeled frames, video stage), logged to the trial's run."""
    evaluation = evaluate_trial(cfg, result, study.video)
    if tracker is not None:
        tracker.log_metrics(evaluation.metrics, step=step, once=True)  # once: a restarted trial evaluates again
        for folder, artifact_path in evaluation.artifacts:
            tracker.log_artifact(folder, artifact_path)
    return evaluation.metrics


def run_trial(study: Study, sampled: dict, context: TrialContext, reporter: TrialReporter, model_dir: str,
              placement: WorkerPlacement = WorkerPlacement(), replicate: Optional[Replicate] = None,
              number: Optional[int] = None, process_created: Optional[float] = None) -> None:
    """Train one trial to the end (or until the scheduler stops it), as one of
    ``placement.world_size`` processes, then (rank 0) evaluate it (:mod:`.evaluation`). Only rank 0
    opens the trial's MLflow run, named after the trial's ``number`` in the sweep and its values. A
    ``replicate`` trains with its own seeds.

    The study's batch sizes are per trial: with N processes each takes ``ceil(batch / N)``
    labeled frames and its share of the unlabeled frames (``training.num_gpus`` = N).
    Besides the Lightning metrics, each report carries ``lp_start_overhead_s`` (trial start to
    first training step), ``lp_tracking_s`` (time the trial waited on MLflow so far) and
    ``lp_process_age_s`` (how long the process had existed when the trial began: its start-up and
    imports for the first trial of a process; ``process_created``, when given, is the creation
    time of the scheduler's process that relays for this one); the last one also the evaluation's
    metrics."""
    started, started_at = time.perf_counter(), time.time()
    process_age_s = started_at - (process_created or psutil.Process().create_time())
    for folder in reap_orphan_scratch():
        logger.info(f"removed {folder}: an epoch checkpoint a killed trial never reported")
    cfg = compose_trial_config(study, sampled, context.demo_dir)
    apply_seed(cfg, replicate)
    apply_loader_workers(cfg, study.resources.cpus)
    if placement.world_size > 1:
        cfg.training.num_gpus = placement.world_size
    tracking_time = Stopwatch()
    tracker = None
    if placement.rank == 0:
        with tracking_time:
            tracker = _open_tracker(context, reporter, sampled, cfg, placement.world_size, replicate, number,
                                    started_at)
    cache_dir = context.cache_dir
    if context.stage_data:  # after the config went to MLflow: the run shows the data's real home
        cfg.data.data_dir = str(stage_data(cfg.data.data_dir))
        cache_dir = str(default_stage_root() / "decoded_frames")
    resume = reporter.resume_checkpoint()
    if tracker is not None:  # a trial continuing another trial's checkpoint (PBT) records what changed
        record_start(tracker, reporter.trial_id, sampled, resume,
                     mutations_of(study.scheduler.name, study.parameters, study.scheduler.options),
                     reporter.own_checkpoint_state)
    callback = EpochReporter(reporter, tracker, epoch_objective(study), started, tracking_time, sampled,
                             process_age_s)
    rate = ConfiguredLearningRate(cfg.training.optimizer_params.learning_rate)
    status = "FAILED"
    try:
        result = train_retrying_oom(
            cfg, tracker, callback, model_dir=model_dir, skip_evaluation=True, extra_callbacks=[callback, rate],
            cache_dir=cache_dir, resume_from=resume, quiet=True, trainer_settings=placement.trainer_settings,
        )
        extra = _evaluate(cfg, result, study, tracker, callback.last_step) if placement.rank == 0 else {}
        status = "FINISHED"
        callback.report_final(extra)
    finally:
        # a trial stopped by the scheduler ends here through an exception from report(), after
        # that report's metrics were logged
        callback.discard_pending()
        if tracker is not None:
            _end_tracker(tracker, status if status == "FINISHED" else "KILLED")


def _end_tracker(tracker: TrialTracker, status: str) -> None:
    """Close the run; records the server did not take stay in the spool, which the driver
    delivers at the end of the sweep (the trial itself succeeded)."""
    try:
        tracker.end(status)
    except TrackingFlushError as err:
        logger.warning(f"the trial's last tracking records wait in its spool for the end of the sweep: {err}")
