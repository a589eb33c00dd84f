"""What the chosen searcher and scheduler can run: the number of objectives, the parameters,
data-parallel trials, the concurrency limit. Each searcher and scheduler declares what it cannot take in its registry
entry (:mod:`lp_sweeps.search.registry`); these checks ask the registries."""

from collections.abc import Sequence

from lp_sweeps.search import SCHEDULERS, SEARCHERS, TrialLayout, grid_points, one_objective_reason, study_check_of
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.sections import Budget, Objective, Resources, SchedulerSpec, SearcherSpec

__all__ = ["check_search"]


def _multi_objective_capable(registry, section: str, name: str, metrics: list[str]) -> None:
    reason = one_objective_reason(registry, name)
    if reason is not None:
        able = [n for n in registry.names() if one_objective_reason(registry, n) is None]
        raise StudyError(f"{section}.name", f"{section} {name!r} needs a single objective ({reason}), and this "
                         f"study has {len(metrics)}: {metrics}; with several objectives use one of {able}")


def check_search(objectives: Sequence[Objective], searcher: SearcherSpec, scheduler: SchedulerSpec,
                 parameters: tuple, resources: Resources, budget: Budget) -> None:
    """Multi-objective studies need searchers and schedulers that take several metrics; the
    scheduler's own study check (e.g. PBT's mutations) must pass."""
    if len(objectives) > 1:
        metrics = [o.metric for o in objectives]
        _multi_objective_capable(SEARCHERS, "searcher", searcher.name, metrics)
        _multi_objective_capable(SCHEDULERS, "scheduler", scheduler.name, metrics)
    check = study_check_of(scheduler.name)
    layout = TrialLayout(resources.workers, budget.max_concurrent_trials,
                         budget.num_samples * len(grid_points(parameters)))
    problem = check(parameters, dict(scheduler.options), layout) if check is not None else None
    if problem is not None:
        raise StudyError(problem[0], problem[1])
