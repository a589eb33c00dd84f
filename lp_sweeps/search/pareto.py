"""The Pareto front of a multi-objective sweep: the trials no other trial dominates."""

from collections.abc import Mapping, Sequence
from typing import Hashable

__all__ = ["dominates", "pareto_front"]


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` in every objective and better in one (``modes``: min | max)."""
    signs = [1.0 if mode == "min" else -1.0 for mode in modes]
    pairs = [(s * x, s * y) for s, x, y in zip(signs, a, b)]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def pareto_front(points: Mapping[Hashable, Sequence[float]], modes: Sequence[str]) -> list:
    """The keys of ``points`` (e.g. trial ids -> objective values) that no other point dominates,
    in the order given; equal points are all kept."""
    return [key for key, value in points.items()
            if not any(dominates(other, value, modes) for k, other in points.items() if k != key)]
