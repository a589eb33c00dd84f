"""The synthetic demo project: layout, label files, ground truth, rendering and configs."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from lightning_pose.config import load_config, validate_config
from lightning_pose.data.demo import generate_demo_data, main
from lightning_pose.data.demo_scene import KEYPOINT_NAMES, project, simulate_pose_3d
from lightning_pose.data.video import check_multiview_video_paths, check_video_paths, count_frames
from lightning_pose.utils.io import parse_label_csv

HEIGHT, WIDTH, FRAMES, LABELED = 96, 112, 60, 20


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_single")
    generate_demo_data(
        out, num_frames_labeled=LABELED, num_videos=2, frames_per_video=FRAMES,
        image_size=(HEIGHT, WIDTH), seed=4,
    )
    return out


@pytest.fixture(scope="module")
def multi(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_multi")
    generate_demo_data(
        out, num_frames_labeled=LABELED, num_videos=2, frames_per_video=FRAMES,
        image_size=(HEIGHT, WIDTH), seed=5, two_views=True,
    )
    return out


def _frame_index(image_path: str) -> int:
    return int(re.search(r"img(\d+)\.png$", image_path).group(1))


def _read_video(path: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    cap.release()
    return np.asarray(frames, dtype=np.float64)  # RGB


def test_single_view_layout(single):
    for name in ("config.yaml", "CollectedData.csv"):
        assert (single / name).is_file()
    assert check_video_paths(single / "videos") == [
        str(single / "videos" / "session0.mp4"), str(single / "videos" / "session1.mp4")
    ]
    assert count_frames(single / "videos" / "session1.mp4") == FRAMES
    labels = parse_label_csv(single / "CollectedData.csv")
    for image in labels.image_names:
        n = _frame_index(image)
        assert 2 <= n <= FRAMES - 3
        for offset in (-2, -1, 0, 1, 2):  # the labeled frame and its context frames
            context = re.sub(r"\d+(?=\.png$)", f"{n + offset:04d}", image)
            assert (single / context).is_file(), context


def test_label_csv(single):
    labels = parse_label_csv(single / "CollectedData.csv")
    assert labels.keypoint_names == list(KEYPOINT_NAMES)
    assert labels.keypoints.shape == (LABELED, 8, 2) and labels.visibility is None
    assert {name.split("/")[1] for name in labels.image_names} == {"session0", "session1"}
    missing = np.isnan(labels.keypoints[..., 0])
    assert 0 < missing.sum() < 0.15 * missing.size
    kp = labels.keypoints[~missing]
    assert (kp[:, 0] >= 0).all() and (kp[:, 0] < WIDTH).all()
    assert (kp[:, 1] >= 0).all() and (kp[:, 1] < HEIGHT).all()


def test_labels_are_sampled_from_the_video_ground_truth(single):
    labels = parse_label_csv(single / "CollectedData.csv")
    truth = {
        s: parse_label_csv(single / "videos" / f"session{s}_ground_truth.csv").keypoints
        for s in (0, 1)
    }
    for image, kp in zip(labels.image_names, labels.keypoints):
        expected = truth[int(image.split("/")[1][-1])][_frame_index(image)]
        valid = ~np.isnan(kp)
        np.testing.assert_allclose(kp[valid], expected[valid], atol=1e-3)


def test_ground_truth_is_smooth_and_low_dimensional(single):
    truth = parse_label_csv(single / "videos" / "session0_ground_truth.csv")
    assert truth.image_names[:3] == ["0", "1", "2"] and truth.keypoints.shape == (FRAMES, 8, 2)
    step = np.linalg.norm(np.diff(truth.keypoints, axis=0), axis=-1)
    assert step.max() < 0.05 * min(HEIGHT, WIDTH)
    flat = truth.keypoints.reshape(FRAMES, -1)
    power = np.linalg.svd(flat - flat.mean(0), compute_uv=False) ** 2
    explained = np.cumsum(power) / power.sum()
    assert explained[3] > 0.97  # 4 of 16 dimensions


def test_trajectories_stay_inside_the_frame_for_long_sessions():
    points = simulate_pose_3d(2000, 64, 80, np.random.default_rng(0))
    top, bottom = project(points, "top", 64), project(points, "bottom", 64)
    for xy in (top, bottom):
        assert xy[..., 0].min() > 0 and xy[..., 0].max() < 80
        assert xy[..., 1].min() > 0 and xy[..., 1].max() < 64


def test_video_shows_the_figure_where_the_ground_truth_says(single):
    frames = _read_video(single / "videos" / "session0.mp4")
    truth = parse_label_csv(single / "videos" / "session0_ground_truth.csv").keypoints
    t = np.arange(len(frames))
    nose = np.round(truth[:, 0]).astype(int)
    nose_rgb = frames[t, nose[:, 1], nose[:, 0]]
    corner_rgb = frames[:, 2, 2]  # the figure never reaches the corners
    assert nose_rgb[:, 0].min() > 180 and (nose_rgb[:, 0] - nose_rgb[:, 1]).min() > 60  # pink
    assert corner_rgb[:, 0].max() < 140
    body = np.round(truth[:, 2]).astype(int)  # tail base sits on the light body
    assert frames[t, body[:, 1], body[:, 0]].mean(axis=1).min() > 150


def test_labeled_png_matches_its_keypoints(single):
    labels = parse_label_csv(single / "CollectedData.csv")
    image = cv2.imread(str(single / labels.image_names[0]))[..., ::-1].astype(np.float64)
    x, y = np.round(labels.keypoints[0, 0]).astype(int)
    assert image[y, x, 0] > 200 and image[y, x, 0] - image[y, x, 1] > 60


def test_single_view_config_loads_and_validates(single):
    cfg = load_config(single / "config.yaml")
    validate_config(cfg)
    assert Path(cfg.data.data_dir) == single and Path(cfg.data.data_dir).is_absolute()
    assert Path(cfg.data.video_dir) == single / "videos"
    assert cfg.data.num_keypoints == 8 and list(cfg.data.keypoint_names) == list(KEYPOINT_NAMES)
    assert list(cfg.data.columns_for_singleview_pca) == list(range(8))
    assert (cfg.data.image_resize_dims.height, cfg.data.image_resize_dims.width) == (128, 128)
    assert cfg.model.backbone == "resnet18" and cfg.model.backbone_pretrained is False
    assert cfg.model.model_type == "heatmap" and list(cfg.model.losses_to_use) == []
    assert cfg.training.train_batch_size == 8


def test_two_views_layout_and_labels(multi):
    videos = check_multiview_video_paths(multi / "videos", ["top", "bottom"])
    assert [Path(p).name for p in videos["bottom"]] == ["session0_bottom.mp4", "session1_bottom.mp4"]
    top = parse_label_csv(multi / "CollectedData_top.csv")
    bottom = parse_label_csv(multi / "CollectedData_bottom.csv")
    assert [Path(p).name for p in top.image_names] == [Path(p).name for p in bottom.image_names]
    assert top.image_names[0].startswith("labeled-data/session0_top/")
    assert all((multi / p).is_file() for p in top.image_names + bottom.image_names)
    assert top.keypoint_names == bottom.keypoint_names == list(KEYPOINT_NAMES)
    assert [Path(p).name for p in check_video_paths(multi / "videos_top")] == [
        "session0_top.mp4", "session1_top.mp4"
    ]


def test_two_views_are_projections_of_one_3d_pose(multi):
    top = parse_label_csv(multi / "videos" / "session1_top_ground_truth.csv").keypoints
    bottom = parse_label_csv(multi / "videos" / "session1_bottom_ground_truth.csv").keypoints
    for k in range(8):
        joint = np.concatenate([top[:, k], bottom[:, k]], axis=1)  # (T, 4)
        singular = np.linalg.svd(joint - joint.mean(0), compute_uv=False)
        assert singular[3] < 1e-3 * singular[0]  # rank 3: what multiview PCA expects


def test_multiview_configs_validate(multi):
    cfg = load_config(multi / "config_multiview.yaml")
    with pytest.warns(UserWarning, match="heatmap_multiview_transformer"):
        validate_config(cfg)
    assert list(cfg.data.view_names) == ["top", "bottom"]
    assert list(cfg.data.csv_file) == ["CollectedData_top.csv", "CollectedData_bottom.csv"]
    assert list(cfg.data.mirrored_column_matches) == list(range(8))
    top_only = load_config(multi / "config.yaml")
    validate_config(top_only)
    assert top_only.data.csv_file == "CollectedData_top.csv"
    assert Path(top_only.data.video_dir) == multi / "videos_top"


def test_errors_and_cli(tmp_path, capsys):
    with pytest.raises(ValueError, match="cannot label 50 frames"):
        generate_demo_data(tmp_path / "x", num_frames_labeled=50, num_videos=1, frames_per_video=20)
    with pytest.raises(ValueError, match="too small"):
        generate_demo_data(tmp_path / "y", image_size=(20, 40), num_frames_labeled=2)
    args = [str(tmp_path / "cli"), "--num-frames-labeled", "4", "--num-videos", "1",
            "--frames-per-video", "12", "--height", "64", "--width", "64"]
    assert main(args) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str(tmp_path / "cli" / "config.yaml")
    validate_config(load_config(printed))
