"""Supervised 3-D losses: pairwise projections and reprojection heatmaps."""

import math

import pytest
import torch

from lightning_pose.losses.multiview_3d import PairwiseProjectionsLoss, ReprojectionHeatmapLoss

NAN = float("nan")


def test_pairwise_zeros_against_ones_is_sqrt3():
    targets = torch.zeros(2, 3, 3)
    preds = torch.ones(2, 4, 3, 3)
    loss, logs = PairwiseProjectionsLoss()(targets, preds, stage="train")
    assert float(loss) == pytest.approx(math.sqrt(3))
    assert logs[0]["name"] == "train_supervised_pairwise_projections_loss"


def test_pairwise_nan_entries_are_skipped_with_finite_gradients():
    targets = torch.tensor([[[0.0, 0.0, 0.0], [NAN, NAN, NAN]]])  # (1, 2 keypoints, 3)
    preds = torch.tensor([[[[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]], [[0.0, 0.0, 1.0], [NAN, 0.0, 0.0]]]])
    preds.requires_grad_(True)
    # valid distances: pair 0 keypoint 0 -> 5, pair 1 keypoint 0 -> 1
    loss, _ = PairwiseProjectionsLoss()(targets, preds)
    assert float(loss.detach()) == pytest.approx(3.0)
    loss.backward()
    assert torch.all(torch.isfinite(preds.grad))
    assert torch.all(preds.grad[:, :, 1] == 0)  # keypoint 1 has no target


def test_pairwise_all_nan_gives_graph_connected_zero():
    preds = torch.ones(1, 2, 2, 3, requires_grad=True)
    loss, _ = PairwiseProjectionsLoss()(torch.full((1, 2, 3), NAN), preds)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.all(preds.grad == 0)


def test_pairwise_missing_inputs():
    with pytest.raises(ValueError, match="camera_params_file"):
        PairwiseProjectionsLoss()(None, torch.ones(1, 1, 1, 3), stage="val")


def reprojection_loss():
    # 4x4 image, 2x2 heatmaps: image point (1, 1) is the heatmap-grid centre (0.5, 0.5)
    return ReprojectionHeatmapLoss(
        original_image_height=4,
        original_image_width=4,
        downsampled_image_height=2,
        downsampled_image_width=2,
        log_weight=3.0,
    )


def test_reprojection_heatmap_mse_scales_by_h_times_w():
    # at the grid centre all four pixels are equidistant: the rendered heatmap is 0.25 each
    targets = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]])
    keypoints = torch.tensor([[[1.0, 1.0], [3.0, 0.0]]], requires_grad=True)
    # kept heatmap: squared errors (.75^2, .25^2 x3) x (h*w = 4) = (2.25, .25, .25, .25)
    loss, logs = reprojection_loss()(targets, keypoints, stage="train")
    assert float(loss.detach()) == pytest.approx(0.75, rel=1e-5)
    assert logs[0]["name"] == "train_supervised_reprojection_heatmap_mse_loss"
    loss.backward()
    assert torch.all(torch.isfinite(keypoints.grad))
    assert keypoints.grad[0, 0].abs().sum() > 0  # gradients reach the reprojected keypoints


def test_reprojection_heatmap_all_zero_targets():
    keypoints = torch.tensor([[[1.0, 1.0]]], requires_grad=True)
    loss, _ = reprojection_loss()(torch.zeros(1, 1, 2, 2), keypoints)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.all(keypoints.grad == 0)


def test_reprojection_heatmap_errors():
    with pytest.raises(ValueError, match="Reprojected keypoints not available"):
        reprojection_loss()(torch.zeros(1, 1, 2, 2), None)
    with pytest.raises(ValueError, match="downsampled_image_height"):
        reprojection_loss()(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2))
