"""One meaning of ``grid`` under every searcher: each combination of the grid parameters'
values runs ``budget.num_samples`` times, and within each combination the study's searcher
proposes the other parameters (Ray Tune's ``grid_search`` x ``num_samples`` rule).

:class:`GridPlan` hands out grid combinations to trials in turn (round robin over the
combinations that still have trials to run), so a time budget that ends the sweep early leaves
every combination with about the same number of trials.
"""

import copy
import itertools
from collections.abc import Sequence
from typing import Any, Optional

__all__ = ["GridPlan", "grid_points"]


def grid_points(parameters: Sequence) -> list[dict[str, Any]]:
    """Every combination of the ``grid`` parameters' values (file order); ``[{}]`` when there are none."""
    grid = [p for p in parameters if p.kind == "grid"]
    combos = itertools.product(*(p.values for p in grid))
    return [{p.key: copy.deepcopy(v) for p, v in zip(grid, combo)} for combo in combos]


class GridPlan:
    """Which grid combination each trial gets: ``num_samples`` trials per combination."""

    def __init__(self, num_points: int, num_samples: int) -> None:
        if num_points < 1 or num_samples < 1:
            raise ValueError(f"need at least one grid point and one sample, got {num_points} and {num_samples}")
        self.num_points = num_points
        self.num_samples = num_samples
        self.assigned: dict[str, int] = {}  # trial id -> grid point index
        self._next = 0

    @property
    def total(self) -> int:
        return self.num_points * self.num_samples

    def counts(self) -> list[int]:
        """Trials given to each grid point so far."""
        counts = [0] * self.num_points
        for index in self.assigned.values():
            counts[index] += 1
        return counts

    def assign(self, trial_id: str) -> Optional[int]:
        """The grid point of a new trial (the same one again for a trial id seen before), or None
        when every point has its ``num_samples`` trials."""
        if trial_id in self.assigned:
            return self.assigned[trial_id]
        counts = self.counts()
        for offset in range(self.num_points):
            index = (self._next + offset) % self.num_points
            if counts[index] < self.num_samples:
                self.assigned[trial_id] = index
                self._next = (index + 1) % self.num_points
                return index
        return None

    def point_of(self, trial_id: str) -> Optional[int]:
        return self.assigned.get(trial_id)
