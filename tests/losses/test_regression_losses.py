"""Regression MSE loss and the RMSE diagnostic."""

import math

import pytest
import torch

from lightning_pose.losses.regression import RegressionMSELoss, RegressionRMSELoss


def test_targets_two_predictions_zero():
    targets = torch.full((3, 4), 2.0)
    preds = torch.zeros(3, 4)
    mse, logs = RegressionMSELoss()(targets, preds, stage="train")
    rmse, _ = RegressionRMSELoss()(targets, preds)
    assert float(mse) == pytest.approx(4.0)
    assert float(rmse) == pytest.approx(2.0)
    assert logs[0]["name"] == "train_regression_loss"


def test_nan_targets_are_ignored():
    targets = torch.tensor([[2.0, 2.0, float("nan"), float("nan")]])
    preds = torch.tensor([[0.0, 0.0, 100.0, 100.0]])
    mse, _ = RegressionMSELoss()(targets, preds)
    rmse, _ = RegressionRMSELoss()(targets, preds)
    assert float(mse) == pytest.approx(4.0)
    assert float(rmse) == pytest.approx(2.0)


def test_rmse_is_euclidean_error_over_sqrt2():
    # one keypoint off by (3, 4): mse = (9 + 16) / 2 = 12.5; rmse = sqrt(12.5) = 5 / sqrt2
    targets, preds = torch.tensor([[3.0, 4.0]]), torch.zeros(1, 2)
    assert float(RegressionMSELoss()(targets, preds)[0]) == pytest.approx(12.5)
    assert float(RegressionRMSELoss()(targets, preds)[0]) == pytest.approx(5 / math.sqrt(2))


def test_rmse_averages_over_keypoints():
    # keypoint errors (3, 4) and (0, 0): rmse values 5/sqrt2 and 0 -> mean 5 / (2 sqrt2)
    targets = torch.tensor([[3.0, 4.0, 1.0, 1.0]])
    preds = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    rmse, logs = RegressionRMSELoss()(targets, preds, stage="val")
    assert float(rmse) == pytest.approx(5 / (2 * math.sqrt(2)))
    assert logs[0]["name"] == "val_rmse_loss"


def test_gradient_skips_unlabeled_coordinates():
    targets = torch.tensor([[1.0, float("nan")]])
    preds = torch.zeros(1, 2, requires_grad=True)
    loss, _ = RegressionMSELoss()(targets, preds)
    loss.backward()
    assert preds.grad.tolist() == [[-2.0, 0.0]]
