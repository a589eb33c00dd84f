"""The sections of a study file and the checked :class:`Study` they make.

Each section's keys are declared once as :class:`~lp_sweeps.search.options.Option` values: here
for ``objective``, ``budget`` and ``resources``; in the searcher and scheduler registries
(:mod:`lp_sweeps.search`) for ``searcher`` and ``scheduler``, whose options depend on the name.
"""

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from lp_sweeps.search import SCHEDULERS, SEARCHERS, Option, OptionError, options_of, parse_options, per_report_reason
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.metrics import METRICS, VIDEO
from lp_sweeps.study.space import Parameter

__all__ = [
    "ALLOWED_METRICS", "ENSEMBLES", "Budget", "Objective", "Replicates", "Resources", "SchedulerSpec",
    "SearcherSpec", "Study", "VideoStage", "check_results_sections", "parse_objectives", "parse_section",
    "parse_named_section",
]

ALLOWED_METRICS = tuple(METRICS)  # declared in lp_sweeps.study.metrics, with their direction
ENSEMBLES = {"none": None, "eks": "eks"}  # ensemble of a configuration's seeds -> the module it needs


@dataclass(frozen=True)
class Objective:
    metric: str = "val_pixel_error"
    mode: Optional[str] = "min"  # None in a file: the metric's direction (lp_sweeps.study.metrics)


@dataclass(frozen=True)
class VideoStage:
    """After training, each trial predicts the first ``frames_per_video`` frames of every video in
    ``directory`` (default: the trial config's ``eval.test_videos_directory``); 0 turns it off."""

    frames_per_video: int = 200
    directory: Optional[str] = None

    @property
    def enabled(self) -> bool:
        return self.frames_per_video > 0


@dataclass(frozen=True)
class Replicates:
    """After the search, the ``top_k`` configurations are trained again with ``seeds`` new model
    and data seeds each; ``ensemble: eks`` fuses each configuration's video predictions."""

    top_k: int = 0
    seeds: int = 3
    ensemble: str = "none"

    @property
    def enabled(self) -> bool:
        return self.top_k > 0


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
    # a local sweep's trials run in processes forked from one that imported the trial code once
    fork_server: bool = True


SECTION_OPTIONS: dict[str, tuple[type, dict[str, Option]]] = {
    "objective": (Objective, {
        "metric": Option(str, "val_pixel_error", choices=ALLOWED_METRICS),
        "mode": Option(str, None, choices=("min", "max"), help="default: the metric's direction"),
    }),
    "video": (VideoStage, {
        "frames_per_video": Option(int, 200, minimum=0, help="frames predicted per video; 0: no video stage"),
        "directory": Option(str, None, help="videos to predict (relative to the study file)"),
    }),
    "replicates": (Replicates, {
        "top_k": Option(int, 0, minimum=0, help="configurations to train again; 0: none"),
        "seeds": Option(int, 3, minimum=1, help="new seeds per configuration"),
        "ensemble": Option(str, "none", choices=tuple(ENSEMBLES)),
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
        "fork_server": Option(bool, True, help="local sweeps: trials in processes forked from one that imported "
                                                "their code once"),
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
    video: VideoStage = VideoStage()
    replicates: Replicates = Replicates()
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


def _objective_direction(objective: Objective, where: str) -> Objective:
    spec = METRICS[objective.metric]
    if objective.mode is None:
        return replace(objective, mode=spec.mode)
    if objective.mode != spec.mode:
        raise StudyError(f"{where}.mode", f"{objective.mode!r}: {objective.metric} is better when "
                         f"{'lower' if spec.mode == 'min' else 'higher'}; use mode: {spec.mode} (or leave it out)")
    return objective


def check_results_sections(objectives: tuple[Objective, ...], scheduler: SchedulerSpec, video: VideoStage,
                           replicates: Replicates) -> tuple[Objective, ...]:
    """The objectives with their directions filled in; the objectives, scheduler, video stage and
    replicates checked against each other."""
    where = [f"objective[{i}]" if len(objectives) > 1 else "objective" for i in range(len(objectives))]
    objectives = tuple(_objective_direction(o, w) for o, w in zip(objectives, where))
    for objective, at in zip(objectives, where):
        if METRICS[objective.metric].stage != VIDEO:
            continue
        if not video.enabled:
            raise StudyError(f"{at}.metric", f"{objective.metric} is measured by the video stage, which "
                             "video.frames_per_video: 0 turns off")
        acts = per_report_reason(scheduler.name)
        if acts is not None:
            raise StudyError("scheduler.name", f"{scheduler.name!r} acts on values reported every epoch ({acts}), "
                             f"but {objective.metric} is measured once, after training; use a scheduler that lets "
                             f"every trial run to the end, e.g. scheduler: {{name: fifo}}")
    module = ENSEMBLES[replicates.ensemble]
    if module is not None:
        if replicates.seeds < 2 or not replicates.enabled:
            raise StudyError("replicates.ensemble", f"an ensemble needs replicates.top_k >= 1 and seeds >= 2, got "
                             f"top_k: {replicates.top_k}, seeds: {replicates.seeds}")
        if not video.enabled:
            raise StudyError("replicates.ensemble", "the ensemble fuses the seeds' video predictions; "
                             "video.frames_per_video: 0 turns the video stage off")
        if importlib.util.find_spec(module) is None:
            raise StudyError("replicates.ensemble", f"{replicates.ensemble!r} needs the ensemble-kalman-smoother "
                             "package: pip install 'lp-sweeps[eks]'")
    return objectives
