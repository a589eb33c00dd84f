"""The searcher and scheduler families: one registered builder each.

A builder takes the checked options of its study section and returns a *plan*: the name of the
library object and its keyword arguments. The adapters turn plans into objects
(:mod:`lp_sweeps.adapters.optuna` makes Optuna samplers, :mod:`lp_sweeps.adapters.ray_tune` Ray
Tune schedulers), so this family imports neither library and study validation can read every
builder's declared options from the registries.

Register with the options the study section takes::

    @SCHEDULERS.register("median", options={"grace_period": Option(int, 1, minimum=1)})
    def median(options: dict, max_t: int) -> SchedulerPlan:
        return SchedulerPlan("median_stopping_rule", {"grace_period": options["grace_period"]})
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from lightning_pose.registry import Registry
from lp_sweeps.search.options import Option

__all__ = ["SCHEDULERS", "SEARCHERS", "SamplerPlan", "SchedulerPlan", "options_of", "space_check_of"]


@dataclass(frozen=True)
class SamplerPlan:
    """An Optuna sampler: ``optuna.samplers.<sampler>(**kwargs)``."""

    sampler: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SchedulerPlan:
    """A Ray Tune scheduler: ``ray.tune.schedulers.create_scheduler(<scheduler>, **kwargs)``."""

    scheduler: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


# name -> builder(options) -> SamplerPlan; metadata: options (dict[str, Option]) and an optional
# space_check(parameters) -> (parameter key, message) or None, for spaces the searcher cannot take
SEARCHERS: Registry[Callable[[dict], SamplerPlan]] = Registry("searcher")
# name -> builder(options, max_t) -> SchedulerPlan; metadata: options
SCHEDULERS: Registry[Callable[[dict, int], SchedulerPlan]] = Registry("scheduler")


def options_of(registry: Registry, name: str) -> dict[str, Option]:
    """The options a registered searcher or scheduler declares (unknown names raise, listing the
    registered ones)."""
    return dict(registry.metadata(name).get("options", {}))


def space_check_of(name: str) -> Optional[Callable[[tuple], Optional[tuple[str, str]]]]:
    """The searcher's check of a search space, if it declares one."""
    return SEARCHERS.metadata(name).get("space_check")
