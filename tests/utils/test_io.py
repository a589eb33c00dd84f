"""Label-CSV parsing, image-file checks and context-frame paths (lightning_pose.utils.io)."""

from pathlib import Path

import numpy as np
import pytest

from lightning_pose.utils.io import (
    check_image_files_exist,
    get_context_img_paths,
    get_keypoint_names,
    parse_label_csv,
    resolve_csv_path,
)

HEADER_XY = [
    "scorer,me,me,me,me",
    "bodyparts,nose,nose,tail,tail",
    "coords,x,y,x,y",
]


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------- real data


def test_parse_mirror_mouse_labels(mirror_mouse_dir):
    data = parse_label_csv(mirror_mouse_dir / "CollectedData.csv")
    assert len(data.image_names) == 90
    assert data.image_names[0] == "labeled-data/img01.png"
    assert data.keypoints.shape == (90, 17, 2)
    assert data.keypoints.dtype == np.float32
    assert data.visibility is None
    assert data.keypoint_names[:2] == ["paw1LH_top", "paw2LF_top"]
    assert data.keypoint_names[-1] == "obsLow_bot"
    nan_per_keypoint = np.isnan(data.keypoints[..., 0]).sum(axis=0).tolist()
    assert nan_per_keypoint == [2, 2, 0, 2, 8, 12, 0, 35, 0, 0, 0, 1, 0, 1, 0, 36, 35]
    # x and y are missing together
    assert np.array_equal(np.isnan(data.keypoints[..., 0]), np.isnan(data.keypoints[..., 1]))
    assert int(np.isnan(data.keypoints).any(axis=(1, 2)).sum()) == 48
    assert float(np.nanmin(data.keypoints[..., 0])) == 16.25
    assert float(np.nanmax(data.keypoints[..., 0])) == 392.25
    assert float(np.nanmin(data.keypoints[..., 1])) == 3.25
    assert float(np.nanmax(data.keypoints[..., 1])) == 404.25
    # first row, first keypoint as written in the file
    assert data.keypoints[0, 0].tolist() == [77.25, 36.25]


def test_keypoint_names_from_header(mirror_mouse_dir):
    names = get_keypoint_names(mirror_mouse_dir / "CollectedData.csv")
    assert len(names) == 17 and names[7] == "obs_top" and names[15] == "obsHigh_bot"


def test_image_files_of_real_labels_exist(mirror_mouse_dir):
    data = parse_label_csv(mirror_mouse_dir / "CollectedData.csv")
    check_image_files_exist(mirror_mouse_dir, data.image_names, "CollectedData.csv")


# ----------------------------------------------------------------------------- synthetic files


def test_visible_column_parsed(tmp_path):
    csv = write_csv(tmp_path / "vis.csv", [
        "scorer,me,me,me,me,me,me",
        "bodyparts,nose,nose,nose,tail,tail,tail",
        "coords,x,y,visible,x,y,visible",
        "a/img1.png,1.5,2.5,2,,,0",
        "a/img2.png,3,4,1,5,6,2",
    ])
    data = parse_label_csv(csv)
    assert data.keypoint_names == ["nose", "tail"]
    assert data.visibility.dtype == np.int64
    assert data.visibility.tolist() == [[2, 0], [1, 2]]
    assert data.keypoints[0, 0].tolist() == [1.5, 2.5]
    assert np.isnan(data.keypoints[0, 1]).all()
    assert data.keypoints[1].tolist() == [[3.0, 4.0], [5.0, 6.0]]


def test_all_empty_first_row_is_kept(tmp_path):
    csv = write_csv(tmp_path / "empty_first.csv", HEADER_XY + [
        "a/img1.png,,,,",
        "a/img2.png,1,2,3,4",
    ])
    data = parse_label_csv(csv)
    assert data.image_names == ["a/img1.png", "a/img2.png"]
    assert np.isnan(data.keypoints[0]).all()
    assert data.keypoints[1].tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_two_row_header_layout(tmp_path):
    csv = write_csv(tmp_path / "two.csv", HEADER_XY[1:] + ["a/img1.png,1,2,3,4"])
    data = parse_label_csv(csv, header_rows=[0, 1])
    assert data.keypoint_names == ["nose", "tail"]
    assert data.keypoints.tolist() == [[[1.0, 2.0], [3.0, 4.0]]]
    with pytest.raises(ValueError, match=r"header_rows must be"):
        parse_label_csv(csv, header_rows=[0, 2])


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        parse_label_csv(tmp_path / "nope.csv")


