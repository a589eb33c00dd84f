"""Warm starts: ``lp-sweep launch STUDY --warm-start SWEEP`` hands the finished trials of an
earlier sweep (from its persisted Optuna studies) to the new sweep's searcher as completed
trials, so they are learned from and never trained again.

Every earlier trial must fit the new study: its grid values must be grid values of the new study
(or, for a grid parameter that became a choice, one of its choices), its other values must lie in
the new space, and it must have a value for each of the new study's objectives. Anything else is a
study error naming the parameter and the value, raised before any trial starts.
"""

from pathlib import Path

from lp_sweeps.adapters.optuna import RecordedTrial, WarmTrial, recorded_trials
from lp_sweeps.search import runs_without_searcher
from lp_sweeps.study import Study, StudyError, grid_points
from lp_sweeps.study.replay import replay_trial
from lp_sweeps.study.space import render_value, same_value
from lp_sweeps.sweep.record import SweepRecord

__all__ = ["load_warm_start"]


def _label(value) -> object:
    """A grid value as the searcher records a choice: plain values as they are, lists as text."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else render_value(value)


def _grid_point(study: Study, points: list[dict], trial: RecordedTrial) -> tuple[int, dict]:
    """(index of the trial's grid combination in ``study``, its remaining suggestion values)."""
    known = {**trial.values, **{k: _label(v) for k, v in trial.point.items()}}
    chosen = {}
    for p in (p for p in study.parameters if p.kind == "grid"):
        if p.key not in known:
            raise StudyError(f"parameters.{p.key}", f"{trial.source} has no value for this grid parameter", study.path)
        label = known.pop(p.key)
        match = [v for v in p.values if same_value(v, label) or render_value(v) == label]
        if not match:
            raise StudyError(f"parameters.{p.key}", f"{trial.source} has {p.key}={render_value(label)}, not one of "
                             f"this study's grid values {render_value(list(p.values))}", study.path)
        chosen[p.key] = match[0]
    index = next(i for i, point in enumerate(points) if all(same_value(point[k], chosen[k]) for k in point))
    return index, known


def _objective_values(study: Study, trial: RecordedTrial) -> tuple[float, ...]:
    missing = [m for m in study.metrics if m not in trial.objective]
    if missing:
        raise StudyError("objective", f"{trial.source} has no value of {missing[0]} (its sweep optimised "
                         f"{list(trial.objective)})", study.path)
    return tuple(float(trial.objective[m]) for m in study.metrics)


def load_warm_start(project_dir: Path, sweep_name: str, study: Study) -> list[WarmTrial]:
    """The finished trials of ``sweep_name`` (a sweep of ``project_dir``) as ``study``'s searcher
    takes them. Raises StudyError for a trial outside the study's space, ValueError when the
    sweep has no persisted Optuna study or no finished trial."""
    no_searcher = runs_without_searcher(study.scheduler.name)
    if no_searcher:
        raise StudyError("scheduler.name", f"{study.scheduler.name!r} cannot be warm-started: {no_searcher}",
                         study.path)
    record = SweepRecord.load(project_dir, sweep_name)
    if not record.optuna_storage:
        raise ValueError(f"sweep {sweep_name!r} kept no Optuna study (it ran on an older lp-sweeps); "
                         "it cannot warm-start a sweep")
    recorded = recorded_trials(record.optuna_storage, sweep_name)
    if not recorded:
        raise ValueError(f"sweep {sweep_name!r} has no finished trial to warm-start from (state: {record.state})")
    points = grid_points(study)
    warm = []
    for trial in recorded:
        index, values = _grid_point(study, points, trial)
        _, asked = replay_trial(study, values, points[index], trial.source)
        warm.append(WarmTrial(index, {k: values[k] for k in asked}, asked, _objective_values(study, trial),
                              trial.source))
    return warm
