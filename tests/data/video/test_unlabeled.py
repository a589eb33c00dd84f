"""UnlabeledVideoDataset: windows, epoch length, item format, sampling, multiview, augmentation."""

import cv2
import numpy as np
import pytest
import torch

from lightning_pose.data.video import (
    DecodeCache,
    UnlabeledVideoDataset,
    UnlabeledWindowSampler,
    train_num_iters,
)
from lightning_pose.data.video.augment import imagenet_normalize_255
from lightning_pose.data.video.unlabeled import train_window_starts
from tests.data.video.conftest import write_video

LOW, HIGH = -0.485 / 0.229 - 1e-4, (1 - 0.406) / 0.225 + 1e-4  # normalised range of [0, 255]


def test_num_iters_formulas():
    assert train_num_iters(994, 32, context=False) == 32  # ceil
    assert train_num_iters(994, 16, context=True) == 62  # floor
    assert train_num_iters(30, 8, context=False) == 4
    assert train_num_iters(30, 8, context=True) == 3
    with pytest.raises(ValueError, match="sequence_length"):
        train_num_iters(10, 0, context=False)


def test_window_starts_keep_complete_windows():
    assert train_window_starts(30, 8) == [0, 8, 16]
    assert train_window_starts(32, 8) == [0, 8, 16, 24]
    assert train_window_starts(5, 8) == [0]  # shorter than a window: one padded window


def test_single_view_items(make_video):
    path = make_video("clip.mp4", 30, 40, 48)
    cache = DecodeCache()
    ds = UnlabeledVideoDataset(path, 32, 32, sequence_length=8, decode_cache=cache)
    assert len(ds) == 4 and ds.windows == [(0, 0), (0, 8), (0, 16)]
    item = ds[1]
    assert item["frames"].shape == (8, 3, 32, 32) and item["frames"].dtype == torch.float32
    assert torch.equal(item["transforms"], torch.tensor([-1.0]))
    assert torch.equal(item["bbox"], torch.tensor([[0.0, 0.0, 40.0, 48.0]]).repeat(8, 1))
    assert item["is_multiview"] is False
    assert LOW <= item["frames"].min() and item["frames"].max() <= HIGH
    decoded = torch.from_numpy(np.array(cache.get(path, 32, 32)[8:16])).float()
    assert torch.allclose(item["frames"], imagenet_normalize_255(decoded))
    assert torch.equal(ds[3]["frames"], ds[0]["frames"])  # int index wraps over the windows


def test_short_video_is_padded_with_its_last_frame(make_video):
    ds = UnlabeledVideoDataset(make_video("short.mp4", 5, 24, 32), 16, 16, sequence_length=8)
    frames = ds[0]["frames"]
    assert len(ds) == 1 and frames.shape[0] == 8
    assert all(torch.equal(frames[i], frames[4]) for i in range(5, 8))
    assert not torch.equal(frames[3], frames[4])


def test_context_length_and_several_videos(make_video):
    videos = [make_video("a.mp4", 20, 24, 32), make_video("b.mp4", 13, 24, 32, seed=1)]
    ds = UnlabeledVideoDataset(videos, 16, 16, sequence_length=6, context=True)
    assert ds.total_frames == 33 and len(ds) == 5  # floor(33 / 6)
    assert ds.windows == [(0, 0), (0, 6), (0, 12), (1, 0), (1, 6)]  # never across videos


def test_sampler_orders_windows_randomly_and_reproducibly():
    sampler = UnlabeledWindowSampler(num_windows=5, num_iters=7, seed=11)
    first, second = list(sampler), list(sampler)
    assert len(first) == 7 and len(sampler) == 7
    assert sorted(w for w, _ in first[:5]) == [0, 1, 2, 3, 4]  # a permutation, then more
    assert first != second  # the generator moves on between epochs
    assert list(UnlabeledWindowSampler(5, 7, seed=11)) == first
    assert len({s for _, s in first + second}) == 14


def test_dataloader_yields_one_sequence_per_step(make_video):
    ds = UnlabeledVideoDataset(make_video("clip.mp4", 26, 24, 32), 16, 16, sequence_length=5)
    batches = list(ds.dataloader())
    assert len(batches) == len(ds) == 6
    assert all(b["frames"].shape == (5, 3, 16, 16) for b in batches)
    starts = {int(w) for w, _ in ds.sampler()}
    assert starts <= set(range(len(ds.windows)))


