"""Reading a project: the real mirror-mouse example (single view) and its two-view split."""

from pathlib import Path

import pytest

from lp_sweeps.starter import StarterError, inspect_project
from lp_sweeps.starter.config_file import project_config, resize_dims

MIRROR_MOUSE_KEYPOINTS = [
    "paw1LH_top", "paw2LF_top", "paw3RF_top", "paw4RH_top", "tailBase_top", "tailMid_top", "nose_top", "obs_top",
    "paw1LH_bot", "paw2LF_bot", "paw3RF_bot", "paw4RH_bot", "tailBase_bot", "tailMid_bot", "nose_bot",
    "obsHigh_bot", "obsLow_bot",
]


def test_mirror_mouse_project_is_read_without_writing(mirror_mouse_dir: Path):
    before = sorted(p.name for p in mirror_mouse_dir.iterdir())
    project = inspect_project(mirror_mouse_dir)
    assert project.keypoint_names == MIRROR_MOUSE_KEYPOINTS and len(project.keypoint_names) == 17
    assert not project.multiview and project.view_names is None and project.csv_files == ["CollectedData.csv"]
    assert project.num_labeled == 90  # 93 images, 90 labeled
    assert project.image_size == (406, 396)  # height, width
    assert project.videos == {"test_vid.mp4": 994}
    assert project.config is None and project.video_dir == mirror_mouse_dir.resolve() / "videos"
    assert sorted(p.name for p in mirror_mouse_dir.iterdir()) == before


def test_two_views_are_found_from_their_csv_files(mirror_mouse_split):
    project = inspect_project(mirror_mouse_split.root)
    assert project.multiview and project.view_names == ["bot", "top"]  # one view per CSV, sorted
    assert project.csv_files == ["bot.csv", "top.csv"]
    assert project.keypoint_names == ["paw1LH", "paw2LF", "paw3RF", "paw4RH", "tailBase", "tailMid", "nose"]
    assert [v.image_size for v in project.views] == [(238, 396), (168, 396)]  # rows 168-405 and 0-167
    assert project.image_size == (238, 396) and project.num_labeled == 90
    assert project.videos == {"example_bot.mp4": 60, "example_top.mp4": 60}
    config = project_config(project)
    assert config["data"]["view_names"] == ["bot", "top"] and config["data"]["csv_file"] == ["bot.csv", "top.csv"]
    assert config["data"]["image_resize_dims"] == {"height": 128, "width": 384}
    assert config["data"]["num_keypoints"] == 7


def test_resize_dims_are_multiples_of_128_not_above_the_image():
    assert resize_dims(406, 396, 384) == (384, 384)
    assert resize_dims(406, 396, 256) == (256, 256)
    assert resize_dims(406, 396, 128) == (128, 128)
    assert resize_dims(238, 396, 384) == (128, 384)
    assert resize_dims(1080, 1920, 384) == (384, 384)
    assert resize_dims(100, 90, 384) == (128, 128)  # LP's smallest input


def test_a_folder_without_labels_is_named_in_the_error(tmp_path: Path):
    with pytest.raises(StarterError, match=f"DATA_DIR '{tmp_path}': no label file"):
        inspect_project(tmp_path)
    with pytest.raises(StarterError, match="no such folder"):
        inspect_project(tmp_path / "absent")


def test_views_with_different_keypoints_are_refused(mirror_mouse_split, tmp_path: Path):
    (tmp_path / "labeled-data").symlink_to(mirror_mouse_split.root / "labeled-data")
    top = (mirror_mouse_split.root / "top.csv").read_text().splitlines()
    (tmp_path / "top.csv").write_text("\n".join(top) + "\n")
    (tmp_path / "bot.csv").write_text("\n".join(top).replace("nose", "snout") + "\n")
    with pytest.raises(StarterError, match=r"'top.csv': keypoints .* differ from those of 'bot.csv'"):
        inspect_project(tmp_path)

