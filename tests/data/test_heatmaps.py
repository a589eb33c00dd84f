"""Gaussian heatmap targets and window confidences, checked against hand-computed values."""

import math

import torch

from lightning_pose.data.heatmaps import evaluate_heatmaps_at_location, generate_heatmaps


def test_gaussian_target_values():
    # keypoint (4, 4) in a 16x16 image -> (1, 1) on a 4x4 grid; sigma 1.25 -> 2*sigma^2 = 3.125
    heatmaps = generate_heatmaps(torch.tensor([[[4.0, 4.0]]]), 16, 16, (4, 4))
    row = [math.exp(-((i - 1) ** 2) / 3.125) for i in range(4)]  # 0.72615, 1, 0.72615, 0.27804
    total = sum(row) ** 2
    expected = torch.tensor([[r * c / total for c in row] for r in row])
    torch.testing.assert_close(heatmaps[0, 0], expected)
    assert abs(heatmaps[0, 0, 1, 1].item() - 0.134140) < 1e-5
    assert abs(heatmaps.sum().item() - 1.0) < 1e-6


def test_nan_and_far_outside_keypoints_are_zero_without_visibility():
    keypoints = torch.tensor([[[float("nan"), float("nan")], [-20.0, 3.0], [8.0, 8.0]]])
    heatmaps = generate_heatmaps(keypoints, 16, 16, (4, 4))
    assert torch.all(heatmaps[0, :2] == 0)
    assert abs(heatmaps[0, 2].sum().item() - 1.0) < 1e-6


def test_visibility_semantics():
    keypoints = torch.tensor([[[8.0, 8.0], [float("nan"), float("nan")], [8.0, 8.0], [float("nan"), 1.0]]])
    visibility = torch.tensor([[0, 1, 2, 2]])
    heatmaps = generate_heatmaps(keypoints, 16, 16, (4, 4), visibility=visibility)
    assert torch.all(heatmaps[0, 0] == 0)  # 0: not visible
    torch.testing.assert_close(heatmaps[0, 1], torch.full((4, 4), 1 / 16))  # 1: uniform
    assert heatmaps[0, 2].argmax() == 2 * 4 + 2  # 2: Gaussian at (2, 2)
    assert torch.all(heatmaps[0, 3] == 0)  # 2 but invalid: zeros


def test_keep_gradients():
    keypoints = torch.tensor([[[5.0, 6.0]]], requires_grad=True)
    heatmaps = generate_heatmaps(keypoints, 16, 16, (8, 8), keep_gradients=True)
    (heatmaps[0, 0, 3, 2]).backward()
    assert keypoints.grad is not None and torch.all(torch.isfinite(keypoints.grad))


def test_window_confidence_hand_computed():
    heatmaps = torch.arange(1.0, 50.0).reshape(1, 1, 7, 7) / 1225.0  # sums to 1
    # location (3.9, 3.2) truncates to column 3, row 3: the 5x5 window rows 1..5, cols 1..5
    conf = evaluate_heatmaps_at_location(heatmaps, torch.tensor([[[3.9, 3.2]]]))
    window = sum((7 * r + c + 1) for r in range(1, 6) for c in range(1, 6)) / 1225.0
    torch.testing.assert_close(conf, torch.tensor([[window]]))
    # corner location (0, 0): only rows 0..2, cols 0..2 lie on the grid
    conf = evaluate_heatmaps_at_location(heatmaps, torch.tensor([[[0.0, 0.0]]]))
    corner = sum((7 * r + c + 1) for r in range(3) for c in range(3)) / 1225.0
    torch.testing.assert_close(conf, torch.tensor([[corner]]))