def test_augmented_items(make_video):
    path = make_video("clip.mp4", 16, 40, 48)
    ds = UnlabeledVideoDataset(path, 32, 32, sequence_length=8, imgaug="dlc", seed=3)
    item = ds[(0, 1234)]
    assert item["transforms"].shape == (2, 3)
    assert torch.equal(ds[(0, 1234)]["frames"], item["frames"])  # same seed, same augmentation
    assert not torch.equal(ds[(0, 99)]["transforms"], item["transforms"])
    for preset in ("default", "dlc-lr", "none"):
        plain = UnlabeledVideoDataset(path, 32, 32, sequence_length=8, imgaug=preset)
        assert plain[0]["transforms"].shape == (1,)


def _dot_video(path, x0: int, y0: int, n: int = 6, height: int = 64, width: int = 80):
    frame = np.zeros((height, width, 3), np.uint8)
    cv2.circle(frame, (x0, y0), 3, (255, 255, 255), -1)
    return write_video(path, [frame] * n)


def test_augmented_dot_follows_the_returned_matrix(tmp_path):
    path = _dot_video(tmp_path / "dot.mp4", x0=50, y0=22)
    ds = UnlabeledVideoDataset(path, 64, 64, sequence_length=4, imgaug="dlc")
    # the dot centre in resized, continuous coordinates (pixel centres at index + 0.5)
    p = torch.tensor([(50 + 0.5) * 64 / 80, 22 + 0.5], dtype=torch.float64)
    for aug_seed in (1, 2, 3, 4):
        item = ds[(0, aug_seed)]
        m = item["transforms"].double()
        expected = m[:, :2] @ p + m[:, 2]
        gray = item["frames"][0].mean(0)
        mask = gray > 0.5 * (gray.max() + gray.median())
        rows, cols = torch.nonzero(mask, as_tuple=True)
        centre = torch.stack([cols.double().mean() + 0.5, rows.double().mean() + 0.5])
        assert torch.allclose(centre, expected, atol=1.0), (aug_seed, centre, expected)


def test_multiview_items(make_video):
    videos = {
        "top": [make_video("s0_top.mp4", 12, 40, 48)],
        "bottom": [make_video("s0_bottom.mp4", 12, 36, 44, seed=2)],
    }
    ds = UnlabeledVideoDataset(videos, 16, 24, sequence_length=4, view_names=["top", "bottom"])
    item = ds[2]
    assert item["frames"].shape == (4, 2, 3, 16, 24) and item["is_multiview"] is True
    assert torch.equal(item["transforms"], torch.full((2, 1, 1), -1.0))
    row = torch.tensor([0.0, 0.0, 40.0, 48.0, 0.0, 0.0, 36.0, 44.0])
    assert torch.equal(item["bbox"], row.repeat(4, 1))
    single = UnlabeledVideoDataset(videos["bottom"], 16, 24, sequence_length=4)
    assert torch.equal(item["frames"][:, 1], single[2]["frames"])  # same frames in every view
    aug = UnlabeledVideoDataset(videos, 16, 24, sequence_length=4, imgaug="dlc-top-down")
    transforms = aug[(1, 7)]["transforms"]
    assert transforms.shape == (2, 2, 3) and not torch.equal(transforms[0], transforms[1])


def test_multiview_mismatches(make_video):
    top, bottom = make_video("s0_top.mp4", 12, 24, 32), make_video("s0_bottom.mp4", 10, 24, 32)
    with pytest.raises(ValueError, match="different frame counts"):
        UnlabeledVideoDataset({"top": [top], "bottom": [bottom]}, 16, 16, sequence_length=4)
    with pytest.raises(ValueError, match="same number of videos"):
        UnlabeledVideoDataset({"top": [top, top], "bottom": [bottom]}, 16, 16, sequence_length=4)


def test_real_video_windows(mirror_mouse_dir):
    path = mirror_mouse_dir / "videos" / "test_vid.mp4"
    ds = UnlabeledVideoDataset(path, 64, 64, sequence_length=32, decode_cache=DecodeCache())
    assert len(ds) == 32 and len(ds.windows) == 31
    item = ds[(30, 0)]
    assert item["frames"].shape == (32, 3, 64, 64)
    assert LOW <= item["frames"].min() and item["frames"].max() <= HIGH
    assert torch.equal(item["bbox"][0], torch.tensor([0.0, 0.0, 406.0, 396.0]))
