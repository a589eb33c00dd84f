"""The searchers: each proposes a trial's non-grid values through an Optuna sampler.

Grid parameters never reach the sampler: the trials are every grid combination
``budget.num_samples`` times, and within each combination this searcher proposes the rest
(:mod:`lp_sweeps.search.grid`).
"""

from typing import Optional

from lp_sweeps.search.options import Option
from lp_sweeps.search.registry import SEARCHERS, SamplerPlan

__all__ = ["cmaes", "grid", "random", "tpe"]

SEED = Option(int, None, minimum=0, help="seed of the sampler; null: not reproducible")


@SEARCHERS.register("optuna", options={"seed": SEED})
def tpe(options: dict) -> SamplerPlan:
    """Optuna's TPE (tree-structured Parzen estimator), define-by-run: conditional parameters
    and per-keypoint vectors are sampled in dependency order. With several objectives it is
    Optuna's multi-objective TPE (MOTPE)."""
    return SamplerPlan("TPESampler", {"seed": options["seed"]})


@SEARCHERS.register("random", options={"seed": SEED})
def random(options: dict) -> SamplerPlan:
    """Independent uniform draws."""
    return SamplerPlan("RandomSampler", {"seed": options["seed"]})


def _grid_only(parameters: tuple) -> Optional[tuple[str, str]]:
    searched = [p for p in parameters if p.kind != "grid"]
    if searched:
        return searched[0].key, f"searcher 'grid' needs grid parameters only, got {searched[0].kind}"
    return None


@SEARCHERS.register("grid", options={"seed": SEED}, space_check=_grid_only)
def grid(options: dict) -> SamplerPlan:
    """Exhaustive: every parameter is a ``grid`` parameter, so nothing is left to sample."""
    return SamplerPlan("RandomSampler", {"seed": options["seed"]})


def _continuous_only(parameters: tuple) -> Optional[tuple[str, str]]:
    for p in parameters:
        if p.kind == "choice":
            return p.key, ("searcher 'cmaes' (CMA-ES) models continuous and integer ranges only, and this "
                           "parameter is a choice; make it a grid parameter (one CMA-ES per grid combination) "
                           "or use searcher 'optuna' (TPE)")
        if p.when and p.kind != "grid":
            return f"{p.key}.when", ("searcher 'cmaes' (CMA-ES) needs the same parameters in every trial, and this "
                                     "one is conditional; drop 'when' or use searcher 'optuna' (TPE)")
    return None


@SEARCHERS.register("cmaes", options={
    "seed": SEED,
    "n_startup_trials": Option(int, 1, minimum=0, help="random trials before CMA-ES takes over"),
    "sigma0": Option(float, None, minimum=0, strict=True,
                     help="initial step size in the unit-scaled space; null: a sixth of the range"),
}, space_check=_continuous_only, one_objective="CMA-ES optimises a single objective")
def cmaes(options: dict) -> SamplerPlan:
    """Optuna's CMA-ES (covariance matrix adaptation) over the ranges (uniform, loguniform, int,
    per-keypoint groups); grid parameters are fixed per combination as with every searcher."""
    return SamplerPlan("CmaEsSampler", {"seed": options["seed"], "n_startup_trials": options["n_startup_trials"],
                                        "sigma0": options["sigma0"]})
