"""End-of-sweep bookkeeping in MLflow: idempotent, retried, and resumable with ``lp-sweep sync``.

Once every trial has ended, the driver delivers what trials left in their spools, gives each
child run its final state, uploads the best trials' checkpoints, applies checkpoint retention,
registers the best model, records the best trial on the parent run and publishes the results
(ensembles, pictures, the leaderboard, the report: :mod:`.results`). Every step can run again
without duplicating anything (a step already done is found done), so when the tracking server is
unreachable the driver retries for a while, then keeps everything (the spools and the trials'
outcomes in the sweep record) and says how to finish later: ``lp-sweep sync SWEEP``.
"""

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Optional

from lightning_pose.config import to_plain
from lp_sweeps.adapters.outcomes import TrialOutcome
from lp_sweeps.adapters.storage import fetch_checkpoint_file
from lp_sweeps.study import Study
from lp_sweeps.study.space import render_value
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.replicates import rank_outcomes, trial_config
from lp_sweeps.sweep.results import publish_results
from lp_sweeps.tracking import (
    CHECKPOINT_DIR, SweepTracker, TrackingFlushError, deliver_spooled, is_transient_error,
)
from lp_sweeps.trial import CHECKPOINT_FILE

__all__ = ["KEEP_BEST_CHECKPOINTS", "TrackingUnreachable", "finish_sweep", "trial_states"]

logger = logging.getLogger(__name__)

KEEP_BEST_CHECKPOINTS = 2
_RETRY_S = 5.0  # between attempts while the tracking server is away


class TrackingUnreachable(RuntimeError):
    """The tracking server stayed unreachable for the whole bookkeeping timeout."""


def trial_states(trials: Sequence[TrialOutcome]) -> dict[str, str]:
    """The final MLflow status of each trial: FAILED, KILLED (stopped early) or FINISHED."""
    return {t.trial_id: "FAILED" if t.status == "ERROR" else ("KILLED" if t.stopped_early else "FINISHED")
            for t in trials}


def _close_children(tracker: SweepTracker, record: SweepRecord, trials: Sequence[TrialOutcome],
                    timeout_s: float, printer: Callable[[str], None]) -> dict[str, str]:
    states = trial_states(trials)
    late = deliver_spooled(record.tracking_uri, record.parent_run_id, record.experiment_id, record.sweep_name,
                           states, f"{record.project_dir}/spool", timeout_s=timeout_s,
                           ended_at={t.trial_id: t.end_time for t in trials if t.end_time is not None})
    if late:
        printer(f"delivered the metrics that trials {late} had left unsent to MLflow")
    children = tracker.child_runs(record.parent_run_id)
    for trial in trials:
        if trial.trial_id in children:
            tracker.close_trial(children[trial.trial_id], states[trial.trial_id],
                                {"lp_sweeps.stopped_early": str(trial.stopped_early).lower()}, ended_at=trial.end_time)
    return children


def _keep_best_checkpoints(tracker: SweepTracker, ranked: Sequence[TrialOutcome], children: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory(prefix="lp-best-ckpt-") as downloads:  # used when storage is remote
        for trial in ranked[:KEEP_BEST_CHECKPOINTS]:
            run_id = children[trial.trial_id]
            if trial.checkpoint_dir and not tracker.has_artifact(run_id, f"{CHECKPOINT_DIR}/{CHECKPOINT_FILE}"):
                checkpoint = fetch_checkpoint_file(trial.checkpoint_dir, CHECKPOINT_FILE, downloads)
                tracker.log_artifact(run_id, checkpoint, CHECKPOINT_DIR)


def _bookkeeping(record: SweepRecord, study: Study, demo_dir: Optional[str], trials: Sequence[TrialOutcome],
                 timeout_s: float, printer: Callable[[str], None]) -> Optional[dict]:
    """One attempt at every step; each step is idempotent."""
    tracker = SweepTracker(record.tracking_uri, study.name)
    children = _close_children(tracker, record, trials, timeout_s, printer)
    ranked = rank_outcomes(study, [t for t in trials if t.trial_id in children])  # by configuration
    if not ranked:
        printer("no trial reported the objective; see the Ray results folder for errors")
        return None
    _keep_best_checkpoints(tracker, ranked, children)
    tracker.apply_retention(record.parent_run_id, study.objective.metric, study.objective.mode,
                            keep_best_k=KEEP_BEST_CHECKPOINTS, scope="all",
                            keep=[children[t.trial_id] for t in ranked[:KEEP_BEST_CHECKPOINTS]])
    top = ranked[0]
    config = to_plain(trial_config(study, top.params, top.replicate, demo_dir))
    best = {"trial_id": top.trial_id, "run_id": children[top.trial_id], "metric": study.objective.metric,
            "value": top.metric, "params": top.params, "config": config, "replicate": top.replicate}
    if top.checkpoint_dir:
        best["model_version"] = tracker.register_best_model(
            children[top.trial_id], f"{CHECKPOINT_DIR}/{CHECKPOINT_FILE}", study.name, once=True)
    tracker.finish_sweep(record.parent_run_id, best)
    publish_results(record, study, demo_dir, printer)  # ensembles, pictures, description, report
    printer(f"best trial {top.trial_id}: {study.objective.metric} = {top.metric:.4f} ({render_value(top.params)})")
    return {k: v for k, v in best.items() if k != "config"}


def finish_sweep(record: SweepRecord, study: Study, demo_dir: Optional[str], trials: Sequence[TrialOutcome],
                 timeout_s: float, printer: Callable[[str], None]) -> Optional[dict]:
    """Run the bookkeeping, retrying while the tracking server is unreachable for up to
    ``timeout_s``; raises :class:`TrackingUnreachable` after that (nothing is lost: run again)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return _bookkeeping(record, study, demo_dir, trials, max(1.0, deadline - time.monotonic()), printer)
        except Exception as err:  # noqa: BLE001 - classified right below
            if not (isinstance(err, TrackingFlushError) or is_transient_error(err)):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise TrackingUnreachable(f"MLflow tracking server {record.tracking_uri} unreachable for "
                                          f"{timeout_s:.0f} s at the end of the sweep ({type(err).__name__}: "
                                          f"{str(err).splitlines()[0][:200]})") from err
            logger.warning("tracking server %s unreachable at the end of the sweep; retrying (%.0f s left)",
                           record.tracking_uri, left)
            time.sleep(min(_RETRY_S, left))
