"""Decoding with resize, the in-memory cache and the on-disk .npy cache."""

import os

import numpy as np
import torch

from lightning_pose.data.video import DecodeCache, build_video_reader, decode_resized
from lightning_pose.data.video.cache import disk_cache_path, resize_frames
from tests.data.video.conftest import write_video


def test_resize_frames_halving_is_a_2x2_average():
    frames = torch.tensor([[10, 30, 50, 70], [20, 40, 60, 80]], dtype=torch.uint8)
    frames = frames.view(1, 1, 2, 4).expand(1, 3, 2, 4)
    out = resize_frames(frames, 1, 2)
    expected = torch.tensor([25.0, 65.0]) / 255.0  # means of the two 2x2 blocks
    assert out.shape == (1, 3, 1, 2)
    assert torch.allclose(out[0, 0, 0], expected)


def test_decode_resized_matches_reader_frames(make_video):
    path = make_video("clip.mp4", 11, 32, 48)
    frames = decode_resized(path, 16, 24)
    assert frames.dtype == np.uint8 and frames.shape == (11, 3, 16, 24)
    with build_video_reader("opencv", path) as reader:
        full = reader.read_frames(0, 11).float()
    # bilinear halving (align_corners=False) = mean of each 2x2 block, rounded to uint8
    blocks = full.view(11, 3, 16, 2, 24, 2).mean(dim=(3, 5))
    assert np.abs(frames.astype(np.float64) - blocks.numpy()).max() <= 0.5 + 1e-3


def test_memory_cache_decodes_once(make_video):
    path = make_video("clip.mp4", 6, 24, 32)
    cache = DecodeCache()
    first = cache.get(path, 12, 16)
    second = cache.get(str(path), 12, 16)
    assert second is first
    assert (cache.decodes, cache.memory_hits, cache.disk_hits) == (1, 1, 0)
    cache.get(path, 24, 32)  # another size is another entry
    assert cache.decodes == 2 and len(cache) == 2
    cache.clear()
    cache.get(path, 12, 16)
    assert cache.decodes == 3


def test_disk_cache_round_trip_between_processes(make_video, tmp_path):
    path = make_video("clip.mp4", 9, 24, 32)
    cache_dir = tmp_path / "decode_cache"
    writer = DecodeCache()
    written = np.array(writer.get(path, 12, 16, cache_dir=cache_dir))
    file = disk_cache_path(cache_dir, path, 12, 16)
    assert os.path.isfile(file) and writer.decodes == 1
    assert not [f for f in os.listdir(cache_dir) if f.endswith(".tmp")]
    # a fresh cache (another trial on the same node) loads the file instead of decoding
    reader = DecodeCache()
    loaded = reader.get(path, 12, 16, cache_dir=cache_dir)
    assert (reader.decodes, reader.disk_hits) == (0, 1)
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(np.asarray(loaded), written)


def test_disk_cache_ignores_corrupt_files_and_tracks_edits(make_video, tmp_path):
    path = make_video("clip.mp4", 5, 24, 32)
    cache_dir = tmp_path / "decode_cache"
    file = disk_cache_path(cache_dir, path, 12, 16)
    os.makedirs(cache_dir)
    with open(file, "wb") as stream:
        stream.write(b"not an npy file")
    cache = DecodeCache()
    assert cache.get(path, 12, 16, cache_dir=cache_dir).shape == (5, 3, 12, 16)
    assert cache.decodes == 1
    # rewriting the video (new size/mtime) changes the cache file
    frames = [np.full((24, 32, 3), 90, np.uint8)] * 7
    write_video(path, frames)
    os.utime(path, ns=(1, 1))
    assert disk_cache_path(cache_dir, path, 12, 16) != file
    assert DecodeCache().get(path, 12, 16, cache_dir=cache_dir).shape == (7, 3, 12, 16)
