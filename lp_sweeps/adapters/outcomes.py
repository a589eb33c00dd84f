"""What a sweep's Ray Tune run hands back: one :class:`TrialOutcome` per trial and the
:class:`SweepOutcome` around them (plain data; no Ray types leave the adapter)."""

import dataclasses
from typing import Optional

__all__ = ["SweepOutcome", "TrialOutcome"]


@dataclasses.dataclass
class TrialOutcome:
    trial_id: str
    status: str  # TERMINATED | ERROR
    iterations: int
    metric: Optional[float]
    params: dict
    checkpoint_dir: Optional[str]  # its best kept checkpoint: a folder, or a URI (adapters.storage)
    stopped_early: bool
    values: dict = dataclasses.field(default_factory=dict)  # the objectives' values at the trial's last report
    start_time: Optional[float] = None  # seconds since the epoch: when the trial started
    end_time: Optional[float] = None  # and its last report
    replicate: Optional[dict] = None  # a replicate's {"group", "seed", "source_trial_id"}
    number: Optional[int] = None  # a search trial's number in the sweep (from 1)


@dataclasses.dataclass
class SweepOutcome:
    trials: list[TrialOutcome]
    storage_dir: str
    wall_time_s: float
    interrupted: bool  # stopped (Ctrl-C, driver killed) before every trial ended: resume it
    ended: set[str]  # ids of the trials that ended, this run or an earlier one
