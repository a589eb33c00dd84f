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


def test_window_confidence_equals_a_box_filter_read_at_each_location():
    """The window sums equal a 5x5 box filter of the whole map (zero border) read at each truncated,
    clamped location: off-grid locations included; the gradient reaches only the window."""
    torch.manual_seed(0)
    heatmaps = torch.rand(3, 4, 9, 11, requires_grad=True)
    locs = torch.stack([torch.rand(3, 4) * 15 - 2, torch.rand(3, 4) * 13 - 2], dim=-1)
    locs[0, 0], locs[0, 1] = torch.tensor([-4.0, 20.0]), torch.tensor([10.99, 8.99])
    conf = evaluate_heatmaps_at_location(heatmaps, locs)
    box = torch.nn.functional.conv2d(heatmaps.detach().reshape(12, 1, 9, 11), torch.ones(1, 1, 5, 5), padding=2)
    xi = locs[..., 0].to(torch.int64).clamp(0, 10).reshape(12)
    yi = locs[..., 1].to(torch.int64).clamp(0, 8).reshape(12)
    torch.testing.assert_close(conf, box[torch.arange(12), 0, yi, xi].reshape(3, 4))
    conf[1, 2].backward()
    x, y = int(xi[6]), int(yi[6])
    expected = torch.zeros(9, 11)
    expected[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = 1.0
    assert torch.equal(heatmaps.grad[1, 2], expected) and heatmaps.grad.abs().sum() == expected.sum()
