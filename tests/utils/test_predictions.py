"""Prediction tables: layout, split column, context alignment, stacking, views, CSV round trip."""

import numpy as np
import pandas as pd
import pytest
import torch

from lightning_pose.utils.predictions import (
    SET_COLUMN,
    add_split_column,
    align_context_predictions,
    context_row_index,
    predictions_to_dataframe,
    read_predictions_csv,
    split_views,
    stack_predictions,
    write_predictions_csv,
)

NAMES = ["nose", "tail"]
KEYPOINTS = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
CONFIDENCES = np.array([[0.9, 0.8], [0.7, 0.6]])


def test_dataframe_layout_and_values():
    df = predictions_to_dataframe(torch.tensor(KEYPOINTS), CONFIDENCES, NAMES, "heatmap")
    assert df.columns.names == ["scorer", "bodyparts", "coords"]
    assert list(df.columns) == [
        ("heatmap_tracker", "nose", "x"),
        ("heatmap_tracker", "nose", "y"),
        ("heatmap_tracker", "nose", "likelihood"),
        ("heatmap_tracker", "tail", "x"),
        ("heatmap_tracker", "tail", "y"),
        ("heatmap_tracker", "tail", "likelihood"),
    ]
    expected = [[1.0, 2.0, 0.9, 3.0, 4.0, 0.8], [5.0, 6.0, 0.7, 7.0, 8.0, 0.6]]
    np.testing.assert_array_equal(df.to_numpy(), expected)
    assert df.to_numpy().dtype == np.float64
    assert list(df.index) == [0, 1]


def test_dataframe_index_and_shape_errors():
    df = predictions_to_dataframe(
        KEYPOINTS, CONFIDENCES, NAMES, "regression", index=["a.png", "b.png"]
    )
    assert list(df.index) == ["a.png", "b.png"]
    assert df.columns[0][0] == "regression_tracker"
    with pytest.raises(ValueError, match="keypoint_names has 1 names"):
        predictions_to_dataframe(KEYPOINTS, CONFIDENCES, ["nose"], "heatmap")
    with pytest.raises(ValueError, match="keypoints have shape"):
        predictions_to_dataframe(KEYPOINTS[:, :3], CONFIDENCES, NAMES, "heatmap")
    with pytest.raises(ValueError, match="index has 3 entries"):
        predictions_to_dataframe(KEYPOINTS, CONFIDENCES, NAMES, "heatmap", index=["a", "b", "c"])


def test_split_column():
    df = predictions_to_dataframe(np.zeros((5, 4)), np.zeros((5, 2)), NAMES, "heatmap")
    out = add_split_column(df, train_idx=[0, 3], val_idx=np.array([1]), test_idx=[4])
    assert out.columns[-1] == SET_COLUMN
    assert list(out[SET_COLUMN]) == ["train", "validation", "unused", "train", "test"]
    assert SET_COLUMN not in df.columns  # the input is left alone
    with pytest.raises(ValueError, match=r"test indices \[5\] are outside \[0, 5\)"):
        add_split_column(df, [0], [1], [5])


# six-frame video, one keypoint: output row i holds x = 10 i, y = 10 i + 1, confidence i / 10
ROWS_KP = np.array([[10.0 * i, 10.0 * i + 1] for i in range(8)])
ROWS_CONF = np.array([[i / 10] for i in range(8)])


def test_context_alignment_full_length():
    # 8 output rows for a 6-frame video: rows 6, 7 dropped, then frames 0-2 <- row 0,
    # frame 3 <- row 1, frames 4-5 <- the third-to-last shifted row (row 1)
    kp, conf = align_context_predictions(ROWS_KP, ROWS_CONF, num_frames=6, context=True)
    expected_kp = [[0, 1], [0, 1], [0, 1], [10, 11], [10, 11], [10, 11]]
    np.testing.assert_array_equal(kp, expected_kp)
    np.testing.assert_array_equal(conf, [[0.0], [0.0], [0.0], [0.1], [0.1], [0.1]])
    np.testing.assert_array_equal(context_row_index(6, 6), [0, 0, 0, 1, 1, 1])


