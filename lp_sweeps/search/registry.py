"""The searcher and scheduler families: one registered builder each.

A builder takes the checked options of its study section and returns a *plan*: the name of the
library object and its keyword arguments. The adapters turn plans into objects
(:mod:`lp_sweeps.adapters.optuna` makes Optuna samplers, :mod:`lp_sweeps.adapters.ray_tune` Ray
Tune schedulers), so this family imports neither library and study validation can read every
builder's declared options from the registries.

Register with the options the study section takes::

    @SCHEDULERS.register("median", options={"grace_period": Option(int, 1, minimum=1)},
                         one_objective="it compares trials by one metric")
    def median(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
        return SchedulerPlan("median_stopping_rule", {"grace_period": options["grace_period"]})

Metadata a builder may declare besides ``options``:

- ``one_objective`` (both families): why it cannot serve a multi-objective study (absent: it can);
- ``space_check`` (searchers): ``check(parameters) -> (parameter key, message) | None``;
- ``study_check`` (schedulers): ``check(parameters, options, layout) -> (key, message) | None``
  (``layout``: a :class:`TrialLayout`), for what the scheduler cannot run (study keys relative to
  the study file);
- ``mutations`` (schedulers that change values mid-training): ``mutations(parameters, options)``,
  the parameter keys it may change (trials record each change in MLflow);
- ``no_searcher`` (schedulers): why no searcher runs with it (the trials are drawn at random);
- ``per_report`` (schedulers that decide mid-training): how it acts on the values reported every
  epoch (a metric measured once, after training, cannot serve as its objective).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from lightning_pose.registry import Registry
from lp_sweeps.search.options import Option

__all__ = [
    "SCHEDULERS", "SEARCHERS", "SamplerPlan", "SchedulerPlan", "mutations_of", "one_objective_reason", "options_of",
    "per_report_reason",
    "TrialLayout", "runs_without_searcher", "space_check_of", "study_check_of",
]


@dataclass(frozen=True)
class SamplerPlan:
    """An Optuna sampler: ``optuna.samplers.<sampler>(**kwargs)``."""

    sampler: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialLayout:
    """How a study lays out its trials, for the schedulers' study checks."""

    workers: int = 1  # training processes per trial
    max_concurrent_trials: Optional[int] = None
    num_trials: int = 1


@dataclass(frozen=True)
class SchedulerPlan:
    """A Ray Tune scheduler: ``ray.tune.schedulers.create_scheduler(<scheduler>, **kwargs)``.
    ``checkpoints_to_keep``: Tune keeps a trial's best that many checkpoints (and its latest);
    None keeps every one (PBT: an exploited trial may continue from any earlier one)."""

    scheduler: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    checkpoints_to_keep: Optional[int] = 2


# name -> builder(options) -> SamplerPlan; metadata: options (dict[str, Option]) and an optional
# space_check(parameters) -> (parameter key, message) or None, for spaces the searcher cannot take
SEARCHERS: Registry[Callable[[dict], SamplerPlan]] = Registry("searcher")
# name -> builder(options, max_t, parameters) -> SchedulerPlan; metadata: options, one_objective,
# study_check, mutations (see above)
SCHEDULERS: Registry[Callable[..., SchedulerPlan]] = Registry("scheduler")


def options_of(registry: Registry, name: str) -> dict[str, Option]:
    """The options a registered searcher or scheduler declares (unknown names raise, listing the
    registered ones)."""
    return dict(registry.metadata(name).get("options", {}))


def space_check_of(name: str) -> Optional[Callable[[tuple], Optional[tuple[str, str]]]]:
    """The searcher's check of a search space, if it declares one."""
    return SEARCHERS.metadata(name).get("space_check")


def one_objective_reason(registry: Registry, name: str) -> Optional[str]:
    """Why the searcher or scheduler ``name`` needs a single objective; None when it takes several."""
    return registry.metadata(name).get("one_objective")


def runs_without_searcher(name: str) -> Optional[str]:
    """Why the scheduler ``name`` runs without a searcher (its trials drawn at random); None: it takes one."""
    return SCHEDULERS.metadata(name).get("no_searcher")


def per_report_reason(name: str) -> Optional[str]:
    """How the scheduler ``name`` acts on every epoch's report (it then needs an objective reported
    every epoch); None: it lets every trial run to the end."""
    return SCHEDULERS.metadata(name).get("per_report")


def study_check_of(name: str) -> Optional[Callable[[tuple, dict, TrialLayout], Optional[tuple[str, str]]]]:
    """The scheduler's check of a study (parameters, its options, the trial layout), if it declares one."""
    return SCHEDULERS.metadata(name).get("study_check")


def mutations_of(name: str, parameters: tuple, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The parameter keys the scheduler ``name`` changes while trials train (empty for most)."""
    resolve = SCHEDULERS.metadata(name).get("mutations")
    return () if resolve is None else tuple(resolve(parameters, dict(options)))
