"""Temporal losses on keypoints and on heatmaps (values worked out by hand)."""

import math

import pytest
import torch

from lightning_pose.losses.temporal import TemporalHeatmapLoss, TemporalLoss

SQRT2, SQRT3, SQRT6 = math.sqrt(2), math.sqrt(3), math.sqrt(6)


def test_single_step_distance():
    # one keypoint moving from (0, 0) to (sqrt2, sqrt2): distance 2
    loss, logs = TemporalLoss()(torch.tensor([[0.0, 0.0], [SQRT2, SQRT2]]), stage="train")
    assert float(loss) == pytest.approx(2.0)
    assert [entry["name"] for entry in logs] == ["train_temporal_loss", "temporal_weight"]


def test_mean_over_steps_and_scalar_epsilon():
    preds = torch.tensor([[0.0, 0.0], [SQRT2, SQRT2], [SQRT3 + SQRT2, SQRT3 + SQRT2]])
    # steps: 2 and |(sqrt3, sqrt3)| = sqrt6
    loss, _ = TemporalLoss()(preds)
    assert float(loss) == pytest.approx((2 + SQRT6) / 2, rel=1e-6)
    loss, _ = TemporalLoss(epsilon=2.1)(preds)
    assert float(loss) == pytest.approx((0 + (SQRT6 - 2.1)) / 2, rel=1e-5)


@pytest.mark.parametrize(
    "epsilon, expected",
    [([0.1, 0.0, 0.5], [0.0, 1.0, 0.0]), ([0.1, 0.0, 0.3], [0.0, 1.0, 0.1])],
)
def test_per_keypoint_epsilon(epsilon, expected):
    out = TemporalLoss(epsilon=epsilon).rectify_epsilon(torch.tensor([[0.0, 1.0, 0.4]]))
    assert out[0].tolist() == pytest.approx(expected)


def test_per_keypoint_epsilon_in_the_full_loss():
    # keypoint 0 steps: 5, 0; keypoint 1 steps: 1, 2
    preds = torch.tensor([[0.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 1.0], [3.0, 4.0, 0.0, 3.0]])
    loss, _ = TemporalLoss()(preds)
    assert float(loss) == pytest.approx((5 + 0 + 1 + 2) / 4)
    # epsilon (0.5, 1.5): keypoint 0 -> 4.5, 0; keypoint 1 -> 0, 0.5
    loss, _ = TemporalLoss(epsilon=[0.5, 1.5])(preds)
    assert float(loss) == pytest.approx((4.5 + 0.5) / 4)


def test_per_keypoint_epsilon_of_wrong_length():
    with pytest.raises(ValueError, match="epsilon has 3 per-keypoint values"):
        TemporalLoss(epsilon=[1.0, 1.0, 1.0])(torch.zeros(3, 4))


def test_low_confidence_steps_are_zeroed_but_counted():
    preds = torch.tensor([[0.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 1.0], [3.0, 4.0, 0.0, 3.0]])
    confidences = torch.tensor([[0.9, 0.9], [0.01, 0.9], [0.9, 0.9]])
    # keypoint 0 is unsure in frame 1, so both of its steps are zeroed: (0 + 0 + 1 + 2) / 4
    loss, _ = TemporalLoss(prob_threshold=0.05)(preds, confidences=confidences)
    assert float(loss) == pytest.approx(0.75)
    # without a threshold nothing is masked
    loss, _ = TemporalLoss()(preds, confidences=confidences)
    assert float(loss) == pytest.approx(2.0)


def test_log_weight_sets_weight_not_loss():
    loss = TemporalLoss(log_weight=1.0)
    value, logs = loss(torch.tensor([[0.0, 0.0], [SQRT2, SQRT2]]), stage="val")
    assert float(value) == pytest.approx(2.0)
    assert float(logs[1]["value"]) == pytest.approx(1 / (2 * math.e))  # 0.18394


def test_gradient_of_a_still_keypoint_is_finite():
    preds = torch.zeros(3, 2, requires_grad=True)
    loss, _ = TemporalLoss()(preds)
    loss.backward()
    assert torch.all(torch.isfinite(preds.grad))


UNIFORM = [[0.25, 0.25], [0.25, 0.25]]
HALF_HALF = [[0.5, 0.5], [0.0, 0.0]]


def clip(*frames):
    """(frames, 1 keypoint, 2, 2) heatmaps."""
    return torch.tensor([[frame] for frame in frames])


def test_temporal_heatmap_mse():
    heatmaps = clip(UNIFORM, HALF_HALF, UNIFORM)
    confidences = torch.ones(3, 1)
    # each step: mean over 4 pixels of 0.25^2 = 0.0625
    loss, logs = TemporalHeatmapLoss("temporal_heatmap_mse")(heatmaps, confidences, stage="train")
    assert float(loss) == pytest.approx(0.0625)
    assert logs[0]["name"] == "train_temporal_heatmap_mse_loss"
    # epsilon 0.05 leaves 0.0125 per step
    loss, _ = TemporalHeatmapLoss("temporal_heatmap_mse", epsilon=0.05)(heatmaps, confidences)
    assert float(loss) == pytest.approx(0.0125, rel=1e-5)


def test_temporal_heatmap_kl_is_kl_of_next_from_current():
    heatmaps = clip(UNIFORM, HALF_HALF, UNIFORM)
    # KL(H1 || H0) = ln 2; KL(H2 || H1) = 2 * .25 * ln(.25 / .5) + 2 * .25 * ln(.25 / 1e-10)
    second = 0.5 * math.log(0.5) + 0.5 * math.log(0.25 / 1e-10)
    loss, _ = TemporalHeatmapLoss("temporal_heatmap_kl")(heatmaps, torch.ones(3, 1))
    assert float(loss) == pytest.approx((math.log(2) + second) / 2, rel=1e-4)


def test_temporal_heatmap_confidence_mask():
    heatmaps = clip(UNIFORM, HALF_HALF, UNIFORM)
    confidences = torch.tensor([[0.9], [0.9], [0.01]])  # frame 2 unsure -> step 1 zeroed
    loss, _ = TemporalHeatmapLoss("temporal_heatmap_kl", prob_threshold=0.05)(heatmaps, confidences)
    assert float(loss) == pytest.approx(math.log(2) / 2, rel=1e-5)
    loss, _ = TemporalHeatmapLoss("temporal_heatmap_mse", prob_threshold=0.05)(heatmaps, confidences)
    assert float(loss) == pytest.approx(0.0625 / 2)


def test_temporal_heatmap_invalid_name():
    with pytest.raises(ValueError, match="temporal_heatmap_js"):
        TemporalHeatmapLoss("temporal_heatmap_js")
