"""``sweeps/<sweep>/sweep.json``: where a sweep's pieces live, and the study it runs.

The record holds the study as it was parsed (command-line overrides applied) and the contents of
its base config, so ``resume`` and ``best`` rebuild exactly the study the sweep started with,
whatever happened to the files since.
"""

import dataclasses
import enum
import json
from pathlib import Path
from typing import Any, Optional

from lp_sweeps.study import Study, study_from_record

__all__ = ["ExitCode", "SweepRecord"]


class ExitCode(enum.IntEnum):
    """Exit status of ``lp-sweep launch``, ``resume`` and ``sync`` (documented in the README)."""

    FINISHED = 0  # every trial ended and everything is recorded in MLflow
    ERROR = 1  # an unexpected error (a traceback is printed)
    BAD_INPUT = 2  # the study, a config or an argument is wrong; nothing was started
    INTERRUPTED = 3  # stopped before every trial ended: `lp-sweep resume SWEEP` continues it
    TRIALS_FAILED = 4  # the sweep ended and is recorded, but some trials failed (their Ray logs are kept)
    UNSYNCED = 5  # the trials ended but the tracking server was unreachable: `lp-sweep sync SWEEP` finishes
    NO_RESOURCES = 6  # no node of the cluster can hold a trial (the message says what it has)


# record states; "unsynced": every trial ended, the end-of-sweep bookkeeping in MLflow is pending
STATES = ("running", "interrupted", "unsynced", "finished")


@dataclasses.dataclass
class SweepRecord:
    sweep_name: str
    study_file: str  # the file the user wrote
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    storage_dir: str
    project_dir: str
    created: str
    study: Optional[dict[str, Any]] = None  # Study.data
    base: Optional[dict[str, Any]] = None  # Study.base
    state: str = "running"
    best: Optional[dict] = None
    trials: Optional[list[dict[str, Any]]] = None  # how each trial ended (TrialOutcome fields), once all ended
    demo_dir: Optional[str] = None
    optuna_storage: Optional[str] = None  # the Optuna storage of the sweep's searcher studies
    warm_start: Optional[dict] = None  # {"sweep": earlier sweep, "trials": how many it handed over}
    pareto_front: Optional[list[dict]] = None  # multi-objective sweeps: the non-dominated trials

    @classmethod
    def load(cls, project_dir: Path, sweep_name: str) -> "SweepRecord":
        path = project_dir / "sweeps" / sweep_name / "sweep.json"
        if not path.is_file():
            known = sorted(p.name for p in (project_dir / "sweeps").glob("*") if p.is_dir())
            raise FileNotFoundError(f"no sweep {sweep_name!r} in {project_dir}; sweeps there: {known}")
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        folder = Path(self.project_dir) / "sweeps" / self.sweep_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep.json").write_text(json.dumps(dataclasses.asdict(self), indent=2))

    def exit_code(self) -> ExitCode:
        """What ``lp-sweep`` exits with for a sweep in this state."""
        if self.state == "interrupted" or self.state == "running":
            return ExitCode.INTERRUPTED
        if self.state == "unsynced":
            return ExitCode.UNSYNCED
        failed = [t for t in self.trials or [] if t.get("status") == "ERROR"]
        return ExitCode.TRIALS_FAILED if failed else ExitCode.FINISHED

    def load_study(self) -> Study:
        """The study this sweep runs, rebuilt from the record (no file is read)."""
        if self.study is None:
            raise ValueError(f"sweep {self.sweep_name!r} was recorded by an older lp-sweeps without its study; "
                             f"launch {self.study_file} again")
        return study_from_record(self.study, self.study_file, self.base)
