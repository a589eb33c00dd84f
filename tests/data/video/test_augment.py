"""Unlabeled-frame augmentation: matrix conventions, warping alignment, photometric ops."""

import math

import pytest
import torch

from lightning_pose.data.video import affine_matrix, uses_unlabeled_augmentation, warp_frames
from lightning_pose.data.video.augment import (
    augment_sequence,
    brightness_contrast,
    imagenet_normalize_255,
    sample_unlabeled_augmentation,
    shot_noise,
)


def _blob(height: int, width: int, x: float, y: float, sigma: float = 1.5) -> torch.Tensor:
    """(1, 3, H, W) Gaussian spot centred at continuous pixel coordinates (x, y)."""
    cols = torch.arange(width, dtype=torch.float32) + 0.5
    rows = torch.arange(height, dtype=torch.float32) + 0.5
    spot = torch.exp(-((cols[None] - x) ** 2 + (rows[:, None] - y) ** 2) / (2 * sigma**2))
    return (255.0 * spot).expand(1, 3, height, width).clone()


def _centroid(image: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Intensity-weighted centre (x, y) in continuous pixel coordinates of a (H, W) image."""
    weights = torch.where(image > threshold, image, torch.zeros_like(image)).double()
    height, width = image.shape
    cols = torch.arange(width, dtype=torch.float64) + 0.5
    rows = torch.arange(height, dtype=torch.float64) + 0.5
    total = weights.sum()
    return torch.stack([(weights.sum(0) * cols).sum() / total, (weights.sum(1) * rows).sum() / total])


def test_presets_with_unlabeled_augmentation():
    assert uses_unlabeled_augmentation("dlc") and uses_unlabeled_augmentation("dlc-top-down")
    for other in ("default", "none", "dlc-lr", "dlc-mv", {"Affine": {"p": 1.0}}):
        assert not uses_unlabeled_augmentation(other)


def test_affine_matrix_hand_computed_on_a_non_square_image():
    # scale only: A = diag(1.2, 0.8), t = c - A c with c = (W/2, H/2) = (30, 20)
    m = affine_matrix(0.0, 1.2, 0.8, height=40, width=60)
    assert torch.allclose(m, torch.tensor([[1.2, 0.0, -6.0], [0.0, 0.8, 4.0]]), atol=1e-6)
    # 90 degrees about (30, 20): (40, 20) -> (30, 30); the true centre is fixed (LP used (H/2, W/2))
    m = affine_matrix(90.0, 1.0, 1.0, height=40, width=60)
    apply = lambda p: m[:, :2] @ torch.tensor(p) + m[:, 2]  # noqa: E731
    assert torch.allclose(apply([40.0, 20.0]), torch.tensor([30.0, 30.0]), atol=1e-5)
    assert torch.allclose(apply([30.0, 20.0]), torch.tensor([30.0, 20.0]), atol=1e-5)


def test_identity_warp_keeps_the_image():
    image = _blob(24, 40, 11.0, 7.0)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert torch.allclose(warp_frames(image, identity), image, atol=1e-3)


@pytest.mark.parametrize(
    "angle, sx, sy, x, y",
    [(8.0, 1.15, 0.85, 20.5, 14.5), (-10.0, 0.8, 1.2, 45.0, 30.0), (3.0, 1.2, 1.2, 32.0, 24.0)],
)
def test_bright_dot_lands_where_the_matrix_maps_it(angle, sx, sy, x, y):
    height, width = 48, 64
    image = _blob(height, width, x, y)
    matrix = affine_matrix(angle, sx, sy, height, width)
    warped = warp_frames(image, matrix)
    expected = matrix[:, :2].double() @ torch.tensor([x, y], dtype=torch.float64) + matrix[:, 2]
    assert torch.allclose(_centroid(warped[0, 0]), expected, atol=0.15)


def test_outside_content_is_zero():
    image = torch.full((1, 3, 20, 30), 200.0)
    warped = warp_frames(image, affine_matrix(0.0, 0.8, 0.8, 20, 30))
    assert warped[0, :, 0, 0].abs().max() < 1e-4  # corner came from outside the frame
    assert torch.allclose(warped[0, :, 10, 15], torch.full((3,), 200.0))


def test_brightness_contrast_formula():
    out = brightness_contrast(torch.tensor([100.0, 0.5]), brightness=1.2, contrast=0.8)
    # 1.2 * (0.5 + 0.8 * (100 - 0.5)) = 96.12; the contrast centre 0.5 is only scaled by b
    assert torch.allclose(out, torch.tensor([96.12, 0.6]))


def test_shot_noise():
    x = torch.full((20000,), 100.0)
    assert shot_noise(x, 0.0, torch.Generator().manual_seed(0)) is x
    noisy = shot_noise(x, 2.0, torch.Generator().manual_seed(0))
    assert torch.all(torch.remainder(noisy, 2.0) == 0)  # quantised to multiples of the factor
    assert abs(noisy.mean().item() - 100.0) < 1.0
    assert abs(noisy.var().item() - 200.0) < 20.0  # var = factor * mean


def test_sampled_parameters_stay_in_range():
    generator = torch.Generator().manual_seed(3)
    draws = [sample_unlabeled_augmentation(generator) for _ in range(300)]
    assert all(-10 <= d.angle_deg <= 10 for d in draws)
    assert all(0.8 <= v <= 1.2 for d in draws for v in (d.scale_x, d.scale_y))
    assert all(0.75 <= v <= 1.25 for d in draws for v in (d.brightness, d.contrast))
    assert all(0 <= d.shot_factor <= 10 for d in draws)
    assert min(d.angle_deg for d in draws) < -9 and max(d.angle_deg for d in draws) > 9


def test_augment_sequence_uses_one_matrix_for_all_frames():
    frames = torch.cat([_blob(32, 40, 15.0 + 2 * i, 12.0, sigma=2.0) for i in range(4)])
    out, matrix = augment_sequence(frames, torch.Generator().manual_seed(5))
    assert out.shape == frames.shape and matrix.shape == (2, 3)
    a = matrix[:, :2]
    scale_det = torch.linalg.det(a).item()
    assert 0.64 - 1e-5 <= scale_det <= 1.44 + 1e-5
    for i in range(4):
        expected = a.double() @ torch.tensor([15.0 + 2 * i, 12.0], dtype=torch.float64) + matrix[:, 2]
        centre = _centroid(out[i, 0], threshold=0.5 * out[i, 0].max().item())
        assert torch.allclose(centre, expected, atol=0.6)


def test_imagenet_normalisation_range():
    frames = torch.tensor([0.0, 255.0]).view(2, 1, 1, 1).expand(2, 3, 2, 2)
    out = imagenet_normalize_255(frames)
    assert math.isclose(out[0, 0, 0, 0].item(), -0.485 / 0.229, rel_tol=1e-6)
    assert math.isclose(out[1, 2, 0, 0].item(), (1 - 0.406) / 0.225, rel_tol=1e-6)
