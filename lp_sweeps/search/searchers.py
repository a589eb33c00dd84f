"""The searchers: each proposes a trial's non-grid values through an Optuna sampler.

Grid parameters never reach the sampler: the trials are every grid combination
``budget.num_samples`` times, and within each combination this searcher proposes the rest
(:mod:`lp_sweeps.search.grid`).
"""

from typing import Optional

from lp_sweeps.search.options import Option
from lp_sweeps.search.registry import SEARCHERS, SamplerPlan

__all__ = ["grid", "random", "tpe"]

SEED = Option(int, None, minimum=0, help="seed of the sampler; null: not reproducible")


@SEARCHERS.register("optuna", options={"seed": SEED})
def tpe(options: dict) -> SamplerPlan:
    """Optuna's TPE (tree-structured Parzen estimator), define-by-run: conditional parameters
    and per-keypoint vectors are sampled in dependency order."""
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
