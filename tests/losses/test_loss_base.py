"""Base Loss: weight formula, epsilon rectification, reduction, log entries, state dict."""

import math

import pytest
import torch

from lightning_pose.losses.base import LOSSES, Loss, loss_required_keys
from lightning_pose.losses.losses import (
    HeatmapMSELoss,
    PairwiseProjectionsLoss,
    RegressionMSELoss,
    RegressionRMSELoss,
    ReprojectionHeatmapLoss,
    TemporalHeatmapLoss,
    TemporalLoss,
)


@pytest.mark.parametrize(
    "log_weight, expected",
    [(0.0, 0.5), (3.0, 0.024894), (10.7, 1.12725e-5), (11.0, 8.3508e-6)],
)
def test_weight_is_one_over_two_exp_log_weight(log_weight, expected):
    # 1/(2e^3) = 1/40.171; 1/(2e^10.7) = 1/88711.7; 1/(2e^11) = 1/119748.3
    loss = Loss(log_weight=log_weight)
    assert float(loss.weight) == pytest.approx(expected, rel=1e-4)


def test_rectify_epsilon_is_relu_of_loss_minus_epsilon():
    loss = Loss(epsilon=1.5)
    out = loss.rectify_epsilon(torch.tensor([0.5, 1.5, 2.0, 4.0]))
    assert out.tolist() == [0.0, 0.0, 0.5, 2.5]


def test_reduce_loss_mean_and_sum():
    loss = Loss()
    values = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert float(loss.reduce_loss(values, method="mean")) == 3.0
    assert float(loss.reduce_loss(values, method="sum")) == 12.0


def test_log_loss_names_and_values():
    loss = HeatmapMSELoss(log_weight=3.0)
    logs = loss.log_loss(torch.tensor(2.0), stage="train")
    assert logs[0] == {"name": "train_heatmap_mse_loss", "value": torch.tensor(2.0), "prog_bar": True}
    assert logs[1]["name"] == "heatmap_mse_weight"
    assert float(logs[1]["value"]) == pytest.approx(1 / (2 * math.exp(3.0)))


def test_base_methods_are_abstract():
    loss = Loss()
    with pytest.raises(NotImplementedError):
        loss.remove_nans()
    with pytest.raises(NotImplementedError):
        loss.compute_loss()
    with pytest.raises(NotImplementedError):
        loss(keypoints_pred=torch.zeros(2, 2))


def test_settings_are_buffers_outside_the_state_dict():
    loss = TemporalLoss(epsilon=[1.0, 2.0], prob_threshold=0.05, log_weight=2.0)
    assert loss.state_dict() == {}
    assert list(loss.parameters()) == []
    moved = loss.to(torch.float64)
    assert moved.epsilon.dtype == torch.float64 and moved.log_weight.dtype == torch.float64


def test_epsilon_must_be_numeric():
    with pytest.raises(ValueError, match="epsilon"):
        Loss(epsilon=True)


def test_supervised_flags():
    assert HeatmapMSELoss.supervised and RegressionMSELoss.supervised
    assert PairwiseProjectionsLoss.supervised and ReprojectionHeatmapLoss.supervised
    assert not TemporalLoss.supervised and not TemporalHeatmapLoss.supervised
    assert not LOSSES.get("pca_singleview").supervised


def test_registry_names_and_unknown_name():
    assert set(LOSSES.names()) == {
        "regression", "heatmap_mse", "heatmap_kl", "heatmap_js", "pca_multiview",
        "pca_singleview", "temporal", "temporal_heatmap_mse", "temporal_heatmap_kl",
        "supervised_pairwise_projections", "supervised_reprojection_heatmap_mse",
    }
    assert "rmse" not in LOSSES  # the RMSE diagnostic is importable, not configurable
    assert RegressionRMSELoss.loss_name == "rmse"
    with pytest.raises(ValueError, match="allowed"):
        LOSSES.get("unimodal_mse")


def test_loss_required_keys():
    assert loss_required_keys(RegressionMSELoss) == {"keypoints_targ", "keypoints_pred"}
    assert loss_required_keys(HeatmapMSELoss) == {"heatmaps_targ", "heatmaps_pred"}
    assert loss_required_keys(TemporalLoss) == {"keypoints_pred"}
    assert loss_required_keys(TemporalHeatmapLoss) == {"heatmaps_pred", "confidences"}
    assert loss_required_keys(LOSSES.get("pca_multiview")) == {"keypoints_pred"}
    assert loss_required_keys(PairwiseProjectionsLoss) == {"keypoints_targ_3d", "keypoints_pred_3d"}
    assert loss_required_keys(ReprojectionHeatmapLoss) == {
        "heatmaps_targ", "keypoints_pred_2d_reprojected",
    }
    assert loss_required_keys(Loss) == set()
