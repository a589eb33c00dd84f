"""Metric functions and the metric CSVs of compute_metrics_single, on hand-computed examples."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lightning_pose.metrics import (
    compute_metrics_single,
    pca_multiview_reprojection_error,
    pca_singleview_reprojection_error,
    pixel_error,
    summarise_pixel_error,
    temporal_norm,
)
from lightning_pose.utils.pca import KeypointPCA
from lightning_pose.utils.predictions import (
    add_split_column,
    predictions_to_dataframe,
    write_predictions_csv,
)

NAN = float("nan")
SQRT2 = math.sqrt(2.0)


class FixedLabels:
    """Stand-in data source: fixed training labels (frames, 2 * keypoints)."""

    def __init__(self, keypoints: list[list[float]]) -> None:
        self.keypoints = torch.tensor(keypoints, dtype=torch.float32)
        self.is_multiview = False
        self.num_views = 1

    def get_training_keypoints(self) -> torch.Tensor:
        return self.keypoints.clone()


def singleview_pca() -> KeypointPCA:
    """3 keypoints, PCA on keypoints 0 and 2, which move on the line (10, 20, 30, 40) + t/2."""
    frames = [[10 + t / 2, 20 + t / 2, t, -t, 30 + t / 2, 40 + t / 2] for t in range(-2, 3)]
    return KeypointPCA(
        "pca_singleview", FixedLabels(frames), components_to_keep=1,
        columns_for_singleview_pca=[0, 2],
    ).fit()


def multiview_pca() -> KeypointPCA:
    """5 keypoints: view 0 = keypoints 0, 1 (2 unmatched), view 1 = 3, 4; heights agree.

    Observations (x_v0, y_v0, x_v1, y_v1) = (x, y, x', y) span a 3-D subspace; the discarded
    direction is (0, 1, 0, -1) / sqrt(2).
    """
    triplets = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (2, 1, 3), (1, 3, 2)]
    frames = []
    for (x0, y0, u0), (x1, y1, u1) in zip(triplets[0::2], triplets[1::2]):
        frames.append([x0, y0, x1, y1, 50, 60, u0, y0, u1, y1])
    return KeypointPCA(
        "pca_multiview", FixedLabels(frames), components_to_keep=3,
        mirrored_column_matches=[[0, 1], [3, 4]],
    ).fit()


def test_pixel_error_two_frames():
    true = np.array([[[0.0, 0.0], [1.0, 1.0]], [[2.0, 2.0], [NAN, NAN]]])
    pred = np.array([[[3.0, 4.0], [1.0, 1.0]], [[2.0, 5.0], [0.0, 0.0]]])
    np.testing.assert_allclose(pixel_error(true, pred), [[5.0, 0.0], [3.0, NAN]])


def test_temporal_norm_shapes_and_values():
    flat = np.array(
        [[0.0, 0.0, 5.0, 5.0], [SQRT2, SQRT2, 5.0, 5.0], [SQRT2, SQRT2 + 3.0, 1.0, 2.0]]
    )
    expected = [[NAN, NAN], [2.0, 0.0], [3.0, 5.0]]
    np.testing.assert_allclose(temporal_norm(flat), expected, rtol=1e-6)
    np.testing.assert_allclose(temporal_norm(flat.reshape(3, 2, 2)), expected, rtol=1e-6)
    out = temporal_norm(torch.tensor(flat, dtype=torch.float32))
    assert out.dtype == np.float64 and out.shape == (3, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_pca_singleview_error_in_and_off_subspace():
    pca = singleview_pca()
    pred = np.array([
        [[13.5, 23.5], [0.0, 0.0], [33.5, 43.5]],  # on the line (t = 7): zero error
        [[13.0, 17.0], [1.0, 1.0], [30.0, 40.0]],  # mean + (3, -3, 0, 0): reprojects to the mean
    ])
    errors = pca_singleview_reprojection_error(pred, pca)
    np.testing.assert_allclose(errors, [[0.0, NAN, 0.0], [3 * SQRT2, NAN, 0.0]], atol=1e-4)


def test_pca_singleview_error_with_centering_is_translation_invariant():
    # frame t: keypoints 0 / 2 at centre (5t, 7t) -/+ (t, 0) -> centred observation (-t, 0, t, 0)
    frames = [[4 * t, 7 * t, 0.0, 0.0, 6 * t, 7 * t] for t in range(5)]
    pca = KeypointPCA(
        "pca_singleview", FixedLabels(frames), components_to_keep=1,
        columns_for_singleview_pca=[0, 2], centering_method="mean",
    ).fit()
    # centred (-3, 1, 3, -1) - mean (-2, 0, 2, 0) = (-1, 1, 1, -1) = (-1, 0, 1, 0) + (0, 1, 0, -1)
    pred = np.array([
        [[97.0, 51.0], [0.0, 0.0], [103.0, 49.0]],
        [[-3.0, 1.0], [9.0, 9.0], [3.0, -1.0]],
    ])
    errors = pca_singleview_reprojection_error(pred, pca)
    np.testing.assert_allclose(errors, [[1.0, NAN, 1.0], [1.0, NAN, 1.0]], atol=1e-4)


def test_pca_multiview_error_per_view_columns():
    pca = multiview_pca()
    pred = np.array([
        # keypoint pair (0, 3): (5, 7 | 9, 3), heights differ by 4 -> residual (0, 2, 0, -2)
        # keypoint pair (1, 4): (1, 2 | 5, 2), in the subspace
        [[5.0, 7.0], [1.0, 2.0], [8.0, 8.0], [9.0, 3.0], [5.0, 2.0]],
        # pair (0, 3) at the origin; pair (1, 4): (4, 1 | 6, 3) -> residual (0, -1, 0, 1)
        [[0.0, 0.0], [4.0, 1.0], [8.0, 8.0], [0.0, 0.0], [6.0, 3.0]],
    ])
    errors = pca_multiview_reprojection_error(pred, pca)
    expected = [[2.0, 0.0, NAN, 2.0, 0.0], [0.0, 1.0, NAN, 0.0, 1.0]]
    np.testing.assert_allclose(errors, expected, atol=1e-4)


def test_pca_errors_check_their_inputs():
    pca = singleview_pca()
    with pytest.raises(ValueError, match="expected a 'pca_multiview' KeypointPCA"):
        pca_multiview_reprojection_error(np.zeros((1, 3, 2)), pca)
    unfitted = KeypointPCA("pca_singleview", FixedLabels([[0.0, 0.0]]))
    with pytest.raises(ValueError, match="not fitted"):
        pca_singleview_reprojection_error(np.zeros((1, 1, 2)), unfitted)
    with pytest.raises(ValueError, match=r"refers to keypoints \[2\]"):
        pca_singleview_reprojection_error(np.zeros((1, 2, 2)), pca)


def write_labels(path, rows: dict[str, list[float]], names: list[str]) -> None:
    """Label CSV with x, y, visible per keypoint; a row of NaN is written as empty cells."""
    columns = pd.MultiIndex.from_product(
        [["lab"], names, ["x", "y", "visible"]], names=["scorer", "bodyparts", "coords"]
    )
    pd.DataFrame(list(rows.values()), index=list(rows), columns=columns).to_csv(path)


def labeled_predictions(tmp_path):
    names = ["nose", "tail"]
    write_labels(tmp_path / "CollectedData.csv", {
        "img0.png": [NAN] * 6,  # all-empty first row (pandas would take it as the index name)
        "img1.png": [0.0, 0.0, 2, 10.0, 10.0, 2],
        "img2.png": [1.0, 1.0, 2, NAN, NAN, 0],
    }, names)
    keypoints = np.array([[5.0, 5.0, 6.0, 6.0], [3.0, 4.0, 10.0, 10.0], [7.0, 9.0, 0.0, 0.0]])
    df = predictions_to_dataframe(
        keypoints, np.full((3, 2), 0.5), names, "heatmap",
        index=["img0.png", "img1.png", "img2.png"],
    )
    write_predictions_csv(add_split_column(df, [1], [2], [0]), tmp_path / "predictions.csv")
    return names


def test_compute_metrics_single_labeled(tmp_path):
    names = labeled_predictions(tmp_path)
    results = compute_metrics_single(
        str(tmp_path / "CollectedData.csv"), str(tmp_path / "predictions.csv"), names
    )
    assert list(results) == ["pixel_error"]
    written = pd.read_csv(tmp_path / "predictions_pixel_error.csv", index_col=0)
    assert list(written.columns) == ["nose", "tail", "set"]
    assert list(written.index) == ["img0.png", "img1.png", "img2.png"]
    assert list(written["set"]) == ["test", "train", "validation"]
    np.testing.assert_allclose(written[names].to_numpy(), [[NAN, NAN], [5.0, 0.0], [10.0, NAN]])
    pd.testing.assert_frame_equal(results["pixel_error"][names], written[names])
    assert not (tmp_path / "predictions_temporal_norm.csv").exists()


def test_compute_metrics_single_labeled_errors(tmp_path):
    names = labeled_predictions(tmp_path)
    with pytest.raises(ValueError, match="needs labels_file"):
        compute_metrics_single(None, tmp_path / "predictions.csv", names)
    write_labels(tmp_path / "other.csv", {"imgX.png": [1.0] * 6}, names)
    with pytest.raises(ValueError, match="do not match the predictions"):
        compute_metrics_single(tmp_path / "other.csv", tmp_path / "predictions.csv", names)
    with pytest.raises(ValueError, match="keypoint_names has 1 names"):
        compute_metrics_single(
            tmp_path / "CollectedData.csv", tmp_path / "predictions.csv", ["nose"]
        )


def test_compute_metrics_single_video_with_pca(tmp_path):
    names = ["a", "b", "c"]
    keypoints = np.array([
        [13.5, 23.5, 0.0, 0.0, 33.5, 43.5],
        [13.0, 17.0, 1.0, 1.0, 30.0, 40.0],
        [13.0, 17.0, 4.0, 5.0, 30.0, 40.0],
    ])
    df = predictions_to_dataframe(keypoints, np.ones((3, 3)), names, "heatmap")
    preds_file = write_predictions_csv(df, tmp_path / "video.csv")
    results = compute_metrics_single(None, preds_file, None, pca_singleview=singleview_pca())
    assert sorted(results) == ["pca_singleview", "temporal_norm"]

    temporal = pd.read_csv(tmp_path / "video_temporal_norm.csv", index_col=0)
    assert list(temporal.columns) == names and list(temporal.index) == [0, 1, 2]
    expected = [[NAN, NAN, NAN], [math.sqrt(0.25 + 42.25), SQRT2, 3.5 * SQRT2], [0.0, 5.0, 0.0]]
    np.testing.assert_allclose(temporal.to_numpy(), expected, rtol=1e-6)

    pca_errors = pd.read_csv(tmp_path / "video_pca_singleview_error.csv", index_col=0)
    expected = [[0.0, NAN, 0.0], [3 * SQRT2, NAN, 0.0], [3 * SQRT2, NAN, 0.0]]
    np.testing.assert_allclose(pca_errors.to_numpy(), expected, atol=1e-4)
    assert not (tmp_path / "video_pixel_error.csv").exists()


def test_compute_metrics_single_multiview_pca_file(tmp_path):
    names = ["p0", "p1", "p2", "q0", "q1"]
    keypoints = np.array([[5.0, 7.0, 1.0, 2.0, 8.0, 8.0, 9.0, 3.0, 5.0, 2.0]])
    df = predictions_to_dataframe(keypoints, np.ones((1, 5)), names, "heatmap")
    preds_file = write_predictions_csv(df, tmp_path / "mirror.csv")
    compute_metrics_single(None, preds_file, names, pca_multiview=multiview_pca())
    written = pd.read_csv(tmp_path / "mirror_pca_multiview_error.csv", index_col=0)
    assert list(written.columns) == names
    np.testing.assert_allclose(written.to_numpy(), [[2.0, 0.0, NAN, 2.0, 0.0]], atol=1e-4)


def test_summarise_pixel_error():
    df = pd.DataFrame(
        {
            "nose": [1.0, 3.0, 2.0, NAN, 100.0],
            "tail": [3.0, NAN, 4.0, NAN, 100.0],
            "set": ["train", "train", "validation", "test", "unused"],
        },
        index=[f"img{i}.png" for i in range(5)],
    )
    summary = summarise_pixel_error(df)
    assert list(summary) == ["train", "validation", "test"]
    assert summary["train"] == pytest.approx({"mean": 7.0 / 3.0, "nose": 2.0, "tail": 3.0})
    assert summary["validation"] == pytest.approx({"mean": 3.0, "nose": 2.0, "tail": 4.0})
    assert all(math.isnan(v) for v in summary["test"].values())
    no_split = summarise_pixel_error(df[["nose"]].iloc[:2])
    assert no_split == {"all": {"mean": 2.0, "nose": 2.0}}
