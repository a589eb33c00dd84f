"""lightning_pose.data.image_check: undecodable images and labels outside their image are found
before training, naming the CSV line; results are cached per file."""

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from omegaconf import OmegaConf

from lightning_pose.data.image_check import check_config_images, check_labeled_images
from lightning_pose.utils.io import parse_label_csv

NAMES = ["nose", "tail"]


def _project(tmp_path: Path, count: int = 4) -> tuple[Path, list[str], np.ndarray]:
    folder = tmp_path / "labeled-data"
    folder.mkdir()
    names = []
    for i in range(count):
        cv2.imwrite(str(folder / f"img{i}.png"), np.full((30, 40), 100 + i, np.uint8))  # 40 wide, 30 high
        names.append(f"labeled-data/img{i}.png")
    keypoints = np.array([[[5.0, 5.0], [38.0, 29.0]]] * count, np.float32)
    return tmp_path, names, keypoints


def test_good_images_pass_and_the_result_is_cached(tmp_path):
    root, names, keypoints = _project(tmp_path)
    cache = tmp_path / "cache.json"
    check_labeled_images(root, names, keypoints, NAMES, "C.csv", cache_file=cache)
    assert sorted(v for v in json.loads(cache.read_text()).values()) == [[30, 40]] * 4
    keypoints[1, 1] = np.nan  # an unlabeled keypoint is never out of bounds
    keypoints[2, 0] = [41.5, 31.0]  # within EDGE_TOLERANCE_PX of the frame
    keypoints[3, 0] = [-7.0, -9.0]  # left the frame at its top left: no size mismatch (the dataset drops it)
    check_labeled_images(root, names, keypoints, NAMES, "C.csv", cache_file=cache)


def test_the_cache_keeps_only_files_that_still_exist_unchanged(tmp_path):
    root, names, keypoints = _project(tmp_path, 3)
    cache = tmp_path / "cache.json"
    check_labeled_images(root, names[:2], keypoints[:2], NAMES, "C.csv", cache_file=cache)
    assert len(json.loads(cache.read_text())) == 2
    (root / names[0]).unlink()
    time.sleep(0.01)
    cv2.imwrite(str(root / names[1]), np.full((20, 40), 7, np.uint8))  # rewritten: its old entry is stale
    check_labeled_images(root, names[2:], keypoints[2:], NAMES, "C.csv", cache_file=cache)  # a new file: saved
    assert sorted(Path(key.split("|")[0]).name for key in json.loads(cache.read_text())) == ["img2.png"]


def test_corrupt_empty_and_mislabeled_frames_are_named(tmp_path):
    root, names, keypoints = _project(tmp_path)
    data = (root / names[1]).read_bytes()
    (root / names[1]).write_bytes(data[: len(data) // 2])  # truncated
    (root / names[2]).write_bytes(b"")
    keypoints[3, 1] = [41.0, 75.5]  # y beyond the 30-pixel-high image
    with pytest.raises(ValueError) as err:
        check_labeled_images(root, names, keypoints, NAMES, "C.csv", cache_file=tmp_path / "cache.json")
    message = str(err.value)
    assert message.startswith("3 labeled frames of 'C.csv' cannot be used: ")
    assert f"line 5 ('labeled-data/img1.png'): '{root / names[1]}' is empty or not a decodable image" in message
    assert "line 6 ('labeled-data/img2.png')" in message
    assert "line 7 ('labeled-data/img3.png'): keypoint 'tail' at x=41, y=75.5 lies beyond the image " \
           "(40 x 30 px, width x height): labels and image do not match" in message


def test_a_rewritten_file_is_checked_again(tmp_path):
    root, names, keypoints = _project(tmp_path, 1)
    cache = tmp_path / "cache.json"
    check_labeled_images(root, names, keypoints, NAMES, "C.csv", cache_file=cache)
    time.sleep(0.01)
    (root / names[0]).write_bytes(b"not a png any more")
    with pytest.raises(ValueError, match="not a decodable image"):
        check_labeled_images(root, names, keypoints, NAMES, "C.csv", cache_file=cache)


def test_the_mirror_mouse_frames_pass(mirror_mouse_dir, tmp_path):
    labels = parse_label_csv(mirror_mouse_dir / "CollectedData.csv")
    check_labeled_images(mirror_mouse_dir, labels.image_names, labels.keypoints, labels.keypoint_names,
                         "CollectedData.csv", cache_file=tmp_path / "cache.json")
    cfg = OmegaConf.create({"data_dir": str(mirror_mouse_dir), "csv_file": "CollectedData.csv"})
    assert check_config_images(cfg, cache_file=tmp_path / "cache.json") == 90