def test_two_row_header_is_rejected(tmp_path):
    csv = write_csv(tmp_path / "two_rows.csv", HEADER_XY[1:] + ["a/img1.png,1,2,3,4"])
    with pytest.raises(ValueError, match=r"two_rows\.csv.*column 2.*coords label '1'.*3 rows"):
        parse_label_csv(csv)


def test_coords_out_of_order_is_rejected(tmp_path):
    csv = write_csv(tmp_path / "yx.csv", [HEADER_XY[0], HEADER_XY[1], "coords,y,x,x,y", "a/i.png,1,2,3,4"])
    with pytest.raises(ValueError, match=r"yx\.csv.*column 2.*'y', expected 'x'"):
        parse_label_csv(csv)


def test_odd_number_of_columns_is_rejected(tmp_path):
    csv = write_csv(tmp_path / "odd.csv", [
        "scorer,me,me,me", "bodyparts,nose,nose,tail", "coords,x,y,x", "a/i.png,1,2,3",
    ])
    with pytest.raises(ValueError, match=r"odd\.csv.*3 coordinate columns is not a multiple of 2"):
        parse_label_csv(csv)


def test_non_numeric_cell_names_line_and_column(tmp_path):
    csv = write_csv(tmp_path / "text.csv", HEADER_XY + ["a/img1.png,1,2,3,4", "a/img2.png,1,2,abc,4"])
    with pytest.raises(ValueError, match=r"text\.csv.*'abc' at line 5.*img2\.png.*column 4.*tail"):
        parse_label_csv(csv)


def test_bad_visibility_value_is_rejected(tmp_path):
    csv = write_csv(tmp_path / "badvis.csv", [
        "scorer,me,me,me", "bodyparts,nose,nose,nose", "coords,x,y,visible",
        "a/img1.png,1,2,2", "a/img2.png,1,2,3",
    ])
    with pytest.raises(ValueError, match=r"badvis\.csv.*'nose' at line 5 is 3\.0"):
        parse_label_csv(csv)


def test_missing_images_are_reported_with_csv_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "img1.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"1 of 2 images listed in 'labels\.csv'.*line 5: 'a/img2\.png'"):
        check_image_files_exist(tmp_path, ["a/img1.png", "a/img2.png"], "labels.csv")


def test_resolve_csv_path(tmp_path):
    csv = write_csv(tmp_path / "labels.csv", HEADER_XY)
    assert resolve_csv_path(tmp_path, "labels.csv") == csv
    assert resolve_csv_path("/elsewhere", csv) == csv
    with pytest.raises(FileNotFoundError, match="other.csv"):
        resolve_csv_path(tmp_path, "other.csv")


# ----------------------------------------------------------------------------- context paths


def test_context_paths_middle_frame():
    paths = get_context_img_paths(Path("labeled-data/img05.png"))
    assert [p.name for p in paths] == ["img03.png", "img04.png", "img05.png", "img06.png", "img07.png"]
    assert all(p.parent == Path("labeled-data") for p in paths)


def test_context_paths_floor_at_zero_and_padding():
    names = [p.name for p in get_context_img_paths(Path("img01.png"))]
    assert names == ["img00.png", "img00.png", "img01.png", "img02.png", "img03.png"]
    names = [p.name for p in get_context_img_paths(Path("frame0100.jpg"))]
    assert names == ["frame0098.jpg", "frame0099.jpg", "frame0100.jpg", "frame0101.jpg", "frame0102.jpg"]


def test_context_paths_only_first_digit_run_changes():
    names = [p.name for p in get_context_img_paths(Path("s2_img10.png"))]
    assert names == ["s0_img10.png", "s1_img10.png", "s2_img10.png", "s3_img10.png", "s4_img10.png"]


def test_context_paths_need_digits():
    with pytest.raises(ValueError, match="frame.png"):
        get_context_img_paths(Path("frame.png"))
