"""The project writer: resize choice, the label table, and what happens to an existing --lp_dir
(refused when not empty, --overwrite replaces only the converter's outputs, never the source)."""

from pathlib import Path

import numpy as np
import pytest

from lightning_pose.cli.main import main as litpose
from lightning_pose.data.convert import ConversionError, SourceProject, convert_dataset
from lightning_pose.data.convert.writer import label_table, resize_dims, write_project
from lightning_pose.utils.io import parse_label_csv
from tests.data.convert.sources import assert_same_labels, read_lp_labels, tree_digest, write_dlc_project


@pytest.mark.parametrize(
    "frame, resize",
    [
        ((48, 64), (128, 128)),  # small frames: the smallest LP size
        ((406, 396), (384, 384)),  # the mirror-mouse example frame
        ((480, 640), (256, 384)),  # longer side scaled to 384, aspect kept as far as 128-steps allow
        ((1080, 1920), (256, 384)),
        ((200, 200), (256, 256)),  # nearest multiple of 128
        ((100, 1000), (128, 384)),
    ],
)
def test_resize_dims(frame, resize):
    assert resize_dims(*frame) == resize
    assert all(side % 128 == 0 for side in resize)


def _project(tmp_path: Path, keypoints: np.ndarray) -> SourceProject:
    image = tmp_path / "img.png"
    image.write_bytes(b"png")
    names = [f"labeled-data/v/img{i}.png" for i in range(len(keypoints))]
    return SourceProject(
        format="test", source=tmp_path, scorer="me", keypoint_names=["a", "b"], image_names=names,
        keypoints=keypoints, frame_size=(48, 64), copies=[(image, name) for name in names], frames=[], notes=[],
    )


def test_first_row_unlabeled_and_exact_values(tmp_path):
    keypoints = np.array([[[np.nan, np.nan], [np.nan, np.nan]], [[0.1 + 0.2, 1e-300], [3.0, np.nan]]])
    project = _project(tmp_path, keypoints)
    table = label_table(project)
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    config_path, _ = write_project(project, tmp_path / "lp")
    _, got = read_lp_labels(tmp_path / "lp" / "CollectedData.csv")
    assert np.array_equal(np.stack(list(got.values())), keypoints, equal_nan=True)
    parsed = parse_label_csv(tmp_path / "lp" / "CollectedData.csv")  # the training reader
    assert parsed.image_names == project.image_names and np.isnan(parsed.keypoints[0]).all()
    assert config_path == tmp_path / "lp" / "config.yaml"


@pytest.fixture
def dlc(tmp_path):
    return write_dlc_project(tmp_path / "dlc", formats=("csv",), index_styles=("path",))


def test_non_empty_destination_is_refused_and_kept(tmp_path, dlc):
    lp_dir = tmp_path / "lp"
    lp_dir.mkdir()
    (lp_dir / "CollectedData.csv").write_text("my own labels\n")
    with pytest.raises(ConversionError, match="is not empty.*--overwrite") as info:
        convert_dataset(dlc.root, lp_dir)
    assert str(lp_dir) in str(info.value)
    assert (lp_dir / "CollectedData.csv").read_text() == "my own labels\n"
    assert sorted(p.name for p in lp_dir.iterdir()) == ["CollectedData.csv"]


def test_overwrite_replaces_only_the_converter_outputs(tmp_path, dlc):
    lp_dir = tmp_path / "lp"
    convert_dataset(dlc.root, lp_dir)
    (lp_dir / "labeled-data" / "stale.png").write_bytes(b"old")
    (lp_dir / "notes.txt").write_text("keep me")
    (lp_dir / "outputs").mkdir()
    (lp_dir / "outputs" / "model.ckpt").write_bytes(b"weights")
    convert_dataset(dlc.root, lp_dir, overwrite=True)
    assert_same_labels(lp_dir / "CollectedData.csv", dlc)
    assert not (lp_dir / "labeled-data" / "stale.png").exists()
    assert (lp_dir / "notes.txt").read_text() == "keep me"
    assert (lp_dir / "outputs" / "model.ckpt").read_bytes() == b"weights"
    assert not list(tmp_path.glob(".lp.converting-*"))


def test_destination_inside_the_source_is_refused(tmp_path, dlc):
    before = tree_digest(dlc.root)
    with pytest.raises(ConversionError, match="inside the source"):
        convert_dataset(dlc.root, dlc.root / "lp_project")
    with pytest.raises(ConversionError, match="inside the source"):
        convert_dataset(dlc.root, dlc.root)
    assert tree_digest(dlc.root) == before


def test_overwrite_never_replaces_a_folder_that_holds_the_source(tmp_path):
    lp_dir = tmp_path / "lp"
    nested = write_dlc_project(lp_dir / "videos" / "dlc", formats=("csv",), index_styles=("path",))
    before = tree_digest(nested.root)
    with pytest.raises(ConversionError, match="holds the source"):
        convert_dataset(nested.root, lp_dir, overwrite=True)
    assert tree_digest(nested.root) == before


def test_unknown_source_lists_the_formats(tmp_path):
    other = tmp_path / "labels.json"
    other.write_text("{}")
    with pytest.raises(ConversionError, match="deeplabcut: .*sleap: "):
        convert_dataset(other, tmp_path / "lp")
    with pytest.raises(ConversionError, match="source not found"):
        convert_dataset(tmp_path / "missing", tmp_path / "lp")


def test_cli_convert_and_its_errors(tmp_path, dlc, capsys):
    lp_dir = tmp_path / "lp"
    assert litpose(["convert", str(dlc.root), "--lp_dir", str(lp_dir)]) == 0
    out = capsys.readouterr().out
    assert "12 labeled frames" not in out and "6 labeled frames, 4 keypoints" in out
    assert f"litpose train {lp_dir / 'config.yaml'}" in out
    assert litpose(["convert", str(dlc.root), "--lp_dir", str(lp_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert litpose(["convert", str(dlc.root), "--lp_dir", str(lp_dir), "--overwrite"]) == 0
    (dlc.root / "config.yaml").unlink()
    assert litpose(["convert", str(dlc.root), "--lp_dir", str(tmp_path / "lp2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("litpose convert: error:") and str(dlc.root / "config.yaml") in err
