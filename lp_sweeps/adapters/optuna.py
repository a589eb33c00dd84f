"""The one module that imports Optuna: samplers from the searchers' plans, the define-by-run
search space through which Optuna proposes a trial's values, and the sweeps' persisted studies.

Ray Tune's ``OptunaSearch`` drives one Optuna study per grid combination; the space is
define-by-run, so conditional parameters (``when:``) and per-keypoint vectors are sampled in
dependency order by :func:`lp_sweeps.study.sample_parameters` through an :class:`OptunaSuggester`.

The studies live in the project folder (``optuna.db``, Optuna's RDB storage on SQLite): one per
grid combination, named after the sweep (``SWEEP`` or ``SWEEP#i``), with user attributes saying
which sweep, grid combination and objectives they belong to. ``optuna-dashboard
sqlite:///PROJECT/optuna.db`` shows them; a resumed sweep's searcher continues the same studies;
:func:`recorded_trials` reads an earlier sweep's finished trials for a warm start.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol, runtime_checkable

import optuna

from lp_sweeps.search import SamplerPlan
from lp_sweeps.study import Study, sample_parameters
from lp_sweeps.study.replay import Suggestion

__all__ = [
    "ATTR_GRID_POINT", "ATTR_METRICS", "ATTR_SWEEP", "ATTR_WARM_START", "DefineByRun", "OptunaSuggester",
    "OptunaTrialLike", "RecordedTrial", "WarmTrial", "add_warm_trials", "create_sweep_studies", "default_storage_url",
    "make_sampler", "open_storage", "param_importances", "recorded_trials", "study_name",
]

STORAGE_FILE = "optuna.db"
ATTR_SWEEP = "lp_sweeps.sweep"  # study user attributes
ATTR_GRID_POINT = "lp_sweeps.grid_point"  # JSON of the combination's grid values
ATTR_METRICS = "lp_sweeps.metrics"  # the objectives' metric names, in order
ATTR_WARM_START = "lp_sweeps.warm_start_from"  # trial user attribute: "SWEEP trial N"

# Optuna stores categorical choices; lists (e.g. losses_to_use) are stored by their index
_LIST_PREFIX = "__choice_index__"


@runtime_checkable
class OptunaTrialLike(Protocol):
    """What we use of an Optuna trial (Ray hands the space a recording stand-in with this API)."""

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1) -> int: ...


class OptunaSuggester:
    """:class:`lp_sweeps.study.space.Suggester` on top of an Optuna trial."""

    def __init__(self, trial: OptunaTrialLike) -> None:
        self.trial = trial

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if all(isinstance(c, (bool, int, float, str)) or c is None for c in choices):
            return self.trial.suggest_categorical(name, list(choices))
        index = self.trial.suggest_categorical(_LIST_PREFIX + name, list(range(len(choices))))
        return choices[index]

    def uniform(self, name: str, low: float, high: float) -> float:
        return self.trial.suggest_float(name, low, high)

    def loguniform(self, name: str, low: float, high: float) -> float:
        return self.trial.suggest_float(name, low, high, log=True)

    def integer(self, name: str, low: int, high: int, step: int) -> int:
        return self.trial.suggest_int(name, low, high, step=step)


def make_sampler(plan: SamplerPlan, seed_offset: int = 0) -> optuna.samplers.BaseSampler:
    """``optuna.samplers.<plan.sampler>(**plan.kwargs)``; a seeded sampler's seed moved by
    ``seed_offset`` (a warm-started searcher must not repeat the draws of the sweep it starts from)."""
    factory = getattr(optuna.samplers, plan.sampler, None)
    if factory is None:
        raise ValueError(f"optuna.samplers has no sampler {plan.sampler!r}")
    kwargs = dict(plan.kwargs)
    if kwargs.get("seed") is not None:
        kwargs["seed"] += seed_offset
    return factory(**kwargs)


class DefineByRun:
    """The search space of one grid combination as a (picklable) function of an Optuna trial:
    ``{"params": {key: value}}`` with the combination's values fixed.

    Ray saves the searcher with the experiment, so this must not be a closure.
    """

    def __init__(self, study: Study, fixed: Optional[dict] = None) -> None:
        self.study = study
        self.fixed = dict(fixed or {})

    def __call__(self, trial: OptunaTrialLike) -> dict:
        return {"params": sample_parameters(self.study, OptunaSuggester(trial), self.fixed)}


def default_storage_url(project_dir: str | Path) -> str:
    """``sqlite:///<project_dir>/optuna.db``: the project's Optuna studies."""
    return f"sqlite:///{Path(project_dir).resolve() / STORAGE_FILE}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage at ``url`` (tables created on first use); SQLite waits for locks."""
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def study_name(sweep_name: str, index: int, num_points: int) -> str:
    """The Optuna study of grid combination ``index``: the sweep's name, with ``#index`` when
    the sweep has several combinations."""
    return sweep_name if num_points == 1 else f"{sweep_name}#{index}"


