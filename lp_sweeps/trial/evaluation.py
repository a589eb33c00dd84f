"""What a trial measures after training, with the model Lightning Pose keeps (its best checkpoint):

* predictions on every labeled frame, with the per-keypoint pixel errors of each split;
* the video (out-of-distribution) stage: predictions on the first ``video.frames_per_video``
  frames of each held-out video, and their unsupervised metrics (temporal norm, PCA reprojection
  errors where the config defines the PCAs, mean confidence) plus the pixel error where a video has
  ground truth (``<video stem>_ground_truth.csv`` beside it, one row per frame).

The metric names are declared in :mod:`lp_sweeps.study.metrics`. Everything is written under
``<model_dir>/evaluation/`` and listed in :attr:`TrialEvaluation.artifacts` for MLflow.
"""

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from lightning_pose.metrics import METRIC_FILE_SUFFIXES, pixel_error, summarise_pixel_error
from lightning_pose.predict import build_metric_pcas, predict_labeled, predict_video, view_keypoint_names
from lightning_pose.train import TrainResult, videos_to_predict
from lightning_pose.data.video.paths import session_name
from lightning_pose.utils.io import fix_empty_first_row
from lightning_pose.utils.predictions import read_predictions_csv
from lp_sweeps.study import VideoStage

__all__ = [
    "EVALUATION_DIR", "GROUND_TRUTH_SUFFIX", "LABELED_ARTIFACTS", "METRIC_FILE_ENDINGS", "PER_KEYPOINT_FILE",
    "TrialEvaluation", "VIDEO_ARTIFACTS", "evaluate_trial", "ground_truth_file", "keypoint_xy", "read_keypoint_table",
    "video_files_by_stem",
    "video_metrics",
]

logger = logging.getLogger(__name__)

EVALUATION_DIR = "evaluation"
LABELED_ARTIFACTS = "predictions"  # MLflow artifact folders
VIDEO_ARTIFACTS = "predictions/video"
PER_KEYPOINT_FILE = "pixel_error_per_keypoint.csv"  # rows: splits; columns: mean, then one per keypoint
GROUND_TRUTH_SUFFIX = "_ground_truth.csv"
METRIC_FILE_ENDINGS = tuple(f"_{suffix}.csv" for suffix in METRIC_FILE_SUFFIXES.values())  # not predictions
# metric name -> the metric file suffix it averages (lightning_pose.metrics writes them)
_VIDEO_FILE_METRICS = {
    "video_temporal_norm": METRIC_FILE_SUFFIXES["temporal_norm"],
    "video_pca_singleview_error": METRIC_FILE_SUFFIXES["pca_singleview"],
    "video_pca_multiview_error": METRIC_FILE_SUFFIXES["pca_multiview"],
    "video_pixel_error": METRIC_FILE_SUFFIXES["pixel_error"],
}


@dataclasses.dataclass
class TrialEvaluation:
    metrics: dict[str, float]
    artifacts: list[tuple[Path, str]]  # (local folder, MLflow artifact folder)


def _labels_files(cfg: DictConfig) -> list[str]:
    csv = cfg.data.csv_file
    return [str(Path(cfg.data.data_dir, f)) for f in ([csv] if isinstance(csv, str) else list(csv))]


def _views(cfg: DictConfig) -> Optional[list[str]]:
    views = cfg.data.view_names
    return list(views) if views and len(views) > 1 else None


def _per_keypoint_table(prediction_files: Sequence[Path]) -> pd.DataFrame:
    """Mean pixel error per split (rows) and keypoint (columns, ``<view>/<keypoint>`` for views)."""
    tables = []
    for path in prediction_files:
        errors = pd.read_csv(path.with_name(f"{path.stem}_{METRIC_FILE_SUFFIXES['pixel_error']}.csv"), index_col=0)
        table = pd.DataFrame(summarise_pixel_error(errors)).T
        view = path.stem.removeprefix("predictions").lstrip("_")
        tables.append(table.add_prefix(f"{view}/") if view else table)
    table = pd.concat(tables, axis=1)
    if len(tables) > 1:  # one mean over the views
        means = table[[c for c in table.columns if c.endswith("/mean")]]
        table = table.drop(columns=means.columns).assign(mean=means.mean(axis=1))
    table.index.name = "split"
    return table[["mean", *[c for c in table.columns if c != "mean"]]]


def _read_metric_mean(path: Path) -> Optional[tuple[float, int]]:
    """(sum, count) of the finite values of a metric file (its ``set`` column excluded), or None."""
    if not path.is_file():
        return None
    values = pd.read_csv(path, index_col=0).drop(columns=["set"], errors="ignore").to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    return (float(finite.sum()), int(finite.size)) if finite.size else None


def keypoint_xy(table: pd.DataFrame, names: Sequence[str], rows: int) -> Optional[np.ndarray]:
    """``(rows, K, 2)`` x/y of keypoints ``names`` from a 3-level keypoint table; None if one is missing."""
    parts, coords = table.columns.get_level_values(1), table.columns.get_level_values(2)
    columns = [table.loc[:, (parts == name) & (coords == c)] for name in names for c in ("x", "y")]
    if any(column.shape[1] != 1 for column in columns):
        return None
    return np.concatenate([c.to_numpy(np.float64)[:rows] for c in columns], axis=1).reshape(rows, len(names), 2)


