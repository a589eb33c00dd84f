"""Ensembles of a configuration's seeds: each replicated configuration's video predictions fused
with the Ensemble Kalman Smoother, recorded as one more child run of the sweep
(``t03 eks ensemble (3 seeds)``, tags ``lp_sweeps.role=ensemble`` and the group).

Its metrics, over every frame and keypoint of the videos all the seeds predicted:

    eks_ensemble_variance    mean variance of the seeds' predictions around their median (px^2)
    eks_posterior_variance   mean posterior variance of the smoothed keypoints (px^2)
    eks_video_temporal_norm  mean distance a smoothed keypoint moves between frames (px)
    eks_video_pixel_error    pixel error of the smoothed keypoints, on videos with ground truth
    seeds_video_pixel_error  the seeds' own mean video pixel error, for comparison
"""

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from lightning_pose.metrics import pixel_error, temporal_norm
from lightning_pose.utils.predictions import read_predictions_csv
from lp_sweeps.adapters.eks import smooth_single_view
from lp_sweeps.study.labels import ensemble_name
from lp_sweeps.report.leaderboard import GroupRow
from lp_sweeps.tracking import TAG_GROUP, TAG_ROLE, SweepTracker, TrackingStore
from lp_sweeps.trial.evaluation import (
    METRIC_FILE_ENDINGS, VIDEO_ARTIFACTS, ground_truth_file, keypoint_xy, read_keypoint_table,
)

__all__ = ["ENSEMBLE_ARTIFACTS", "ENSEMBLE_METRICS", "fuse_groups", "fused_metrics"]

logger = logging.getLogger(__name__)

ENSEMBLE_ARTIFACTS = "ensemble"
ENSEMBLE_METRICS = ("eks_video_pixel_error", "eks_ensemble_variance", "eks_posterior_variance",
                    "eks_video_temporal_norm", "seeds_video_pixel_error")


def _prediction_files(store: TrackingStore, run_id: str) -> list[str]:
    """Names of the run's video predictions files (not their metric files)."""
    listed = store.list_artifacts(run_id, VIDEO_ARTIFACTS)
    return sorted(Path(p).name for p in listed if p.endswith(".csv") and not p.endswith(METRIC_FILE_ENDINGS))


def fused_metrics(table, names: Sequence[str], truth: Optional[np.ndarray]) -> dict[str, tuple[float, int]]:
    """(sum, count) of each EKS metric of one smoothed video (``truth``: ``(frames, K, 2)`` or None)."""
    rows = len(table)
    fields = table.columns.get_level_values(2)
    smoothed = keypoint_xy(table, names, rows)
    values = {
        "eks_ensemble_variance": table.loc[:, fields.isin(["x_ens_var", "y_ens_var"])].to_numpy(np.float64),
        "eks_posterior_variance": table.loc[:, fields.isin(["x_posterior_var", "y_posterior_var"])].to_numpy(np.float64),
        "eks_video_temporal_norm": temporal_norm(smoothed),
    }
    if truth is not None:
        frames = min(rows, len(truth))
        values["eks_video_pixel_error"] = pixel_error(truth[:frames], smoothed[:frames])
    out = {}
    for name, array in values.items():
        finite = array[np.isfinite(array)]
        out[name] = (float(finite.sum()), int(finite.size))
    return out


def _has_confidence(predictions: Path) -> bool:
    """Whether a predictions file holds confidences (regression models write zeros)."""
    table = read_predictions_csv(predictions)
    likelihood = table.loc[:, table.columns.get_level_values(2) == "likelihood"].to_numpy(np.float64)
    return bool(np.nanmax(likelihood, initial=0.0) > 0)


def _ground_truth(video: Optional[Path], names: Sequence[str]) -> Optional[np.ndarray]:
    truth_file = None if video is None else ground_truth_file(video)
    if truth_file is None:
        return None
    table = read_keypoint_table(truth_file)
    return keypoint_xy(table, names, len(table))


def _fuse_group(store: TrackingStore, row: GroupRow, names: Sequence[str], videos: dict[str, Path],
                folder: Path) -> dict[str, float]:
    runs = [e.run_id for e in row.replicates if e.run_id]
    files_per_run = {run_id: _prediction_files(store, run_id) for run_id in runs}
    common = sorted(set.intersection(*(set(f) for f in files_per_run.values()))) if runs else []
    totals: dict[str, list[float]] = {}
    for name in common:
        local = [store.download(run_id, f"{VIDEO_ARTIFACTS}/{name}", folder / "seeds" / run_id) for run_id in runs]
        table = smooth_single_view(local, names, folder / "eks" / name.replace(".csv", "_eks.csv"),
                                   confidence_weighted=all(_has_confidence(f) for f in local))
        truth = _ground_truth(videos.get(Path(name).stem), names)
        for metric, (total, count) in fused_metrics(table, names, truth).items():
            acc = totals.setdefault(metric, [0.0, 0])
            acc[0], acc[1] = acc[0] + total, acc[1] + count
    metrics = {metric: total / count for metric, (total, count) in totals.items() if count}
    seeds = [store.run(run_id).metrics.get("video_pixel_error") for run_id in runs]
    if seeds and all(v is not None for v in seeds):
        metrics["seeds_video_pixel_error"] = float(np.mean(seeds))
    return metrics


def fuse_groups(tracker: SweepTracker, parent_run_id: str, rows: Sequence[GroupRow], names: Sequence[str],
                videos: dict[str, Path], method: str = "eks") -> dict[str, dict[str, float]]:
    """EKS of each replicated configuration (two or more seeds with video predictions), recorded as
    an ensemble run; returns group -> its metrics. ``videos``: predictions stem -> video file."""
    store = TrackingStore(tracker.tracking_uri)
    results = {}
    for row in rows:
        if len([e for e in row.replicates if e.run_id]) < 2:
            continue
        with tempfile.TemporaryDirectory(prefix="lp-ensemble-") as tmp:
            metrics = _fuse_group(store, row, names, videos, Path(tmp))
            if not metrics:
                logger.warning(f"configuration {row.group}: the seeds share no video predictions; no ensemble")
                continue
            tracker.record_group_run(parent_run_id, ensemble_name(row.group, method, len(row.replicates)),
                                     {TAG_ROLE: "ensemble", TAG_GROUP: row.group}, metrics, Path(tmp) / "eks",
                                     ENSEMBLE_ARTIFACTS)
        results[row.group] = metrics
    return results
