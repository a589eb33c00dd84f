"""Population-based training: weak trials continue from strong trials' checkpoints with changed values.

Ray Tune's ``PopulationBasedTraining`` decides when: every ``perturbation_interval`` reports a
trial in the bottom ``quantile_fraction`` of the population is paused, takes the config and the
latest checkpoint of a trial in the top fraction, and restarts from that checkpoint with the
config *explored* by :class:`Explorer`: each mutated parameter is resampled from its range or
choices (probability ``resample_probability``), or else multiplied by 0.8 or 1.2 (ranges, clipped
to them) or moved to a neighbouring choice. Only parameters the declared list of
:mod:`lp_sweeps.search.mutable` allows can be mutated; the trial's other values are the donor's
(they match the donor's checkpoint).

Ray Tune runs no searcher alongside PBT: the initial population is drawn at random from the
study's space (:func:`lp_sweeps.study.trials.random_population`, seeded by ``searcher.seed``).
"""

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from lp_sweeps.search.mutable import mutability
from lp_sweeps.search.options import Option
from lp_sweeps.search.registry import SCHEDULERS, SchedulerPlan, TrialLayout

__all__ = ["Explorer", "check_pbt", "pbt", "pbt_mutations"]

TIME_ATTR = "training_iteration"
PERTURBATION_FACTORS = (1.2, 0.8)


def _same(a: Any, b: Any) -> bool:
    """Equality in which ``True`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def pbt_mutations(parameters: Sequence, options: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys PBT mutates: ``options["mutations"]``, or every non-grid parameter that may change
    mid-training."""
    if options.get("mutations"):
        return tuple(options["mutations"])
    return tuple(p.key for p in parameters if p.kind != "grid" and mutability(p.key)[0])


def check_pbt(parameters: Sequence, options: Mapping[str, Any], layout: TrialLayout) -> Optional[tuple[str, str]]:
    """What PBT cannot run: data-parallel trials, grid parameters, immutable or unknown mutations."""
    workers = layout.workers
    if workers > 1:
        return "resources.workers", (f"{workers}: scheduler 'pbt' restarts trials from other trials' Tune "
                                     "checkpoints, and data-parallel trials keep theirs in their Ray Train runs; "
                                     "use workers: 1")
    grid = [p.key for p in parameters if p.kind == "grid"]
    if grid:
        return f"parameters.{grid[0]}", ("scheduler 'pbt' takes no grid parameters: an exploited trial continues "
                                          "with its donor's values and would leave its grid combination; use choice")
    keys = [p.key for p in parameters]
    for key in options.get("mutations") or ():
        if key not in keys:
            return "scheduler.mutations", f"{key!r} is not a parameter of this study; parameters: {keys}"
        allowed, why = mutability(key)
        if not allowed:
            return "scheduler.mutations", f"{key} cannot change mid-training: {why}"
    if not pbt_mutations(parameters, options):
        return "scheduler.mutations", (f"no parameter of this study can change mid-training ({keys}); "
                                       f"{mutability('')[1].split('; ', 1)[1]}")
    return None


class Explorer:
    """PBT's explore step on a trial config ``{"params": {key: value}, ...}`` (Ray's
    ``custom_explore_fn``); picklable, seeded. Parameters are duck-typed
    :class:`lp_sweeps.study.space.Parameter` objects (key, kind, values, low, high, step, groups)."""

    def __init__(self, parameters: Sequence, keys: Sequence[str], resample_probability: float,
                 seed: Optional[int] = None) -> None:
        by_key = {p.key: p for p in parameters}
        self.parameters = [by_key[key] for key in keys if key in by_key]
        self.resample_probability = resample_probability
        self.rng = random.Random(seed)

    def __call__(self, config: dict) -> dict:
        """The donor's config with the mutations applied to ``config["params"]`` (what the trial
        trains with; Ray's copies of the searcher's suggestions are left as they were)."""
        params = dict(config.get("params") or {})
        for p in self.parameters:
            if p.key not in params:  # its `when` was false for this trial
                continue
            if p.groups is None:
                params[p.key] = self._mutate(p, params[p.key])
                continue
            values = list(params[p.key])
            for members in p.groups:
                new = self._mutate(p, values[members[0]])
                for i in members:
                    values[i] = new
            params[p.key] = values
        config["params"] = params
        return config

    def _mutate(self, p: Any, value: Any) -> Any:
        if p.kind in ("choice", "grid"):
            options = list(p.values)
            index = next((i for i, v in enumerate(options) if _same(v, value)), None)
            if index is None or self.rng.random() < self.resample_probability:
                return self.rng.choice(options)
            return options[min(max(index + self.rng.choice((-1, 1)), 0), len(options) - 1)]
        if self.rng.random() < self.resample_probability:
            new = self._resample(p)
        else:
            new = value * self.rng.choice(PERTURBATION_FACTORS)
        new = min(max(new, p.low), p.high)
        if p.kind == "int":
            step = p.step or 1
            new = int(p.low + step * round((new - p.low) / step))
            return min(max(new, int(p.low)), int(p.high))
        return float(new)

    def _resample(self, p: Any) -> float:
        if p.kind == "loguniform":
            return math.exp(self.rng.uniform(math.log(p.low), math.log(p.high)))
        if p.kind == "int":
            step = p.step or 1
            return p.low + step * self.rng.randrange((p.high - p.low) // step + 1)
        return self.rng.uniform(p.low, p.high)


@SCHEDULERS.register("pbt", options={
    "perturbation_interval": Option(int, 2, minimum=1, help="reports between two exploit/explore decisions"),
    "burn_in_period": Option(int, 0, minimum=0, help="reports before the first decision"),
    "quantile_fraction": Option(float, 0.25, minimum=0, maximum=0.5,
                                help="the bottom fraction copies the top fraction"),
    "resample_probability": Option(float, 0.25, minimum=0, maximum=1,
                                   help="chance that a mutated value is drawn anew rather than perturbed"),
    "mutations": Option(list, None, nullable=True,
                        help="parameter keys PBT may change; null: every one that may change mid-training"),
    "seed": Option(int, None, minimum=0, help="seed of the explore step"),
}, one_objective="it ranks the population by one metric", study_check=check_pbt, mutations=pbt_mutations,
   per_report="it copies the best trials' checkpoints over the worst",
   no_searcher="Ray Tune runs no searcher alongside population-based training: the initial population is drawn "
               "at random (seeded by searcher.seed) and PBT's exploit/explore steps search from there")
def pbt(options: dict, max_t: int, parameters: tuple = ()) -> SchedulerPlan:
    """Ray Tune's PopulationBasedTraining over the study's mutable parameters; every checkpoint is
    kept (an exploited trial continues from its donor's latest one)."""
    explorer = Explorer(parameters, pbt_mutations(parameters, options), options["resample_probability"],
                        options["seed"])
    return SchedulerPlan("pbt", {
        "time_attr": TIME_ATTR,
        "perturbation_interval": options["perturbation_interval"],
        "burn_in_period": options["burn_in_period"],
        "quantile_fraction": options["quantile_fraction"],
        "resample_probability": options["resample_probability"],
        "perturbation_factors": PERTURBATION_FACTORS,
        "custom_explore_fn": explorer,
    }, checkpoints_to_keep=None)
