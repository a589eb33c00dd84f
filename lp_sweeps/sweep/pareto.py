"""The end of a multi-objective sweep: its Pareto front, printed, kept in the sweep record and
recorded on the parent run (``pareto_front.json``, tag ``lp_sweeps.pareto_front``) and on the
front's child runs (tag ``lp_sweeps.pareto_front=true``, to filter them in the MLflow UI).

A trial's point is its objectives' values at its last report: what its searcher was told, and the
latest values of those metrics in its MLflow run.
"""

from collections.abc import Callable, Sequence
from typing import Optional

from lp_sweeps.adapters.outcomes import TrialOutcome
from lp_sweeps.search import pareto_front
from lp_sweeps.study import Study
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.tracking import SweepTracker

__all__ = ["format_front", "report_pareto_front"]


def format_front(front: list[dict], metrics: list[str]) -> list[str]:
    """One line per trial of the front: ``TRIAL  metric=value  metric=value``."""
    return [f"{row['trial_id']:24s} " + "  ".join(f"{m}={row['values'][m]:.4f}" for m in metrics) for row in front]


def report_pareto_front(record: SweepRecord, study: Study, trials: Sequence[TrialOutcome],
                        printer: Callable[[str], None]) -> Optional[list[dict]]:
    """The front of a multi-objective sweep (None for one objective): trials with a value of every
    objective that no other such trial dominates, as ``{trial_id, run_id, values, params}``."""
    if not study.multi_objective:
        return None
    tracker = SweepTracker(record.tracking_uri, study.name)
    children = tracker.child_runs(record.parent_run_id)
    scored = {t.trial_id: t for t in trials
              if t.trial_id in children and all(m in t.values for m in study.metrics)}
    keys = pareto_front({k: [t.values[m] for m in study.metrics] for k, t in scored.items()}, study.modes)
    front = [{"trial_id": k, "run_id": children[k], "values": {m: scored[k].values[m] for m in study.metrics},
              "params": scored[k].params} for k in sorted(keys)]
    tracker.record_pareto_front(record.parent_run_id, front, study.metrics)
    printer(f"Pareto front of {study.metrics} ({len(front)} of {len(scored)} trials):")
    for line in format_front(front, study.metrics):
        printer(f"  {line}")
    return front
