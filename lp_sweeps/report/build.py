"""Building a sweep's report from what MLflow holds, and the pictures of a run's predictions."""

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from lp_sweeps.report.collect import RunSummary, SweepRef, SweepResults, collect
from lp_sweeps.report.frames import labeled_frames_png, video_frames_png
from lp_sweeps.report.page import Pictures, render_page, top_keypoint_tables
from lp_sweeps.study import Study, compose_trial_config
from lp_sweeps.tracking import TrackingStore
from lp_sweeps.trial.evaluation import LABELED_ARTIFACTS, VIDEO_ARTIFACTS, video_files_by_stem

__all__ = ["REPORT_FILE", "build_report", "run_pictures"]

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"


def run_pictures(store: TrackingStore, study: Study, run: RunSummary, demo_dir: Optional[str]) -> Pictures:
    """The run's predictions drawn on a few labeled frames and on frames of its first video."""
    cfg = compose_trial_config(study, run.params, demo_dir)
    data_dir = Path(cfg.data.data_dir)
    csv = cfg.data.csv_file if isinstance(cfg.data.csv_file, str) else list(cfg.data.csv_file)[0]
    views = list(cfg.data.view_names or [])
    labeled = video = None
    with tempfile.TemporaryDirectory(prefix="lp-pictures-") as folder:
        name = "predictions.csv" if len(views) < 2 else f"predictions_{views[0]}.csv"
        try:
            predictions = store.download(run.run_id, f"{LABELED_ARTIFACTS}/{name}", folder)
            labeled = labeled_frames_png(predictions, data_dir / csv, data_dir)
        except Exception as err:  # the run has no predictions (it failed, or predates them)
            logger.warning(f"run {run.name}: no picture of labeled frames ({err})")
        videos = video_files_by_stem(cfg, study.video) if study.video.enabled else {}
        for stem, path in sorted(videos.items())[:1]:
            try:
                local = store.download(run.run_id, f"{VIDEO_ARTIFACTS}/{stem}.csv", Path(folder) / "video")
                video = video_frames_png(local, path)
            except Exception as err:
                logger.warning(f"run {run.name}: no picture of video frames ({err})")
    return Pictures(run.name, labeled, video)


def build_report(record: SweepRef, study: Study, demo_dir: Optional[str], output: Path,
                 objectives: Sequence[str] = (), results: Optional[SweepResults] = None) -> Path:
    """Write the sweep's report to ``output``; ``objectives`` (two or more: a Pareto front) default
    to the study's objective."""
    results = results or collect(record, study, list(objectives) or None)
    store = TrackingStore(record.tracking_uri)
    ranked = results.ranked_runs()
    pictures = run_pictures(store, study, ranked[0], demo_dir) if ranked else None
    return render_page(results, study, top_keypoint_tables(results, store), pictures, output)
