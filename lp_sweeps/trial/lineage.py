"""Where a trial's weights come from, for schedulers that restart trials from other trials'
checkpoints (population-based training).

Every checkpoint a trial reports carries ``trial_state.json`` beside the Lightning checkpoint: the
trial's id, the epoch and the values it trained with. When a trial starts from a checkpoint of
*another* trial (PBT exploited it), :func:`record_start` records in its MLflow run what changed:

- a tag ``lp_sweeps.pbt.epoch_<E>`` (E: the first epoch trained with the new values) saying which
  trial and epoch it continues from and every value that differs from that donor's;
- one metric series per changed number, ``pbt/<key>`` (``pbt/<key>/k<i>`` per keypoint for a
  per-keypoint value whose keypoints differ), at step E; a trial of a sweep whose scheduler
  mutates values logs the series' first points (its initial values) at step 0.

Its metric history continues from the donor's epoch (Lightning resumes the epoch count from the
checkpoint), after the metrics of its own newest checkpoint, logged unless the run has them: the
exploit may stop the trial before it logs the epoch it just reported.
:class:`ConfiguredLearningRate` makes a changed learning rate take effect (the restored optimizer
would otherwise keep the donor's).
"""

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl

from lp_sweeps.study.space import render_value, same_value
from lp_sweeps.tracking import TrialTracker

__all__ = ["LINEAGE_FILE", "TAG_EXPLOIT_PREFIX", "ConfiguredLearningRate", "read_lineage", "record_start",
           "series_points", "write_lineage"]

LINEAGE_FILE = "trial_state.json"
TAG_EXPLOIT_PREFIX = "lp_sweeps.pbt.epoch_"
SERIES_PREFIX = "pbt/"


def write_lineage(folder: str, trial_id: str, epoch: int, sampled: Mapping[str, Any],
                  metrics: Mapping[str, float]) -> None:
    """Beside a checkpoint in ``folder``: who trained it, until which epoch, with which values, and
    the epoch's metrics."""
    state = {"trial_id": trial_id, "epoch": int(epoch), "params": dict(sampled), "metrics": dict(metrics)}
    Path(folder, LINEAGE_FILE).write_text(json.dumps(state))


def read_lineage(checkpoint_file: Optional[str]) -> Optional[dict]:
    """The state written beside ``checkpoint_file`` (None without a checkpoint or a state file)."""
    if checkpoint_file is None:
        return None
    path = Path(checkpoint_file).parent / LINEAGE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def series_points(key: str, value: Any) -> dict[str, float]:
    """``pbt/<key>`` -> value for a number; one point per distinct group of a per-keypoint list."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {f"{SERIES_PREFIX}{key}": float(value)} if math.isfinite(value) else {}
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        distinct = list(dict.fromkeys(value))
        if len(distinct) == 1:
            return {f"{SERIES_PREFIX}{key}": float(distinct[0])}
        return {f"{SERIES_PREFIX}{key}/k{i}": float(v) for i, v in enumerate(value)}
    return {}


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    keys = list(dict.fromkeys([*before, *after]))
    return {k: (before.get(k), after.get(k)) for k in keys if not same_value(before.get(k), after.get(k))}


def record_start(tracker: TrialTracker, trial_id: str, sampled: Mapping[str, Any], resume: Optional[str],
                 mutated: Sequence[str], own_state: Callable[[], Optional[dict]]) -> Optional[int]:
    """Record in the trial's run where this start's weights come from. Returns the epoch the trial
    continues at when it continues from another trial's checkpoint, else None.

    Before the switch to another trial's weights, the metrics of this trial's own newest
    checkpoint (``own_state``) are logged unless the run has them: the scheduler may stop a trial
    to exploit it as soon as its report arrives, before the trial logs that epoch."""
    state = read_lineage(resume)
    if state is None:
        if resume is None and mutated:  # the series start at the initial values
            points = {k: v for key in mutated if key in sampled for k, v in series_points(key, sampled[key]).items()}
            tracker.log_metrics(points, step=0, once=True)  # once: a retry without a checkpoint starts again
        return None
    if state["trial_id"] == trial_id:
        return None  # its own checkpoint: a retry, a resumed sweep, a promoted HyperBand trial
    own = own_state()
    if own is not None and own.get("trial_id") == trial_id and own.get("metrics"):
        tracker.log_metrics(own["metrics"], step=int(own["epoch"]), once=True)
    epoch = int(state["epoch"]) + 1
    changed = _changes(state["params"], sampled)
    text = ", ".join(f"{k}: {render_value(old)} -> {render_value(new)}" for k, (old, new) in changed.items())
    tracker.set_tags({
        f"{TAG_EXPLOIT_PREFIX}{epoch}": f"continues trial {state['trial_id']}'s checkpoint of epoch {state['epoch']}"
                                        f" with {text or 'its values unchanged'}",
    })
    points = {k: v for key in changed for k, v in series_points(key, sampled.get(key)).items()}
    tracker.log_metrics(points, step=epoch)  # not once: a trial exploited twice at one epoch records both
    return epoch


class ConfiguredLearningRate(pl.Callback):
    """After Lightning restores an optimizer from a checkpoint, rescale its rates and learning-rate
    schedule so the schedule's base rate is ``learning_rate`` (the trial's config): a trial that
    continues another trial's checkpoint with a new learning rate trains with it. A no-op when the
    checkpoint was trained with the same rate (or without a checkpoint)."""

    def __init__(self, learning_rate: float) -> None:
        super().__init__()
        self.learning_rate = float(learning_rate)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for config in trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            base = max(scheduler.base_lrs)
            if base <= 0 or math.isclose(base, self.learning_rate, rel_tol=1e-9):
                continue
            factor = self.learning_rate / base
            scheduler.base_lrs = [rate * factor for rate in scheduler.base_lrs]
            for group in scheduler.optimizer.param_groups:
                group["lr"] *= factor
                if "initial_lr" in group:
                    group["initial_lr"] *= factor
            scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]
