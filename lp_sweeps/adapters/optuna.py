"""The one module that imports Optuna: samplers from the searchers' plans, and the
define-by-run search space through which Optuna proposes a trial's values.

Ray Tune's ``OptunaSearch`` drives one Optuna study per grid combination; the space is
define-by-run, so conditional parameters (``when:``) and per-keypoint vectors are sampled in
dependency order by :func:`lp_sweeps.study.sample_parameters` through an :class:`OptunaSuggester`.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Protocol, runtime_checkable

import optuna

from lp_sweeps.search import SamplerPlan
from lp_sweeps.study import Study, sample_parameters

__all__ = ["DefineByRun", "OptunaSuggester", "OptunaTrialLike", "make_sampler", "param_importances"]

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


def make_sampler(plan: SamplerPlan) -> optuna.samplers.BaseSampler:
    """``optuna.samplers.<plan.sampler>(**plan.kwargs)``."""
    factory = getattr(optuna.samplers, plan.sampler, None)
    if factory is None:
        raise ValueError(f"optuna.samplers has no sampler {plan.sampler!r}")
    return factory(**plan.kwargs)


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


def _distribution(spec: tuple) -> optuna.distributions.BaseDistribution:
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
    distributions = {name: _distribution(spec) for name, spec in space.items()}
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
