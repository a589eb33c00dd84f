"""The driver: launch and resume sweeps (:mod:`.run`), read them back and report on them (:mod:`.queries`), and the
record each sweep keeps in the project folder (:mod:`.record`)."""

from lp_sweeps.sweep.queries import best, experiments, report, status
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.run import DEFAULT_PROJECT_DIR, demo_folder, dry_run, launch, resume

__all__ = ["DEFAULT_PROJECT_DIR", "SweepRecord", "best", "demo_folder", "dry_run", "experiments", "launch", "report",
           "resume", "status"]
