"""The reader registry and the OpenCV reader (RGB order, exact random access, end of file)."""

import numpy as np
import pytest
import torch

from lightning_pose.data.video import (
    VIDEO_READERS,
    OpenCVVideoReader,
    VideoReader,
    build_video_reader,
)
from tests.data.video.conftest import write_video


def test_registry_has_opencv_and_rejects_unknown_names():
    assert VIDEO_READERS.get("opencv") is OpenCVVideoReader
    assert issubclass(OpenCVVideoReader, VideoReader)
    with pytest.raises(ValueError, match=r"unknown video reader 'nvdec'.*opencv"):
        build_video_reader("nvdec", "x.mp4")


def test_frames_are_rgb_uint8(tmp_path):
    red_bgr = np.zeros((24, 32, 3), np.uint8)
    red_bgr[..., 2] = 230  # OpenCV writes BGR: this is pure red
    path = write_video(tmp_path / "red.mp4", [red_bgr] * 4)
    with build_video_reader("opencv", path) as reader:
        assert (reader.num_frames, reader.height, reader.width) == (4, 24, 32)
        frames = reader.read_frames(0, 4)
    assert frames.dtype == torch.uint8 and frames.shape == (4, 3, 24, 32)
    mean = frames.float().mean(dim=(0, 2, 3))
    assert mean[0] > 200 and mean[1] < 30 and mean[2] < 30


def test_random_access_matches_sequential_reads(make_video):
    path = make_video("clip.mp4", 20, 24, 32)
    with build_video_reader("opencv", path) as reader:
        everything = reader.read_frames(0, 20)
    assert everything.shape[0] == 20
    # consecutive frames differ, so a shifted read would be detected
    assert (everything[1:].float() - everything[:-1].float()).abs().mean(dim=(1, 2, 3)).min() > 5
    with build_video_reader("opencv", path) as reader:
        assert torch.equal(reader.read_frames(7, 3), everything[7:10])  # forward skip
        assert torch.equal(reader.read_frames(10, 2), everything[10:12])  # continue
        assert torch.equal(reader.read_frames(2, 2), everything[2:4])  # backward: re-open
        assert torch.equal(reader.read_frames(18, 5), everything[18:20])  # stops at the end
        assert reader.read_frames(25, 2).shape == (0, 3, 24, 32)  # past the end
        chunks = list(reader.iter_chunks(chunk_size=6))
    assert [c.shape[0] for c in chunks] == [6, 6, 6, 2]
    assert torch.equal(torch.cat(chunks), everything)


def test_bad_ranges_and_closed_reader(make_video):
    path = make_video("clip.mp4", 5, 24, 32)
    reader = OpenCVVideoReader(path)
    with pytest.raises(ValueError, match="start >= 0"):
        reader.read_frames(-1, 2)
    reader.close()
    reader.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        reader.read_frames(0, 1)


@pytest.mark.parametrize("kind", ["missing", "empty", "text"])
def test_reader_rejects_bad_files(bad_videos, kind):
    with pytest.raises(ValueError, match=bad_videos[kind].name):
        OpenCVVideoReader(bad_videos[kind])


def test_real_video_reader(mirror_mouse_dir):
    with build_video_reader("opencv", mirror_mouse_dir / "videos" / "test_vid.mp4") as reader:
        assert (reader.num_frames, reader.height, reader.width) == (994, 406, 396)
        tail = reader.read_frames(990, 10)
    assert tail.shape == (4, 3, 406, 396)
    # the example video is grayscale stored as colour: channels agree after BGR -> RGB
    assert (tail[:, 0].float() - tail[:, 2].float()).abs().mean() < 3
