"""The schedulers: each decides when a trial stops (Ray Tune's trial schedulers).

A trial reports once per validation epoch, so a scheduler's time axis counts validation epochs;
``max_t`` is the number of reports of a trial that runs to ``budget.max_epochs``.
"""

from lp_sweeps.search.options import Option
from lp_sweeps.search.registry import SCHEDULERS, SchedulerPlan

__all__ = ["asha", "fifo"]

TIME_ATTR = "training_iteration"  # Ray Tune counts the reports of a trial


@SCHEDULERS.register("asha", options={
    "grace_period": Option(int, 1, minimum=1, help="reports every trial makes before it can be stopped"),
    "reduction_factor": Option(float, 2.0, minimum=1, strict=True, help="keep the best 1/reduction_factor per rung"),
})
def asha(options: dict, max_t: int) -> SchedulerPlan:
    """Asynchronous successive halving: rungs at ``grace_period * reduction_factor**k`` reports."""
    return SchedulerPlan("async_hyperband", {
        "time_attr": TIME_ATTR,
        "max_t": max_t,
        "grace_period": min(options["grace_period"], max_t),
        "reduction_factor": options["reduction_factor"],
    })


@SCHEDULERS.register("fifo", options={})
def fifo(options: dict, max_t: int) -> SchedulerPlan:
    """Every trial runs to the end."""
    return SchedulerPlan("fifo", {})
