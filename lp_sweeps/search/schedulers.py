"""The schedulers: each decides when a trial stops (Ray Tune's trial schedulers).

A trial reports once per validation epoch, so a scheduler's time axis counts validation epochs;
``max_t`` is the number of reports of a trial that runs to ``budget.max_epochs``. Every builder
takes ``(options, max_t, parameters)``; population-based training is in :mod:`.pbt`.

BOHB (Ray's ``HyperBandForBOHB`` with its ``TuneBOHB`` searcher) is not offered: ``TuneBOHB`` is
not an Optuna sampler but a searcher of its own on a static ConfigSpace, which cannot express the
studies' conditional, per-keypoint, define-by-run spaces, and it needs ``hpbandster``, unreleased
since 2018. ``hyperband`` with the ``optuna`` searcher (TPE) is the same recipe, a model-based
sampler feeding HyperBand's brackets, except that TPE learns from every trial's last report
rather than from one budget level at a time.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from lp_sweeps.search.options import Option
from lp_sweeps.search.registry import SCHEDULERS, SchedulerPlan, TrialLayout

__all__ = ["asha", "fifo", "hyperband", "median"]

TIME_ATTR = "training_iteration"  # Ray Tune counts the reports of a trial
GRACE_PERIOD = Option(int, 1, minimum=1, help="reports every trial makes before it can be stopped")


@SCHEDULERS.register("asha", options={
    "grace_period": GRACE_PERIOD,
    "reduction_factor": Option(float, 2.0, minimum=1, strict=True, help="keep the best 1/reduction_factor per rung"),
}, one_objective="its rungs rank trials by one metric", per_report="it stops trials at rungs")
def asha(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
    """Asynchronous successive halving: rungs at ``grace_period * reduction_factor**k`` reports."""
    return SchedulerPlan("async_hyperband", {
        "time_attr": TIME_ATTR,
        "max_t": max_t,
        "grace_period": min(options["grace_period"], max_t),
        "reduction_factor": options["reduction_factor"],
    })


def _all_trials_at_once(parameters: Sequence, options: Mapping[str, Any],
                        layout: TrialLayout) -> Optional[tuple[str, str]]:
    limit = layout.max_concurrent_trials
    if limit is not None and limit < layout.num_trials:
        return "budget.max_concurrent_trials", (
            f"{limit}: scheduler 'hyperband' needs all {layout.num_trials} trials created together (a bracket is "
            f"halved once the trials it has reach its rung, so with at most {limit} at once it is halved before its "
            "other trials exist and stops nothing); leave it null (Ray runs as many as the resources hold and "
            "queues the rest) or use 'asha'")
    return None


@SCHEDULERS.register("hyperband", options={
    "reduction_factor": Option(float, 3.0, minimum=1, strict=True,
                               help="each halving keeps the best 1/reduction_factor of a bracket"),
}, one_objective="its brackets rank trials by one metric", study_check=_all_trials_at_once,
   per_report="it stops trials at the end of each halving")
def hyperband(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
    """Synchronous HyperBand: brackets of trials that start at ``max_t * eta**-s`` reports and are
    halved together (paused trials continue from their checkpoint when promoted)."""
    return SchedulerPlan("hyperband", {
        "time_attr": TIME_ATTR, "max_t": max_t, "reduction_factor": options["reduction_factor"],
    })


@SCHEDULERS.register("median", options={
    "grace_period": GRACE_PERIOD,
    "min_samples_required": Option(int, 3, minimum=1, help="other trials needed at a report before any is stopped"),
}, one_objective="it compares a trial's running mean with the median of one metric",
   per_report="it stops trials below the median")
def median(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
    """Median stopping rule: a trial whose best-so-far mean is worse than the median of the other
    trials' running means at the same report is stopped."""
    return SchedulerPlan("median_stopping_rule", {
        "time_attr": TIME_ATTR, "grace_period": min(options["grace_period"], max_t),
        "min_samples_required": options["min_samples_required"],
    })


@SCHEDULERS.register("fifo", options={})
def fifo(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
    """Every trial runs to the end."""
    return SchedulerPlan("fifo", {})
