"""The sections of a study file and the checked :class:`Study` they make.

Each section's keys are declared once as :class:`~lp_sweeps.search.options.Option` values: here
for ``objective``, ``budget`` and ``resources``; in the searcher and scheduler registries
(:mod:`lp_sweeps.search`) for ``searcher`` and ``scheduler``, whose options depend on the name.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from lp_sweeps.search import SCHEDULERS, SEARCHERS, Option, OptionError, options_of, parse_options
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.space import Parameter

__all__ = [
    "ALLOWED_METRICS", "Budget", "Objective", "Resources", "SchedulerSpec", "SearcherSpec", "Study",
    "parse_objectives", "parse_section", "parse_named_section",
]

# all three are errors (lower is better), so the only mode is "min"
ALLOWED_METRICS = ("val_pixel_error", "val_supervised_loss", "val_supervised_rmse")


@dataclass(frozen=True)
class Objective:
    metric: str = "val_pixel_error"
    mode: str = "min"


@dataclass(frozen=True)
class SearcherSpec:
    """The searcher's registered name and its checked options (see :mod:`lp_sweeps.search.searchers`)."""

    name: str = "optuna"
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seed(self) -> Optional[int]:
        return self.options.get("seed")


@dataclass(frozen=True)
class SchedulerSpec:
    """The scheduler's registered name and its checked options (see :mod:`lp_sweeps.search.schedulers`)."""

    name: str = "asha"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Budget:
    num_samples: int = 8
    time_budget_s: Optional[float] = None
    max_concurrent_trials: Optional[int] = None
    max_epochs: Optional[int] = None  # None in a file: the base config's (after overrides)


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0
    workers: int = 1
    # seconds to wait at launch for nodes that can hold a trial (an autoscaling cluster); 0: fail at once
    wait_for_nodes_s: float = 0.0


SECTION_OPTIONS: dict[str, tuple[type, dict[str, Option]]] = {
    "objective": (Objective, {
        "metric": Option(str, "val_pixel_error", choices=ALLOWED_METRICS),
        "mode": Option(str, "min", choices=("min",)),
    }),
    "budget": (Budget, {
        "num_samples": Option(int, 8, minimum=1),
        "time_budget_s": Option(float, None, minimum=0, strict=True),
        "max_concurrent_trials": Option(int, None, minimum=1),
        "max_epochs": Option(int, None, minimum=1),
    }),
    "resources": (Resources, {
        "cpus": Option(float, 1.0, minimum=0, strict=True),
        "gpus": Option(float, 0.0, minimum=0),
        "workers": Option(int, 1, minimum=1),
        "wait_for_nodes_s": Option(float, 0.0, minimum=0),
    }),
}


@dataclass(frozen=True)
class Study:
    """A checked study. ``path`` is the file the user wrote (every error names it); ``data`` the
    study as parsed with command-line overrides applied and ``base`` the base config file's
    contents (None for the demos): a sweep keeps both, so a resumed sweep rebuilds the same study
    without reading any file. ``parameters`` are in dependency order; ``base_values`` holds, for
    every key a condition reads, its value in the base config with overrides."""

    name: str
    path: str
    data: Mapping[str, Any]
    base_config: str
    base: Optional[Mapping[str, Any]]
    overrides: dict
    objective: Objective
    searcher: SearcherSpec
    scheduler: SchedulerSpec
    budget: Budget
    resources: Resources
    parameters: tuple[Parameter, ...]
    num_keypoints: int
    base_values: dict
    description: str = ""
    # every objective, the first being ``objective`` (several: a multi-objective study)
    objectives: tuple[Objective, ...] = ()

    @property
    def metrics(self) -> list[str]:
        return [o.metric for o in self.objectives or (self.objective,)]

    @property
    def modes(self) -> list[str]:
        return [o.mode for o in self.objectives or (self.objective,)]

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1


def parse_section(raw: Mapping, name: str) -> Any:
    """The dataclass of section ``name`` (objective, budget, resources); absent keys get defaults."""
    cls, options = SECTION_OPTIONS[name]
    try:
        return cls(**parse_options(raw.get(name), options, name))
    except OptionError as err:
        raise StudyError(err.key, err.detail) from None


def parse_named_section(raw: Mapping, name: str) -> Any:
    """The ``searcher`` or ``scheduler`` section: a registered ``name`` and the options it declares."""
    registry, cls = (SEARCHERS, SearcherSpec) if name == "searcher" else (SCHEDULERS, SchedulerSpec)
    given = raw.get(name) or {}
    if not isinstance(given, Mapping):
        raise StudyError(name, f"expected a mapping with a name (one of {registry.names()}) and its options, "
                         f"got {given!r}")
    chosen = given.get("name", cls.name)
    try:
        declared = options_of(registry, chosen)
    except ValueError as err:  # the registry lists the registered names
        raise StudyError(f"{name}.name", str(err)) from None
    try:
        return cls(chosen, parse_options(given, declared, name, fixed=("name",)))
    except OptionError as err:
        raise StudyError(err.key, f"{err.detail} ({name} {chosen!r})") from None


def parse_objectives(raw: Mapping) -> tuple[Objective, ...]:
    """``objective``: one mapping ``{metric, mode}``, or a list of them (or of metric names) for a
    multi-objective study."""
    given = raw.get("objective")
    if not isinstance(given, list):
        return (parse_section(raw, "objective"),)
    if not given:
        raise StudyError("objective", "an empty list; give one objective or several, e.g. "
                         "[val_pixel_error, val_supervised_rmse]")
    objectives = []
    for i, item in enumerate(given):
        item = {"metric": item} if isinstance(item, str) else item
        try:
            objectives.append(parse_section({"objective": item}, "objective"))
        except StudyError as err:
            raise StudyError(err.key.replace("objective", f"objective[{i}]", 1), err.detail) from None
    metrics = [o.metric for o in objectives]
    repeated = sorted({m for m in metrics if metrics.count(m) > 1})
    if repeated:
        raise StudyError("objective", f"lists {repeated} more than once")
    return tuple(objectives)
