"""Heatmap MSE / KL / JS losses on tiny hand-made heatmaps."""

import math

import pytest
import torch

from lightning_pose.losses.heatmap import HeatmapJSLoss, HeatmapKLLoss, HeatmapMSELoss

ONE_HOT = [[1.0, 0.0], [0.0, 0.0]]
HALF_HALF = [[0.5, 0.5], [0.0, 0.0]]
UNIFORM = [[0.25, 0.25], [0.25, 0.25]]
ZEROS = [[0.0, 0.0], [0.0, 0.0]]


def maps(*heatmaps):
    """(1, K, h, w) tensor from K nested lists."""
    return torch.tensor([list(heatmaps)])


def test_mse_scales_by_pixel_count_and_averages_elements():
    # (1 - 0.5)^2 and (0 - 0.5)^2 at two pixels, 0 elsewhere; x (h*w = 4) -> [1, 1, 0, 0]
    loss, logs = HeatmapMSELoss()(maps(ONE_HOT), maps(HALF_HALF), stage="train")
    assert float(loss) == pytest.approx(0.5)
    assert logs[0]["name"] == "train_heatmap_mse_loss"


def test_mse_3x3_one_hot_against_uniform():
    target = torch.zeros(1, 1, 3, 3)
    target[0, 0, 1, 1] = 1.0
    pred = torch.full((1, 1, 3, 3), 1 / 9)
    # squared errors: (8/9)^2 once, (1/9)^2 eight times -> sum 72/81 = 8/9; x9 / 9 elements
    loss, _ = HeatmapMSELoss()(target, pred)
    assert float(loss) == pytest.approx(8 / 9, rel=1e-6)


def test_remove_nans_drops_all_zero_targets_and_keeps_uniform_ones():
    targets = maps(ONE_HOT, ZEROS, UNIFORM)
    preds = maps(HALF_HALF, UNIFORM, UNIFORM)
    clean_t, clean_p = HeatmapMSELoss().remove_nans(targets=targets, predictions=preds)
    assert clean_t.shape == (2, 2, 2)
    assert torch.equal(clean_t, torch.tensor([ONE_HOT, UNIFORM]))
    assert torch.equal(clean_p, torch.tensor([HALF_HALF, UNIFORM]))
    # the dropped keypoint does not count: elements [1, 1, 0, 0] and [0, 0, 0, 0] -> 2 / 8
    loss, _ = HeatmapMSELoss()(targets, preds)
    assert float(loss) == pytest.approx(0.25)


def test_kl_is_kl_of_target_from_prediction():
    # KL(t || p) with t = (.5, .5, 0, 0), p = .25 each: 2 * .5 * ln(.5 / .25) = ln 2
    loss, logs = HeatmapKLLoss()(maps(HALF_HALF), maps(UNIFORM), stage="val")
    assert float(loss) == pytest.approx(math.log(2), abs=1e-6)
    assert logs[0]["name"] == "val_heatmap_kl_loss"


def test_js_divergence():
    # m = (.375, .375, .125, .125); KL(t||m) = ln(4/3); KL(p||m) = .5 ln(2/3) + .5 ln 2
    expected = 0.5 * math.log(4 / 3) + 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2))
    loss, _ = HeatmapJSLoss()(maps(HALF_HALF), maps(UNIFORM))
    assert float(loss) == pytest.approx(expected, abs=1e-6)  # 0.215762
    assert expected == pytest.approx(0.215762, abs=1e-6)


def test_kl_and_js_average_over_kept_heatmaps():
    targets = maps(HALF_HALF, ZEROS, UNIFORM)
    preds = maps(UNIFORM, HALF_HALF, UNIFORM)
    loss, _ = HeatmapKLLoss()(targets, preds)
    assert float(loss) == pytest.approx(math.log(2) / 2, abs=1e-6)  # (ln 2 + 0) / 2


@pytest.mark.parametrize("loss_cls", [HeatmapMSELoss, HeatmapKLLoss, HeatmapJSLoss])
def test_all_zero_targets_give_zero_with_finite_gradient(loss_cls):
    preds = torch.tensor([[UNIFORM, HALF_HALF]], requires_grad=True)
    loss, _ = loss_cls()(torch.zeros(1, 2, 2, 2), preds)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert preds.grad is not None and torch.all(preds.grad == 0)


def test_mse_gradient_flows_to_predictions():
    preds = maps(HALF_HALF).requires_grad_(True)
    loss, _ = HeatmapMSELoss()(maps(ONE_HOT), preds)
    loss.backward()
    # d/dp mean(4 (t - p)^2) over 4 elements = 2 (p - t): (-1, 1, 0, 0)
    assert preds.grad.flatten().tolist() == pytest.approx([-1.0, 1.0, 0.0, 0.0])


def test_heatmap_losses_ignore_epsilon_and_use_log_weight():
    loss = HeatmapMSELoss(log_weight=3.0, epsilon=100.0)
    value, _ = loss(maps(ONE_HOT), maps(HALF_HALF))
    assert float(value) == pytest.approx(0.5)
    assert float(loss.weight) == pytest.approx(0.024894, rel=1e-4)
