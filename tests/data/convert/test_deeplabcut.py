"""DeepLabCut project folders: both label file types, both row-index styles, exact values, and
every refused case naming the user's file (with the source left untouched, nothing written)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lightning_pose.config import load_config, validate_config
from lightning_pose.data.convert import ConversionError, convert_dataset
from lightning_pose.utils.io import check_image_files_exist, parse_label_csv
from tests.data.convert.sources import (
    BODYPARTS,
    FRAME_SIZE,
    SCORER,
    assert_same_labels,
    dlc_table,
    read_lp_labels,
    tree_digest,
    write_dlc_project,
    write_dlc_table,
)

LABEL_CASES = [("csv", "path"), ("csv", "levels"), ("h5", "path"), ("h5", "levels")]


@pytest.mark.parametrize("file_format, index_style", LABEL_CASES, ids=["-".join(c) for c in LABEL_CASES])
def test_labels_round_trip_exactly(tmp_path, file_format, index_style):
    written = write_dlc_project(tmp_path / "dlc", formats=(file_format,), index_styles=(index_style,))
    before = tree_digest(written.root)
    result = convert_dataset(written.root, tmp_path / "lp")
    assert result.format == "deeplabcut" and result.num_frames == 6
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", written)
    assert tree_digest(written.root) == before


@pytest.mark.parametrize("file_format", ["csv", "h5"])
def test_one_labeled_frame_with_the_three_level_index(tmp_path, file_format):
    """A folder with a single labeled row: nothing repeats in the index to give its style away."""
    written = write_dlc_project(tmp_path / "dlc", formats=(file_format,), index_styles=("levels",), frames_per_video=1)
    convert_dataset(written.root, tmp_path / "lp")
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", written)


def test_project_layout_images_videos_and_config(tmp_path):
    written = write_dlc_project(tmp_path / "dlc", formats=("csv", "h5"), index_styles=("levels", "path"))
    lp_dir = tmp_path / "lp"
    result = convert_dataset(written.root, lp_dir)
    assert sorted(p.name for p in lp_dir.iterdir()) == ["CollectedData.csv", "config.yaml", "labeled-data", "videos"]
    assert_same_labels(lp_dir / "CollectedData.csv", written)
    # every extracted frame is copied byte for byte (labeled ones and the 4 unlabeled ones per video)
    source_images = sorted(p.relative_to(written.root) for p in written.root.glob("labeled-data/*/*.png"))
    assert sorted(p.relative_to(lp_dir) for p in lp_dir.glob("labeled-data/*/*") if p.is_file()) == source_images
    assert len(source_images) == 20
    for rel in source_images:
        assert (lp_dir / rel).read_bytes() == (written.root / rel).read_bytes()
    assert sorted(p.name for p in (lp_dir / "videos").iterdir()) == ["vid1.mp4", "vid2.mp4"]
    assert (lp_dir / "videos" / "vid2.mp4").read_bytes() == (written.root / "videos" / "vid2.mp4").read_bytes()
    # the config loads and validates as it is, and says what the project holds
    cfg = load_config(result.config_path)
    validate_config(cfg)
    assert cfg.data.data_dir == str(lp_dir.resolve()) and cfg.data.video_dir == str(lp_dir.resolve() / "videos")
    assert cfg.data.csv_file == "CollectedData.csv"
    assert cfg.data.num_keypoints == 4 and list(cfg.data.keypoint_names) == BODYPARTS
    assert (cfg.data.image_orig_dims.height, cfg.data.image_orig_dims.width) == FRAME_SIZE
    assert (cfg.data.image_resize_dims.height, cfg.data.image_resize_dims.width) == (128, 128)
    assert cfg.eval.predict_vids_after_training is True
    # the project's own label reader accepts the CSV and finds every image
    parsed = parse_label_csv(lp_dir / "CollectedData.csv")
    assert parsed.keypoint_names == BODYPARTS and len(parsed.image_names) == 12
    check_image_files_exist(lp_dir, parsed.image_names, lp_dir / "CollectedData.csv")


def test_bodypart_order_follows_config(tmp_path):
    written = write_dlc_project(tmp_path / "dlc", formats=("csv",), index_styles=("path",))
    config = yaml.safe_load((written.root / "config.yaml").read_text())
    config["bodyparts"] = BODYPARTS[::-1]
    (written.root / "config.yaml").write_text(yaml.safe_dump(config))
    convert_dataset(written.root, tmp_path / "lp")
    names, got = read_lp_labels(tmp_path / "lp" / "CollectedData.csv")
    assert names == BODYPARTS[::-1] and list(got) == list(written.labels)
    for image, expected in written.labels.items():
        assert np.array_equal(got[image], expected[::-1], equal_nan=True)


def test_windows_separators_in_the_image_path(tmp_path):
    written = write_dlc_project(tmp_path / "dlc", formats=("csv",), index_styles=("path",))
    label_file = written.root / "labeled-data" / "vid1" / f"CollectedData_{SCORER}.csv"
    label_file.write_text(label_file.read_text().replace("labeled-data/vid1/", "labeled-data\\vid1\\"))
    convert_dataset(written.root, tmp_path / "lp")
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", written)


# --- refused projects: each mutates a written project; the message must name the file and key


def _rewrite_config(root: Path, **changes) -> None:
    config = yaml.safe_load((root / "config.yaml").read_text())
    config.update(changes)
    (root / "config.yaml").write_text(yaml.safe_dump(config))


def _multi_animal_config(root: Path) -> list[str]:
    _rewrite_config(root, multianimalproject=True)
    return ["config.yaml", "multianimalproject", "multi-animal"]


def _individuals_level(root: Path, file_format: str) -> list[str]:
    folder = root / "labeled-data" / "vid1"
    for old in folder.glob("CollectedData_*"):
        old.unlink()
    columns = pd.MultiIndex.from_product(
        [[SCORER], ["mouse1", "mouse2"], BODYPARTS, ["x", "y"]], names=["scorer", "individuals", "bodyparts", "coords"]
    )
    images = ["labeled-data/vid1/img000.png", "labeled-data/vid1/img001.png"]
    table = pd.DataFrame(np.ones((2, len(columns))), index=images, columns=columns)
    write_dlc_table(table, folder, file_format)
    return [f"CollectedData_{SCORER}.{file_format}", "individuals", "multi-animal"]


def _config_has_extra_bodypart(root: Path) -> list[str]:
    _rewrite_config(root, bodyparts=BODYPARTS + ["paw"])
    return [f"CollectedData_{SCORER}.csv", "'paw'", "config.yaml"]


def _labels_have_extra_bodypart(root: Path) -> list[str]:
    _rewrite_config(root, bodyparts=BODYPARTS[:-1])
    return [f"CollectedData_{SCORER}.csv", "'tail_base'", "config.yaml"]


def _image_missing(root: Path) -> list[str]:
    (root / "labeled-data" / "vid1" / "img002.png").unlink()
    return [f"CollectedData_{SCORER}.csv", "labeled-data/vid1/img002.png", "not found"]


def _image_unreadable(root: Path) -> list[str]:
    (root / "labeled-data" / "vid1" / "img003.png").write_text("not an image")
    return [f"CollectedData_{SCORER}.csv", "labeled-data/vid1/img003.png", "cannot be read"]


def _other_scorer(root: Path) -> list[str]:
    folder = root / "labeled-data" / "vid1"
    (folder / f"CollectedData_{SCORER}.csv").rename(folder / "CollectedData_bob.csv")
    return ["CollectedData_bob.csv", f"scorer {SCORER!r}"]


def _non_numeric_cell(root: Path) -> list[str]:
    label_file = root / "labeled-data" / "vid1" / f"CollectedData_{SCORER}.csv"
    lines = label_file.read_text().splitlines()
    cells = lines[4].split(",")
    cells[2] = "12.5px"  # image img001.png, first bodypart 'nose', y
    lines[4] = ",".join(cells)
    label_file.write_text("\n".join(lines) + "\n")
    return [f"CollectedData_{SCORER}.csv", "img001.png", "'nose', y", "'12.5px'"]


def _duplicate_image_row(root: Path) -> list[str]:
    folder = root / "labeled-data" / "vid1"
    values = np.full((2, len(BODYPARTS), 2), 5.0)
    images = ["labeled-data/vid1/img000.png", "labeled-data/vid1/img000.png"]
    (folder / f"CollectedData_{SCORER}.csv").unlink()
    write_dlc_table(dlc_table(values, images, "path", BODYPARTS), folder, "csv")
    return ["labeled-data/vid1/img000.png", "more than once"]


def _no_config(root: Path) -> list[str]:
    (root / "config.yaml").unlink()
    return ["config.yaml", "not a DeepLabCut project"]


def _no_labels(root: Path) -> list[str]:
    for label_file in root.glob("labeled-data/*/CollectedData_*"):
        label_file.unlink()
    return ["labeled-data", f"CollectedData_{SCORER}"]


REFUSED = {
    "multianimal-config": _multi_animal_config,
    "individuals-csv": lambda root: _individuals_level(root, "csv"),
    "individuals-h5": lambda root: _individuals_level(root, "h5"),
    "config-extra-bodypart": _config_has_extra_bodypart,
    "labels-extra-bodypart": _labels_have_extra_bodypart,
    "image-missing": _image_missing,
    "image-unreadable": _image_unreadable,
    "other-scorer": _other_scorer,
    "non-numeric": _non_numeric_cell,
    "duplicate-image": _duplicate_image_row,
    "no-config": _no_config,
    "no-labels": _no_labels,
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_projects_name_the_file_and_write_nothing(tmp_path, case):
    written = write_dlc_project(tmp_path / "dlc", formats=("csv",), index_styles=("path",))
    expected = REFUSED[case](written.root)
    before = tree_digest(written.root)
    with pytest.raises(ConversionError) as info:
        convert_dataset(written.root, tmp_path / "lp")
    for text in expected:
        assert text in str(info.value), (text, str(info.value))
    assert tree_digest(written.root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dlc"]  # no project, no staging folder
