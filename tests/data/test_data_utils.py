"""Split arithmetic, index splits, image normalisation and affine undo (lightning_pose.data.utils)."""

import math

import pytest
import torch

from lightning_pose.data.utils import (
    clean_any_nans,
    compute_num_train_frames,
    imagenet_normalize,
    split_indices,
    split_sizes_from_probabilities,
    undo_affine_transform_batch,
)


@pytest.mark.parametrize(
    ("n", "train", "val", "expected"),
    [
        (100, 0.8, None, [80, 10, 10]),
        (100, 0.7, None, [70, 15, 15]),
        (101, 0.7, None, [70, 15, 16]),
        (10, 0.95, 0.05, [9, 1, 0]),
        (90, 0.8, 0.1, [72, 9, 9]),
        (90, 0.95, 0.05, [86, 4, 0]),
    ],
)
def test_split_sizes(n, train, val, expected):
    assert split_sizes_from_probabilities(n, train, val) == expected


def test_split_sizes_guarantees_one_validation_frame():
    # floor(0.05 * 10) = 0 val -> one is moved from train
    assert split_sizes_from_probabilities(10, 0.95, 0.05, 0.0) == [9, 1, 0]
    with pytest.raises(ValueError, match="at least two labeled frames"):
        split_sizes_from_probabilities(1, 0.95, 0.05)


def test_split_sizes_reject_probabilities_not_summing_to_one():
    with pytest.raises(ValueError, match="sum to 1.0"):
        split_sizes_from_probabilities(100, 0.8, 0.1, 0.2)


@pytest.mark.parametrize(("train_frames", "expected"), [(None, 10), (1, 10), (5, 5), (0.5, 5), (0.2, 2)])
def test_compute_num_train_frames(train_frames, expected):
    assert compute_num_train_frames(10, train_frames) == expected


def test_compute_num_train_frames_caps_at_dataset_size():
    with pytest.warns(UserWarning, match="using all training frames"):
        assert compute_num_train_frames(10, 11) == 10


def test_compute_num_train_frames_rejects_non_positive():
    with pytest.raises(ValueError, match="train_frames must be > 0, got -1"):
        compute_num_train_frames(10, -1)


def test_split_indices_match_random_split():
    sizes = split_sizes_from_probabilities(90, 0.8, 0.1)
    train, val, test = split_indices(90, sizes, seed=42)
    parts = torch.utils.data.random_split(range(90), sizes, generator=torch.Generator().manual_seed(42))
    assert train == list(parts[0].indices)
    assert val == list(parts[1].indices)
    assert test == list(parts[2].indices)
    assert sorted(train + val + test) == list(range(90))
    with pytest.raises(ValueError, match="summing to 90"):
        split_indices(90, [70, 10, 5], seed=0)


def test_imagenet_normalize_values():
    pixels = torch.tensor([0, 255, 51], dtype=torch.uint8).view(3, 1, 1)
    out = imagenet_normalize(pixels)
    expected = [(0 - 0.485) / 0.229, (1 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx(expected, rel=1e-6)
    assert imagenet_normalize(torch.zeros(2, 5, 3, 4, 4, dtype=torch.uint8)).shape == (2, 5, 3, 4, 4)


def test_clean_any_nans():
    data = torch.tensor([[1.0, float("nan"), 3.0], [4.0, 5.0, 6.0]])
    assert clean_any_nans(data, dim=0).tolist() == [[1.0, 3.0], [4.0, 6.0]]
    assert clean_any_nans(data, dim=1).tolist() == [[4.0, 5.0, 6.0]]


def _rotation_scale(angle_deg, scale, tx, ty):
    c, s = math.cos(math.radians(angle_deg)) * scale, math.sin(math.radians(angle_deg)) * scale
    return torch.tensor([[c, -s, tx], [s, c, ty]])


def test_undo_affine_single_matrix():
    mat = torch.tensor([[2.0, 0.0, 10.0], [0.0, 4.0, -2.0]])
    original = torch.tensor([[[1.0, 1.0], [3.0, -1.0]], [[0.0, 0.5], [2.0, 2.0]]])  # (L=2, K=2, 2)
    augmented = original * torch.tensor([2.0, 4.0]) + torch.tensor([10.0, -2.0])
    out = undo_affine_transform_batch(augmented.reshape(2, 4), mat)
    assert torch.allclose(out, original.reshape(2, 4))


def test_undo_affine_per_frame_matrices_and_gradient():
    mats = torch.stack([_rotation_scale(30, 1.2, 5, 7), _rotation_scale(-90, 0.5, 0, 1)])
    original = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 0.0], [2.0, -3.0]]])
    augmented = torch.einsum("lij,lkj->lki", mats[:, :, :2], original) + mats[:, None, :, 2]
    augmented = augmented.reshape(2, 4).requires_grad_(True)
    out = undo_affine_transform_batch(augmented, mats)
    assert torch.allclose(out, original.reshape(2, 4), atol=1e-5)
    out.sum().backward()
    assert augmented.grad is not None and torch.isfinite(augmented.grad).all()


def test_undo_affine_multiview_uses_each_views_matrix():
    shift = torch.tensor([[1.0, 0.0, 5.0], [0.0, 1.0, 0.0]])
    double = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    mats = torch.stack([shift, double])
    augmented = torch.tensor([[6.0, 1.0, 4.0, 8.0]])  # view 0 keypoint (6, 1), view 1 keypoint (4, 8)
    out = undo_affine_transform_batch(augmented, mats, is_multiview=True)
    assert out.tolist() == [[1.0, 1.0, 2.0, 4.0]]


def test_undo_affine_marker_means_identity():
    kps = torch.arange(8.0).reshape(2, 4)
    assert undo_affine_transform_batch(kps, torch.tensor([-1.0])) is kps
