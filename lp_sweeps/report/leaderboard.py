"""Ranking a sweep's configurations (pure: no Ray, no MLflow).

A configuration is a search trial's sampled values; its group is named after the trial (``t03``).
Configurations that were replicated (``replicates.top_k``) are ranked by the mean of their
replicates' values over seeds, with the sample standard deviation; the search trial itself is not
in that mean, because it was picked for being good (its value is biased low). The others keep
their single search value and rank after the replicated ones. A run's value is the best of its
reports of the objective (as Ray Tune ranks trials).
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["Entry", "GroupRow", "build_leaderboard", "markdown_leaderboard", "replicate_candidates"]


@dataclass(frozen=True)
class Entry:
    """One run: a search trial (``seed`` None) or a replicate of ``group`` with ``seed``."""

    trial_id: str
    name: str
    group: str
    value: Optional[float]
    params: dict = field(default_factory=dict)
    seed: Optional[int] = None
    run_id: Optional[str] = None


@dataclass(frozen=True)
class GroupRow:
    group: str
    search: Optional[Entry]
    replicates: tuple[Entry, ...]
    mean: Optional[float]  # over the replicates' values, else the search value
    sd: Optional[float]  # sample standard deviation over the replicates (two or more)

    @property
    def label(self) -> str:
        return (self.search or self.replicates[0]).name

    @property
    def params(self) -> dict:
        return (self.search or self.replicates[0]).params

    def runs(self, mode: str) -> list[Entry]:
        """The group's runs with a value, best first."""
        entries = [e for e in (self.search, *self.replicates) if e is not None and _finite(e.value)]
        return sorted(entries, key=lambda e: e.value if mode == "min" else -e.value)


def _finite(value: Optional[float]) -> bool:
    return value is not None and math.isfinite(value)


def _row(group: str, entries: list[Entry]) -> GroupRow:
    search = next((e for e in entries if e.seed is None), None)
    replicates = tuple(sorted((e for e in entries if e.seed is not None), key=lambda e: e.seed))
    values = [e.value for e in replicates if _finite(e.value)]
    if values:
        mean, sd = statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None
    else:
        mean, sd = (search.value if search is not None and _finite(search.value) else None), None
    return GroupRow(group, search, replicates, mean, sd)


def build_leaderboard(entries: Sequence[Entry], mode: str) -> list[GroupRow]:
    """Configurations best first: replicated ones by their mean, then the rest by their value;
    configurations without a value last."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    rows = [_row(group, members) for group, members in groups.items()]
    sign = 1.0 if mode == "min" else -1.0

    def key(row: GroupRow) -> tuple:
        return (row.mean is None, not row.replicates, sign * row.mean if row.mean is not None else 0.0, row.group)

    return sorted(rows, key=key)


def replicate_candidates(entries: Sequence[Entry], mode: str, top_k: int) -> list[Entry]:
    """The ``top_k`` best search trials with distinct sampled values (the configurations to replicate)."""
    seen, chosen = [], []
    sign = 1.0 if mode == "min" else -1.0
    for entry in sorted((e for e in entries if e.seed is None and _finite(e.value)), key=lambda e: sign * e.value):
        if entry.params in seen:
            continue
        seen.append(entry.params)
        chosen.append(entry)
        if len(chosen) == top_k:
            break
    return chosen


def _number(value: Optional[float]) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3f}"


def markdown_leaderboard(rows: Sequence[GroupRow], metric: str, extra: Optional[dict[str, dict[str, float]]] = None,
                         limit: int = 20) -> str:
    """A markdown table of the leaderboard (``extra``: group -> more columns, e.g. ensemble metrics)."""
    extra = extra or {}
    columns = sorted({key for values in extra.values() for key in values})
    lines = [f"| rank | configuration | seeds | {metric} (mean ± sd) | search trial |"
             + "".join(f" {c} |" for c in columns),
             "|---:|---|---:|---|---:|" + "---:|" * len(columns)]
    for rank, row in enumerate(rows[:limit], start=1):
        spread = f"{_number(row.mean)} ± {_number(row.sd)}" if row.sd is not None else _number(row.mean)
        search = _number(row.search.value) if row.search is not None else "-"
        cells = "".join(f" {_number(extra.get(row.group, {}).get(c))} |" for c in columns)
        lines.append(f"| {rank} | {row.label.replace('|', '/')} | {len(row.replicates) or 1} | {spread} | {search} |"
                     + cells)
    if len(rows) > limit:
        lines.append(f"\n{len(rows) - limit} more configurations in the report.")
    return "\n".join(lines)
