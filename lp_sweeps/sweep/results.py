"""The end of a sweep, for people: ensembles of the replicated configurations, pictures of the best
runs' predictions, the parent run's description (a markdown leaderboard) and summary metrics, and
the report (``sweeps/<sweep>/report.html``, also an artifact of the parent run)."""

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from lp_sweeps.report import REPORT_FILE, SweepResults, build_report, collect, run_pictures
from lp_sweeps.report.ensembles import fuse_groups
from lp_sweeps.report.frames import keypoint_names
from lp_sweeps.report.leaderboard import markdown_leaderboard
from lp_sweeps.study import Study, compose_trial_config
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.tracking import SweepTracker, TrackingStore
from lp_sweeps.trial.evaluation import LABELED_ARTIFACTS, read_keypoint_table, video_files_by_stem

__all__ = ["PICTURED_RUNS", "publish_results", "report_path", "results_plan", "summary_metrics"]

logger = logging.getLogger(__name__)

PICTURED_RUNS = 3  # the best runs get a picture of their predictions on labeled frames


def results_plan(study: Study) -> str:
    """What the sweep does besides the search: the video stage, replicates, ensembles (for --dry-run)."""
    video, reps = study.video, study.replicates
    stage = f"video stage: {video.frames_per_video} frames per video" if video.enabled else "no video stage"
    if not reps.enabled:
        return f"after training: {stage}; no replicates"
    ensemble = "" if reps.ensemble == "none" else f", fused with {reps.ensemble}"
    return (f"after training: {stage}; then the best {reps.top_k} configurations again with {reps.seeds} seeds "
            f"each ({reps.top_k * reps.seeds} more trials{ensemble})")


def report_path(record: SweepRecord) -> Path:
    return Path(record.project_dir) / "sweeps" / record.sweep_name / REPORT_FILE


def summary_metrics(results: SweepResults) -> dict[str, float]:
    """The parent run's counts (runs by state, configurations) and the best configuration's mean and sd."""
    metrics = {f"runs_{state.lower()}": float(n) for state, n in results.state_counts.items()}
    metrics["configurations"] = float(len(results.leaderboard))
    if results.leaderboard and results.leaderboard[0].replicates:
        top = results.leaderboard[0]
        metrics[f"best_{results.metric}_mean"] = top.mean
        if top.sd is not None:
            metrics[f"best_{results.metric}_sd"] = top.sd
    return metrics


def _fuse(record: SweepRecord, study: Study, demo_dir: Optional[str], tracker: SweepTracker,
          results: SweepResults) -> bool:
    # groups fused already (the end-of-sweep bookkeeping may run again) keep their ensemble run
    rows = [row for row in results.leaderboard if len(row.replicates) >= 2 and row.group not in results.ensembles]
    if not rows or study.replicates.ensemble == "none":
        return False
    cfg = compose_trial_config(study, rows[0].params, demo_dir)
    csv = cfg.data.csv_file if isinstance(cfg.data.csv_file, str) else list(cfg.data.csv_file)[0]
    names = list(cfg.data.keypoint_names or keypoint_names(read_keypoint_table(Path(cfg.data.data_dir, csv))))
    fuse_groups(tracker, record.parent_run_id, rows, names, video_files_by_stem(cfg, study.video))
    return True


def _log_pictures(results: SweepResults, study: Study, demo_dir: Optional[str], tracker: SweepTracker) -> None:
    store = TrackingStore(results.tracking_uri)
    for run in results.ranked_runs()[:PICTURED_RUNS]:
        pictures = run_pictures(store, study, run, demo_dir)
        with tempfile.TemporaryDirectory(prefix="lp-pictures-") as folder:
            for name, png in (("labeled_frames.png", pictures.labeled), ("video_frames.png", pictures.video)):
                if png is not None:
                    (Path(folder) / name).write_bytes(png)
                    tracker.log_artifact(run.run_id, Path(folder) / name, LABELED_ARTIFACTS)


def publish_results(record: SweepRecord, study: Study, demo_dir: Optional[str],
                    printer: Callable[[str], None]) -> Optional[Path]:
    """Everything a person reads at the end of the sweep (see the module doc); returns the report."""
    tracker = SweepTracker(record.tracking_uri, study.name)
    results = collect(record, study)
    if _fuse(record, study, demo_dir, tracker, results):
        results = collect(record, study)  # with the ensembles
    if not results.runs:
        return None
    _log_pictures(results, study, demo_dir, tracker)
    tracker.describe_sweep(record.parent_run_id, f"## Sweep {record.sweep_name}\n\n"
                           + markdown_leaderboard(results.leaderboard, results.metric, results.ensembles),
                           summary_metrics(results))
    report = build_report(record, study, demo_dir, report_path(record), results=results)
    tracker.log_artifact(record.parent_run_id, report)
    printer(f"report: {report}")
    return report
