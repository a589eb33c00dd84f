"""What a sweep recorded, read back from MLflow once: its runs, their values, learning curves and
groups, the ensembles, and the leaderboard (the report and the end-of-sweep summary use it)."""

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Optional, Protocol, runtime_checkable

import yaml

from lp_sweeps.study import METRICS, Study
from lp_sweeps.study.metrics import EPOCH
from lp_sweeps.report.leaderboard import Entry, GroupRow, build_leaderboard
from lp_sweeps.tracking import (
    TAG_GROUP, TAG_PARENT_RUN_ID, TAG_ROLE, TAG_SAMPLED_KEYS, TAG_SEED, TAG_TRIAL_ID,
    TrackingStore,
)

__all__ = ["CURVE_METRIC", "RunSummary", "SweepRef", "SweepResults", "collect", "run_value"]

CURVE_METRIC = "val_pixel_error"  # the learning curves' metric


@runtime_checkable
class SweepRef(Protocol):
    """Where a sweep is recorded (a :class:`lp_sweeps.sweep.record.SweepRecord` is one)."""

    sweep_name: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str


@dataclasses.dataclass
class RunSummary:
    run_id: str
    name: str
    trial_id: str
    group: str
    seed: Optional[int]
    status: str
    stopped_early: bool
    params: dict[str, Any]  # the sampled values
    metrics: dict[str, float]  # last values
    values: dict[str, float]  # objective metric -> the run's value (its best report for epoch metrics)
    curve: list[tuple[int, float]]  # (epoch, CURVE_METRIC)
    start_time: Optional[int]
    end_time: Optional[int]


@dataclasses.dataclass
class SweepResults:
    sweep_name: str
    study_name: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    objectives: list[tuple[str, str]]  # (metric, mode), the first ranks the leaderboard
    runs: list[RunSummary]  # the trials and replicates, oldest first
    ensembles: dict[str, dict[str, float]]  # group -> ensemble metrics
    leaderboard: list[GroupRow]
    state_counts: dict[str, int]

    @property
    def metric(self) -> str:
        return self.objectives[0][0]

    @property
    def mode(self) -> str:
        return self.objectives[0][1]

    def run(self, run_id: str) -> RunSummary:
        return next(r for r in self.runs if r.run_id == run_id)

    def ranked_runs(self) -> list[RunSummary]:
        """Every run with a value, in leaderboard order (best configuration first, its best run first)."""
        return [self.run(e.run_id) for row in self.leaderboard for e in row.runs(self.mode) if e.run_id]


def _parse(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def run_value(metric: str, mode: str, history: Sequence[float], last: Optional[float]) -> Optional[float]:
    """A run's value of ``metric``: its best report for an epoch metric, else its (only) value."""
    finite = [v for v in history if math.isfinite(v)]
    if METRICS.get(metric) is not None and METRICS[metric].stage == EPOCH and finite:
        return min(finite) if mode == "min" else max(finite)
    return last if last is not None and math.isfinite(last) else None


def _summary(store: TrackingStore, run, objectives: Sequence[tuple[str, str]]) -> RunSummary:
    sampled = [k for k in run.tags.get(TAG_SAMPLED_KEYS, "").split(", ") if k]
    histories = {m: store.metric_history(run.run_id, m) for m in {CURVE_METRIC, *(o[0] for o in objectives)}}
    seed = run.tags.get(TAG_SEED)
    return RunSummary(
        run_id=run.run_id, name=run.name, trial_id=run.tags.get(TAG_TRIAL_ID, ""),
        group=run.tags.get(TAG_GROUP, run.tags.get(TAG_TRIAL_ID, "")), seed=None if seed is None else int(seed),
        status=run.status, stopped_early=run.tags.get("lp_sweeps.stopped_early") == "true",
        params={k: _parse(run.params[k]) for k in sampled if k in run.params}, metrics=dict(run.metrics),
        values={m: v for m, mode in objectives
                if (v := run_value(m, mode, [h.value for h in histories[m]], run.metrics.get(m))) is not None},
        curve=[(h.step, h.value) for h in histories[CURVE_METRIC]], start_time=run.start_time, end_time=run.end_time,
    )


def collect(record: SweepRef, study: Study, objectives: Optional[Sequence[str]] = None) -> SweepResults:
    """The sweep ``record`` as MLflow holds it; ``objectives`` (metric names) default to the study's."""
    chosen = [(m, METRICS[m].mode) for m in objectives or [study.objective.metric]]
    store = TrackingStore(record.tracking_uri)
    children = store.search(record.experiment_id, f"tags.`{TAG_PARENT_RUN_ID}` = '{record.parent_run_id}'")
    trials = [run for run in children if run.tags.get(TAG_ROLE) == "trial"]
    runs = [_summary(store, run, chosen) for run in trials]
    ensembles = {run.tags.get(TAG_GROUP, ""): dict(run.metrics)
                 for run in children if run.tags.get(TAG_ROLE) == "ensemble"}
    # a replicate counts once it finished (one cut short by an interrupted sweep is trained again on resume)
    entries = [Entry(r.trial_id, r.name, r.group, r.values.get(chosen[0][0]), r.params, r.seed, r.run_id)
               for r in runs if r.seed is None or r.status == "FINISHED"]
    counts: dict[str, int] = {}
    for r in runs:
        state = "STOPPED_EARLY" if r.stopped_early else r.status
        counts[state] = counts.get(state, 0) + 1
    return SweepResults(record.sweep_name, study.name, record.tracking_uri, record.experiment_id, record.parent_run_id,
                        chosen, runs, ensembles, build_leaderboard(entries, chosen[0][1]), counts)

