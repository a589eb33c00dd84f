"""What a study asks of the searchers: the grid combinations, the number of trials, and one
trial's sampled values."""

from typing import Any, Optional

from lp_sweeps.search import grid_points as _grid_points
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.sections import Study
from lp_sweeps.study.space import RandomSuggester, Suggester, sample_space

__all__ = ["grid_points", "max_reports", "num_trials", "random_population", "sample_parameters"]


def sample_parameters(study: Study, suggester: Suggester, fixed: Optional[dict] = None) -> dict[str, Any]:
    """One trial's values ``{dotted_key: value}``; ``fixed`` holds values chosen already (its grid
    combination). Parameters whose ``when`` is false are left out; per-keypoint ones are lists."""
    keys = [p.key for p in study.parameters]
    for key in fixed or {}:
        if key not in keys:
            raise StudyError(key, f"is not a parameter of this study; parameters: {keys}", study.path)
    return sample_space(study.parameters, suggester, study.base_values, fixed)


def grid_points(study: Study) -> list[dict[str, Any]]:
    """Every combination of the grid parameters' values; ``[{}]`` when there are none."""
    return _grid_points(study.parameters)


def max_reports(max_epochs: int, check_val_every_n_epoch: int) -> int:
    """Reports (validation epochs) a trial makes when it runs to the end: the schedulers' ``max_t``
    (Lightning validates after epochs n-1, 2n-1, ...; a study validates at least once)."""
    return max(1, max_epochs // max(1, check_val_every_n_epoch))


def num_trials(study: Study) -> int:
    """``budget.num_samples`` trials per grid combination (Ray Tune's ``grid_search`` rule)."""
    return study.budget.num_samples * len(grid_points(study))


def random_population(study: Study, seed: Optional[int]) -> list[dict[str, Any]]:
    """Every trial's values drawn at random (for schedulers that run without a searcher, such as
    PBT): each grid combination ``num_samples`` times, in turn."""
    draw = RandomSuggester(seed)
    points = grid_points(study)
    return [sample_parameters(study, draw, points[i % len(points)]) for i in range(num_trials(study))]
