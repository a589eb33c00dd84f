"""The driver: launch and resume sweeps (:mod:`.run`), read them back and report on them (:mod:`.queries`), and the
record each sweep keeps in the project folder (:mod:`.record`)."""

from lp_sweeps.sweep.pareto import format_front
from lp_sweeps.sweep.placement import PlacementError
from lp_sweeps.sweep.queries import best, experiments, report, status
from lp_sweeps.sweep.record import ExitCode, SweepRecord
from lp_sweeps.sweep.run import DEFAULT_PROJECT_DIR, TRACKING_TIMEOUT_S, demo_folder, dry_run, launch, resume, sync

__all__ = [
    "DEFAULT_PROJECT_DIR", "ExitCode", "PlacementError", "SweepRecord", "TRACKING_TIMEOUT_S", "best", "demo_folder",
    "dry_run", "experiments", "format_front", "launch", "report", "resume", "status", "sync",
]
