"""SLEAP labels packages: exact labels, embedded frames as lossless PNGs, the source video, and
the refused packages (multi-animal, several videos or skeletons, no embedded frames)."""

import cv2
import numpy as np
import pytest
import sleap_io as sio

from lightning_pose.config import load_config, validate_config
from lightning_pose.data.convert import ConversionError, convert_dataset
from tests.data.convert.sources import (
    BODYPARTS,
    FRAME_SIZE,
    assert_same_labels,
    read_lp_labels,
    tree_digest,
    write_sleap_package,
)


@pytest.fixture
def package(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    return write_sleap_package(source / "mouse.pkg.slp")


def test_labels_round_trip_exactly(tmp_path, package):
    before = tree_digest(package.root.parent)
    result = convert_dataset(package.root, tmp_path / "lp")
    assert result.format == "sleap" and result.num_frames == 10
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", package)
    # the same numbers sleap-io itself reads from the package (user instances only)
    labels = sio.load_slp(str(package.root))
    _, got = read_lp_labels(tmp_path / "lp" / "CollectedData.csv")
    user_frames = [f for f in labels.labeled_frames if f.user_instances]
    # sleap-io's writer leaves every point's 'complete' flag false: visibility alone decides
    assert not any(f.user_instances[0].points["complete"].any() for f in user_frames)
    assert len(user_frames) == len(got) == 10
    for frame in user_frames:
        image = f"labeled-data/mouse_video/img{frame.frame_idx:08d}.png"
        assert np.array_equal(got[image], frame.user_instances[0].numpy(), equal_nan=True)
    assert tree_digest(package.root.parent) == before


def test_embedded_frames_written_losslessly_and_video_copied(tmp_path, package):
    lp_dir = tmp_path / "lp"
    result = convert_dataset(package.root, lp_dir)
    labels = sio.load_slp(str(package.root))
    video = labels.videos[0]
    pngs = sorted(p.relative_to(lp_dir).as_posix() for p in lp_dir.glob("labeled-data/*/*.png"))
    assert pngs == sorted(package.labels)  # user frames are the embedded ones
    for image in pngs:
        frame_idx = int(image.split("img")[-1].split(".")[0])
        written = cv2.imread(str(lp_dir / image), cv2.IMREAD_UNCHANGED)
        embedded = np.asarray(video[frame_idx])
        assert written.shape[:2] == FRAME_SIZE
        rgb = cv2.cvtColor(written, cv2.COLOR_BGR2RGB) if written.ndim == 3 else written
        assert np.array_equal(rgb, embedded.squeeze())
    source_video = package.root.parent / "mouse_video.mp4"
    assert (lp_dir / "videos" / "mouse_video.mp4").read_bytes() == source_video.read_bytes()
    cfg = load_config(result.config_path)
    validate_config(cfg)
    assert list(cfg.data.keypoint_names) == BODYPARTS and cfg.data.num_keypoints == 4
    assert (cfg.data.image_orig_dims.height, cfg.data.image_orig_dims.width) == FRAME_SIZE
    assert cfg.eval.predict_vids_after_training is True


def test_missing_source_video_leaves_videos_empty(tmp_path, package):
    (package.root.parent / "mouse_video.mp4").unlink()
    result = convert_dataset(package.root, tmp_path / "lp")
    assert list((tmp_path / "lp" / "videos").iterdir()) == []
    assert any("not found" in note for note in result.notes)
    assert load_config(result.config_path).eval.predict_vids_after_training is False
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", package)


def test_several_videos_of_one_camera(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    package = write_sleap_package(source / "mouse.pkg.slp", num_videos=2)
    result = convert_dataset(package.root, tmp_path / "lp")
    assert result.num_frames == 20
    assert_same_labels(tmp_path / "lp" / "CollectedData.csv", package)
    assert sorted(p.name for p in (tmp_path / "lp" / "labeled-data").iterdir()) == ["mouse_video", "mouse_video1"]
    assert sorted(p.name for p in (tmp_path / "lp" / "videos").iterdir()) == ["mouse_video.mp4", "mouse_video1.mp4"]


REFUSED = {
    "two-instances": ({"instances_on_frame": {5: 2}}, ["frame 5", "2 labeled instances", "single-animal"]),
    "two-cameras": ({"num_videos": 2, "cameras": True}, ["1 multi-camera recording session", "single-view"]),
    "two-skeletons": ({"num_skeletons": 2}, ["2 skeletons", "one skeleton"]),
    "not-embedded": ({"embed": False}, ["no frames embedded", "Export Labels Package"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_packages_name_the_file(tmp_path, case):
    options, expected = REFUSED[case]
    source = tmp_path / "source"
    source.mkdir()
    package = write_sleap_package(source / "mouse.pkg.slp", **options)
    before = tree_digest(source)
    with pytest.raises(ConversionError) as info:
        convert_dataset(package.root, tmp_path / "lp")
    message = str(info.value)
    assert str(package.root) in message
    for text in expected:
        assert text in message, (text, message)
    assert tree_digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_a_file_that_is_not_a_package(tmp_path):
    fake = tmp_path / "labels.slp"
    fake.write_text("not hdf5")
    with pytest.raises(ConversionError, match="cannot be read as a SLEAP labels file") as info:
        convert_dataset(fake, tmp_path / "lp")
    assert str(fake) in str(info.value)