@dataclass(frozen=True)
class WarmTrial:
    """A finished trial handed to a new sweep's searcher: its grid combination's index, its
    suggestions (name -> value) as this study's space asks them, and its objective values."""

    point: int
    values: Mapping[str, Any]
    asked: Mapping[str, Suggestion]
    objective_values: tuple[float, ...]
    source: str


@dataclass(frozen=True)
class RecordedTrial:
    """A finished (COMPLETE) trial of a sweep's Optuna study."""

    point: dict
    values: dict
    objective: dict  # metric -> value
    source: str


def _distribution(s: Suggestion) -> optuna.distributions.BaseDistribution:
    if s.kind == "categorical":
        return optuna.distributions.CategoricalDistribution(list(s.choices))
    if s.kind == "integer":
        return optuna.distributions.IntDistribution(int(s.low), int(s.high), step=s.step)
    return optuna.distributions.FloatDistribution(s.low, s.high, log=s.kind == "loguniform")


def create_sweep_studies(storage: optuna.storages.BaseStorage, sweep_name: str, points: Sequence[dict],
                         study: Study) -> list[str]:
    """One Optuna study per grid combination (kept if it exists: a resumed sweep); their names."""
    directions = ["minimize" if mode == "min" else "maximize" for mode in study.modes]
    names = []
    for index, point in enumerate(points):
        name = study_name(sweep_name, index, len(points))
        created = optuna.create_study(storage=storage, study_name=name, directions=directions, load_if_exists=True)
        for key, value in ((ATTR_SWEEP, sweep_name), (ATTR_GRID_POINT, json.dumps(point)),
                           (ATTR_METRICS, study.metrics)):
            created.set_user_attr(key, value)
        names.append(name)
    return names


def add_warm_trials(storage: optuna.storages.BaseStorage, names: Sequence[str], trials: Sequence[WarmTrial]) -> int:
    """Adds finished trials to the studies ``names`` (by grid combination) as COMPLETE trials."""
    for trial in trials:
        target = optuna.load_study(storage=storage, study_name=names[trial.point])
        target.add_trial(optuna.trial.create_trial(
            params=dict(trial.values), distributions={k: _distribution(s) for k, s in trial.asked.items()},
            values=list(trial.objective_values), user_attrs={ATTR_WARM_START: trial.source},
        ))
    return len(trials)


def recorded_trials(url: str, sweep_name: str) -> list[RecordedTrial]:
    """Every COMPLETE trial of the Optuna studies of ``sweep_name`` stored at ``url``."""
    storage = open_storage(url)
    found = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if attrs.get(ATTR_SWEEP) != sweep_name:
            continue
        point, metrics = json.loads(attrs.get(ATTR_GRID_POINT, "{}")), list(attrs.get(ATTR_METRICS, []))
        states = (optuna.trial.TrialState.COMPLETE,)
        for trial in optuna.load_study(storage=storage, study_name=summary.study_name).get_trials(states=states):
            if trial.values is None or len(trial.values) != len(metrics):
                continue
            found.append(RecordedTrial(point, dict(trial.params), dict(zip(metrics, trial.values)),
                                       f"sweep {sweep_name} trial {summary.study_name}/{trial.number}"))
    return found


def _space_distribution(spec: tuple) -> optuna.distributions.BaseDistribution:
    kind = spec[0]
    if kind == "float":
        return optuna.distributions.FloatDistribution(spec[1], spec[2], log=spec[3])
    if kind == "int":
        return optuna.distributions.IntDistribution(spec[1], spec[2])
    return optuna.distributions.CategoricalDistribution(list(spec[1]))


def param_importances(samples: Sequence[tuple[Mapping[str, Any], float]], space: Mapping[str, tuple],
                      seed: int = 0) -> dict[str, float]:
    """fANOVA importance (``optuna.importance``, normalised to sum 1) of each parameter for the
    value, from ``samples`` of (values, objective value). ``space``: name -> ``("float", low,
    high, log)``, ``("int", low, high)`` or ``("categorical", choices)``. Raises ValueError when
    there are too few samples."""
    distributions = {name: _space_distribution(spec) for name, spec in space.items()}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize")
    for values, value in samples:
        present = {k: v for k, v in values.items() if k in distributions}
        study.add_trial(optuna.trial.create_trial(params=present, value=float(value),
                                                  distributions={k: distributions[k] for k in present}))
    if len(study.trials) < 2:
        raise ValueError(f"parameter importance needs 2 or more finished trials, got {len(study.trials)}")
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