def read_keypoint_table(path: Path) -> pd.DataFrame:
    """A keypoint table with the three header rows (scorer, bodyparts, coords)."""
    return fix_empty_first_row(pd.read_csv(path, header=[0, 1, 2], index_col=0))


def ground_truth_file(video: Path) -> Optional[Path]:
    """``<video stem>_ground_truth.csv`` beside the video, if there is one."""
    path = video.with_name(video.stem + GROUND_TRUTH_SUFFIX)
    return path if path.is_file() else None


def _ground_truth_error(video: Path, predictions: Path, names: Sequence[str]) -> None:
    """``<stem>_pixel_error.csv`` against ``<video stem>_ground_truth.csv``, when that file exists."""
    truth_file = ground_truth_file(video)
    if truth_file is None:
        return
    truth = read_keypoint_table(truth_file)
    preds = read_predictions_csv(predictions)
    rows = min(len(truth), len(preds))
    true_xy, pred_xy = keypoint_xy(truth, names, rows), keypoint_xy(preds, names, rows)
    if true_xy is None or pred_xy is None:
        logger.warning(f"{truth_file} does not hold x and y of every keypoint {list(names)}; no video pixel error")
        return
    errors = pd.DataFrame(pixel_error(true_xy, pred_xy), index=preds.index[:rows], columns=list(names))
    errors.to_csv(predictions.with_name(f"{predictions.stem}_{METRIC_FILE_SUFFIXES['pixel_error']}.csv"))


def video_metrics(prediction_files: Sequence[Path]) -> dict[str, float]:
    """The video metrics of predictions files (and the metric files beside them): each the mean
    over every frame, keypoint and video; absent when no file has finite values."""
    sums: dict[str, list[float]] = {}
    confidences = []
    for path in prediction_files:
        for name, suffix in _VIDEO_FILE_METRICS.items():
            found = _read_metric_mean(path.with_name(f"{path.stem}_{suffix}.csv"))
            if found is not None:
                total = sums.setdefault(name, [0.0, 0])
                total[0], total[1] = total[0] + found[0], total[1] + found[1]
        preds = read_predictions_csv(path)
        confidences.append(preds.loc[:, preds.columns.get_level_values(2) == "likelihood"].to_numpy(np.float64))
    metrics = {name: total / count for name, (total, count) in sums.items() if count}
    if confidences:
        metrics["video_confidence"] = float(np.nanmean(np.concatenate([c.ravel() for c in confidences])))
    return metrics


def _sessions(cfg: DictConfig, stage: VideoStage) -> list[tuple[str, list[Path]]]:
    """(output stem, the session's video files in view order) of each video the stage predicts."""
    views = _views(cfg)
    sessions = []
    for video in videos_to_predict(cfg, str(cfg.data.data_dir), stage.directory):
        files = [Path(v) for v in video] if isinstance(video, list) else [Path(video)]
        sessions.append((files[0].stem if views is None else session_name(files[0].stem, views[0]), files))
    return sessions


def video_files_by_stem(cfg: DictConfig, stage: VideoStage) -> dict[str, Path]:
    """The video file of each predictions file the stage writes (``<stem>.csv``; multiview
    ``<session>_<view>.csv``)."""
    views = _views(cfg)
    found = {}
    for stem, files in _sessions(cfg, stage):
        found.update({stem: files[0]} if views is None else {f"{stem}_{v}": f for v, f in zip(views, files)})
    return found


def _video_stage(cfg: DictConfig, result: TrainResult, stage: VideoStage, names: list[str], pcas: dict,
                 out_dir: Path) -> dict[str, float]:
    sessions = _sessions(cfg, stage)
    if not sessions:
        logger.warning("video stage: no videos (set video.directory or eval.test_videos_directory); skipped")
        return {}
    written: list[Path] = []
    for stem, files in sessions:
        video = [str(f) for f in files] if len(files) > 1 else str(files[0])
        outputs = predict_video(result.model, cfg, video, out_dir / f"{stem}.csv", names, pcas,
                                max_frames=stage.frames_per_video)
        for file, output in zip(files, outputs):
            _ground_truth_error(file, output, names)
        written += outputs
    return video_metrics(written)


def evaluate_trial(cfg: DictConfig, result: TrainResult, stage: VideoStage) -> TrialEvaluation:
    """Labeled-frame predictions and, when ``stage`` is on, the video stage (see module doc).
    ``cfg.data.data_dir`` is the (absolute) folder the model was trained from."""
    out = Path(result.model_dir) / EVALUATION_DIR
    out.mkdir(parents=True, exist_ok=True)
    data_module = result.data_module
    names = view_keypoint_names(cfg.data, data_module)
    pcas = build_metric_pcas(cfg.data, cfg.losses, data_module)
    started = time.perf_counter()
    files = predict_labeled(result.model, data_module, names, cfg.model.model_type, out, _labels_files(cfg),
                            _views(cfg), pcas)
    _per_keypoint_table(files).to_csv(out / PER_KEYPOINT_FILE)
    metrics = {"labeled_predictions_s": time.perf_counter() - started}
    artifacts = [(out, LABELED_ARTIFACTS)]
    if stage.enabled:
        started = time.perf_counter()
        video_dir = out / "video"
        video_dir.mkdir(exist_ok=True)
        metrics.update(_video_stage(cfg, result, stage, names, pcas, video_dir))
        metrics["video_stage_s"] = time.perf_counter() - started
    return TrialEvaluation(metrics, artifacts)
