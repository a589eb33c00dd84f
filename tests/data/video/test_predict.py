"""Prediction batches: window arithmetic, coverage of every frame in order, padding, multiview."""

import pytest
import torch

from lightning_pose.data.video import (
    PredictionVideoLoader,
    PredictionWindow,
    build_video_reader,
    prediction_num_iters,
    prediction_windows,
)
from lightning_pose.data.video.augment import imagenet_normalize_01
from lightning_pose.data.video.cache import resize_frames


def test_num_iters_formulas():
    assert prediction_num_iters(994, 96, context=False) == 11
    assert prediction_num_iters(96, 96, context=False) == 1
    assert prediction_num_iters(97, 96, context=False) == 2
    assert prediction_num_iters(994, 96, context=True) == 11  # ceil(898 / 92) + 1
    assert prediction_num_iters(96, 96, context=True) == 1
    assert prediction_num_iters(97, 96, context=True) == 2
    assert prediction_num_iters(3, 96, context=True) == 1  # never zero batches
    with pytest.raises(ValueError, match="sequence_length > 4"):
        prediction_num_iters(100, 4, context=True)


def test_windows():
    assert prediction_windows(10, 4, context=False) == [
        PredictionWindow(0, 4, 4), PredictionWindow(4, 4, 4), PredictionWindow(8, 2, 2)
    ]
    assert prediction_windows(10, 8, context=True) == [
        PredictionWindow(0, 8, 8), PredictionWindow(4, 6, 2)
    ]


def _expected_frames(path, height: int, width: int) -> torch.Tensor:
    with build_video_reader("opencv", path) as reader:
        frames = reader.read_frames(0, reader.num_frames)
    return imagenet_normalize_01(resize_frames(frames, height, width))


def test_base_batches_cover_every_frame_once_in_order(make_video):
    path = make_video("clip.mp4", 23, 40, 48)
    loader = PredictionVideoLoader(path, 16, 24, sequence_length=8)
    pairs = list(loader.iter_with_windows())
    assert len(pairs) == len(loader) == loader.num_iters == 3
    for batch, _ in pairs:
        assert batch["frames"].shape == (8, 3, 16, 24)
        assert torch.equal(batch["transforms"], torch.tensor([-1.0]))
        assert torch.equal(batch["bbox"], torch.tensor([[0.0, 0.0, 40.0, 48.0]]).repeat(8, 1))
        assert batch["is_multiview"] is False
    covered = torch.cat([b["frames"][: w.num_real] for b, w in pairs])
    assert torch.equal(covered, _expected_frames(path, 16, 24))
    last, window = pairs[-1]
    assert window == PredictionWindow(16, 7, 7)
    assert torch.equal(last["frames"][7], last["frames"][6])  # padding repeats the last frame


def test_max_frames_predicts_only_the_first_frames(make_video):
    path = make_video("clip.mp4", 23, 40, 48)
    loader = PredictionVideoLoader(path, 16, 24, sequence_length=8, max_frames=10)
    pairs = list(loader.iter_with_windows())
    assert loader.num_frames == 10 and [w for _, w in pairs] == [PredictionWindow(0, 8, 8), PredictionWindow(8, 2, 2)]
    covered = torch.cat([b["frames"][: w.num_real] for b, w in pairs])
    assert torch.equal(covered, _expected_frames(path, 16, 24)[:10])
    assert PredictionVideoLoader(path, 16, 24, sequence_length=8, max_frames=100).num_frames == 23
    with pytest.raises(ValueError, match="max_frames must be >= 1"):
        PredictionVideoLoader(path, 16, 24, sequence_length=8, max_frames=0)


def test_context_batches_overlap_by_four_and_cover_every_frame(make_video):
    path = make_video("clip.mp4", 23, 40, 48)
    loader = PredictionVideoLoader(path, 16, 24, sequence_length=8, context=True)
    pairs = list(loader.iter_with_windows())
    assert [w.start for _, w in pairs] == [0, 4, 8, 12, 16]
    for (prev, _), (batch, _) in zip(pairs[:-1], pairs[1:]):
        assert torch.equal(batch["frames"][:4], prev["frames"][-4:])
    covered = torch.cat(
        [pairs[0][0]["frames"][: pairs[0][1].num_real]]
        + [b["frames"][4: w.num_real] for b, w in pairs[1:]]
    )
    assert torch.equal(covered, _expected_frames(path, 16, 24))
    assert sum(w.num_new for _, w in pairs) == 23
    last = pairs[-1][0]["frames"]
    assert torch.equal(last[7], last[6])


def test_iterating_twice_gives_the_same_batches(make_video):
    loader = PredictionVideoLoader(make_video("clip.mp4", 11, 24, 32), 16, 16, sequence_length=4)
    first = [b["frames"] for b in loader]
    second = [b["frames"] for b in loader]
    assert len(first) == 3 and all(torch.equal(a, b) for a, b in zip(first, second))


def test_multiview_batches(make_video):
    top = make_video("s0_top.mp4", 10, 40, 48)
    bottom = make_video("s0_bottom.mp4", 10, 36, 44, seed=3)
    loader = PredictionVideoLoader([top, bottom], 16, 16, sequence_length=4)
    batches = list(loader)
    assert len(batches) == 3
    batch = batches[0]
    assert batch["frames"].shape == (4, 2, 3, 16, 16) and batch["is_multiview"] is True
    assert torch.equal(batch["transforms"], torch.full((2, 1, 1), -1.0))
    row = torch.tensor([0.0, 0.0, 40.0, 48.0, 0.0, 0.0, 36.0, 44.0])
    assert torch.equal(batch["bbox"], row.repeat(4, 1))
    assert torch.equal(batch["frames"][:, 1], _expected_frames(bottom, 16, 16)[:4])


def test_multiview_frame_count_mismatch(make_video):
    top, bottom = make_video("s0_top.mp4", 10, 24, 32), make_video("s0_bottom.mp4", 9, 24, 32)
    with pytest.raises(ValueError, match="equal frame counts"):
        PredictionVideoLoader([top, bottom], 16, 16, sequence_length=4)


def test_bad_video_is_reported_before_iterating(bad_videos):
    with pytest.raises(ValueError, match=bad_videos["text"].name):
        PredictionVideoLoader(bad_videos["text"], 16, 16, sequence_length=4)


def test_real_video_prediction_batches(mirror_mouse_dir):
    path = mirror_mouse_dir / "videos" / "test_vid.mp4"
    loader = PredictionVideoLoader(path, 32, 32, sequence_length=96)
    pairs = list(loader.iter_with_windows())
    assert len(pairs) == 11
    assert sum(w.num_real for _, w in pairs) == 994
    assert pairs[-1][1] == PredictionWindow(960, 34, 34)
    assert pairs[0][0]["bbox"][0].tolist() == [0.0, 0.0, 406.0, 396.0]
