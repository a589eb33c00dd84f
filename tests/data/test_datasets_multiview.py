"""MultiviewHeatmapDataset on the two-view split of the mirror-mouse example."""

import shutil

import numpy as np
import pytest
import torch

from lightning_pose.data.datasets import MultiviewHeatmapDataset
from lightning_pose.utils.io import parse_label_csv


def make_dataset(split, **kwargs) -> MultiviewHeatmapDataset:
    return MultiviewHeatmapDataset(
        split.root, split.csv_paths, split.view_names, 128, 128, resize=True, **kwargs
    )


def test_split_fixture_matches_original_labels(mirror_mouse_split, mirror_mouse_dir):
    original = parse_label_csv(mirror_mouse_dir / "CollectedData.csv")
    bot = parse_label_csv(mirror_mouse_split.root / "bot.csv")
    assert bot.keypoint_names == ["paw1LH", "paw2LF", "paw3RF", "paw4RH", "tailBase", "tailMid", "nose"]
    assert bot.image_names[0] == "labeled-data/example_bot/img01.png"
    expected = original.keypoints[:, 8:15].copy()
    expected[:, :, 1] -= 168
    np.testing.assert_array_equal(bot.keypoints, expected)


def test_multiview_item(mirror_mouse_split):
    ds = make_dataset(mirror_mouse_split, num_keypoints=7)
    assert len(ds) == 90 and ds.num_views == 2 and ds.num_keypoints == 14 and ds.num_targets == 28
    assert ds.keypoint_names["top"] == ds.keypoint_names["bot"]
    assert ds.keypoints.shape == (90, 14, 2) and len(ds.image_names) == 90
    ex = ds[0]
    assert ex["images"].shape == (2, 3, 128, 128)
    assert ex["keypoints"].shape == (28,) and ex["heatmaps"].shape == (14, 32, 32)
    assert ex["bbox"].tolist() == [0.0, 0.0, 168.0, 396.0, 0.0, 0.0, 238.0, 396.0]
    assert ex["num_views"] == 2 and ex["concat_order"] == ["top", "bot"] and ex["view_names"] == ["top", "bot"]
    assert ex["keypoints_3d"].shape == (1,) and torch.equal(ex["intrinsic_matrix"], torch.eye(3)[None])
    assert ex["extrinsic_matrix"].shape == (1, 3, 4) and ex["distortions"].shape == (1, 5)
    assert "visibility" not in ex
    # bottom-view keypoints are in the bottom view's resized pixels
    scale = torch.tensor([128 / 396, 128 / 238])
    assert torch.allclose(ex["keypoints"].view(14, 2)[7:], ds.keypoints[0, 7:] * scale, equal_nan=True)


def test_multiview_context_and_collate(mirror_mouse_split):
    ds = make_dataset(mirror_mouse_split, do_context=True)
    assert ds[0]["images"].shape == (2, 5, 3, 128, 128)
    batch = next(iter(torch.utils.data.DataLoader(make_dataset(mirror_mouse_split), batch_size=2)))
    assert batch["images"].shape == (2, 2, 3, 128, 128) and batch["num_views"].tolist() == [2, 2]
    assert batch["bbox"].shape == (2, 8) and batch["heatmaps"].shape == (2, 14, 32, 32)


def test_views_must_match(mirror_mouse_split, tmp_path):
    split = mirror_mouse_split
    with pytest.raises(ValueError, match=r"2 view names \['top', 'bot'\] but 1 csv files"):
        MultiviewHeatmapDataset(split.root, split.csv_paths[:1], split.view_names, 128, 128)
    with pytest.raises(NotImplementedError, match="calibration.toml"):
        make_dataset(split, camera_params_path="calibration.toml")
    lines = (split.root / "bot.csv").read_text().splitlines()
    short = tmp_path / "bot_short.csv"
    short.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(ValueError, match=r"row count.*has 90 rows.*bot_short\.csv.*has 89"):
        MultiviewHeatmapDataset(split.root, ["top.csv", short], split.view_names, 128, 128)
    renamed = tmp_path / "bot_renamed.csv"
    renamed.write_text("\n".join([lines[0], lines[1].replace("nose", "snout"), *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match=r"keypoint names differ between views 'top' and 'bot' at position 6"):
        MultiviewHeatmapDataset(split.root, ["top.csv", renamed], split.view_names, 128, 128)
    shuffled = tmp_path / "bot_shuffled.csv"
    shuffled.write_text("\n".join(lines[:3] + [lines[4], lines[3]] + lines[5:]) + "\n")
    with pytest.raises(ValueError, match=r"image file names differ at row 0"):
        MultiviewHeatmapDataset(split.root, ["top.csv", shuffled], split.view_names, 128, 128)


def test_multiview_missing_view_image(mirror_mouse_split, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(mirror_mouse_split.root, root)
    (root / "labeled-data" / "example_bot" / "img07.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"bot\.csv.*line 10: 'labeled-data/example_bot/img07\.png'"):
        MultiviewHeatmapDataset(root, ["top.csv", "bot.csv"], ["top", "bot"], 128, 128)
