"""lp_sweeps.trial.evaluation: the video stage's metrics, from hand-made prediction files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lightning_pose.data.demo import keypoint_table
from lightning_pose.metrics import compute_metrics_single
from lightning_pose.utils.predictions import predictions_to_dataframe, write_predictions_csv
from lp_sweeps.trial.evaluation import _ground_truth_error, ground_truth_file, keypoint_xy, video_metrics

NAMES = ["nose", "tail"]


def _predictions(path: Path, xy: np.ndarray, confidence: np.ndarray) -> Path:
    df = predictions_to_dataframe(xy.reshape(len(xy), -1), confidence, NAMES, "heatmap")
    written = write_predictions_csv(df, path)
    compute_metrics_single(None, written, NAMES)  # <stem>_temporal_norm.csv
    return written


def test_video_metrics_average_every_frame_keypoint_and_video(tmp_path: Path):
    # video a: nose moves 3-4-5 triangles (5 px a frame), tail stays; video b: both move 1 px a frame
    a = np.array([[[0, 0], [10, 10]], [[3, 4], [10, 10]], [[6, 8], [10, 10]]], dtype=float)
    b = np.array([[[0, 0], [0, 0]], [[1, 0], [0, 1]]], dtype=float)
    files = [_predictions(tmp_path / "a.csv", a, np.full((3, 2), 0.5)),
             _predictions(tmp_path / "b.csv", b, np.full((2, 2), 1.0))]
    metrics = video_metrics(files)
    # temporal norm: frames after the first: a -> 5, 0, 5, 0; b -> 1, 1: (5 + 5 + 1 + 1) / 6
    assert metrics["video_temporal_norm"] == pytest.approx(12 / 6)
    assert metrics["video_confidence"] == pytest.approx((6 * 0.5 + 4 * 1.0) / 10)
    assert set(metrics) == {"video_temporal_norm", "video_confidence"}  # no PCA, no ground truth


def test_ground_truth_beside_a_video_gives_its_pixel_error(tmp_path: Path):
    video = tmp_path / "session0.mp4"
    video.write_bytes(b"")  # only its name matters here
    assert ground_truth_file(video) is None
    truth = np.array([[[0, 0], [10, 10]], [[3, 4], [10, 10]], [[6, 8], [10, 10]], [[9, 9], [9, 9]]], dtype=float)
    keypoint_table(truth, range(4), NAMES).to_csv(tmp_path / "session0_ground_truth.csv")
    predicted = truth[:3] + np.array([[3.0, 4.0], [0.0, 0.0]])  # the nose 5 px off in every frame
    predictions = _predictions(tmp_path / "session0.csv", predicted, np.ones((3, 2)))
    _ground_truth_error(video, predictions, NAMES)
    errors = pd.read_csv(tmp_path / "session0_pixel_error.csv", index_col=0)
    assert errors.shape == (3, 2) and errors["nose"].tolist() == [5.0, 5.0, 5.0] and errors["tail"].tolist() == [0.0] * 3
    assert video_metrics([predictions])["video_pixel_error"] == pytest.approx(2.5)


def test_keypoint_xy_reads_the_named_keypoints_in_order(tmp_path: Path):
    xy = np.arange(12, dtype=float).reshape(3, 2, 2)
    table = keypoint_table(xy, range(3), NAMES)
    assert np.array_equal(keypoint_xy(table, ["tail", "nose"], 2), xy[:2, ::-1])
    assert keypoint_xy(table, ["paw"], 3) is None