def test_context_alignment_short_output_is_padded_with_row_zero():
    # 4 rows for 6 frames: shifted rows (0, 0, 0, 1), then two copies of row 0
    kp, conf = align_context_predictions(ROWS_KP[:4], ROWS_CONF[:4], num_frames=6)
    np.testing.assert_array_equal(kp, [[0, 1], [0, 1], [0, 1], [10, 11], [0, 1], [0, 1]])
    np.testing.assert_array_equal(conf, [[0.0], [0.0], [0.0], [0.1], [0.0], [0.0]])


def test_no_context_only_truncates():
    kp, conf = align_context_predictions(ROWS_KP, ROWS_CONF, num_frames=6, context=False)
    np.testing.assert_array_equal(kp, ROWS_KP[:6])
    np.testing.assert_array_equal(conf, ROWS_CONF[:6])
    kp, _ = align_context_predictions(ROWS_KP[:4], ROWS_CONF[:4], num_frames=6, context=False)
    assert kp.shape == (4, 2)


def test_context_alignment_errors():
    with pytest.raises(ValueError, match="needs at least 3 frames"):
        context_row_index(2, 2)
    with pytest.raises(ValueError, match="num_frames must be positive"):
        align_context_predictions(ROWS_KP, ROWS_CONF, num_frames=0)


def test_stack_predictions():
    batches = [
        (torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[0.5, 0.25]])),
        (torch.tensor([[5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]], dtype=torch.float16),
         torch.tensor([[0.75, 1.0], [0.0, 0.5]], dtype=torch.float16)),
    ]
    kp, conf = stack_predictions(batches)
    assert kp.dtype == np.float32 and conf.dtype == np.float32
    np.testing.assert_array_equal(kp, np.arange(1.0, 13.0).reshape(3, 4))
    np.testing.assert_array_equal(conf, [[0.5, 0.25], [0.75, 1.0], [0.0, 0.5]])
    with pytest.raises(ValueError, match="no prediction batches"):
        stack_predictions([])


def test_split_views_arrays_and_tables():
    kp = np.arange(16.0).reshape(2, 8)  # 2 views x 2 keypoints x (x, y)
    view0, view1 = split_views(kp, 2)
    np.testing.assert_array_equal(view0, [[0, 1, 2, 3], [8, 9, 10, 11]])
    np.testing.assert_array_equal(view1, [[4, 5, 6, 7], [12, 13, 14, 15]])
    conf = np.array([[0.1, 0.2, 0.3, 0.4]])
    np.testing.assert_array_equal(split_views(conf, 2)[1], [[0.3, 0.4]])

    names = ["a_top", "b_top", "a_side", "b_side"]
    df = predictions_to_dataframe(kp, np.ones((2, 4)), names, "heatmap_multiview_transformer")
    df = add_split_column(df, [0], [1], [])
    top, side = split_views(df, 2)
    assert list(side.columns.get_level_values(1)[:-1:3]) == ["a_side", "b_side"]
    np.testing.assert_array_equal(side.iloc[:, :-1].to_numpy()[0], [4, 5, 1, 6, 7, 1])
    assert list(top[SET_COLUMN]) == ["train", "validation"]
    with pytest.raises(ValueError, match="cannot be split into 3 views"):
        split_views(kp, 3)


def test_csv_round_trip_labeled(tmp_path):
    df = predictions_to_dataframe(
        KEYPOINTS, CONFIDENCES, NAMES, "heatmap",
        index=["labeled-data/a/img0.png", "labeled-data/a/img1.png"],
    )
    df = add_split_column(df, [1], [0], [])
    path = write_predictions_csv(df, tmp_path / "sub" / "predictions.csv")
    assert path.read_text().splitlines()[:3] == [
        "scorer,heatmap_tracker,heatmap_tracker,heatmap_tracker,heatmap_tracker,heatmap_tracker,"
        "heatmap_tracker,set",
        "bodyparts,nose,nose,nose,tail,tail,tail,",
        "coords,x,y,likelihood,x,y,likelihood,",
    ]
    back = read_predictions_csv(path)
    pd.testing.assert_frame_equal(back, df)


def test_csv_round_trip_video(tmp_path):
    df = predictions_to_dataframe(KEYPOINTS, CONFIDENCES, NAMES, "heatmap_mhcrnn")
    back = read_predictions_csv(write_predictions_csv(df, tmp_path / "video.csv"))
    pd.testing.assert_frame_equal(back, df)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_predictions_csv(tmp_path / "missing.csv")
