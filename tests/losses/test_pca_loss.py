"""PCALoss (singleview and multiview) on labels with a known pose subspace."""

import math

import pytest
import torch

from lightning_pose.losses.pca import PCALoss

MEAN = torch.tensor([10.0, 20.0, 30.0, 40.0])
ALONG = torch.tensor([0.5, 0.5, 0.5, 0.5])
ACROSS = torch.tensor([1.0, -1.0, 0.0, 0.0]) / math.sqrt(2)


class FixedLabels:
    """Test data module: fixed training labels (frames, 2 * keypoints)."""

    def __init__(self, keypoints: torch.Tensor, num_views: int = 1) -> None:
        self.keypoints = keypoints
        self.num_views = num_views
        self.is_multiview = num_views > 1

    def get_training_keypoints(self) -> torch.Tensor:
        return self.keypoints.clone()


def line_labels() -> torch.Tensor:
    return MEAN + torch.arange(-2.0, 3.0)[:, None] * ALONG


def noisy_line_labels() -> torch.Tensor:
    # training errors of keypoint 0: |s| = 1, 2, 2, 2, 1; keypoint 1: 0
    s = torch.tensor([1.0, -2.0, 2.0, -2.0, 1.0])[:, None]
    return MEAN + 10 * torch.arange(-2.0, 3.0)[:, None] * ALONG + s * ACROSS


def singleview_loss(labels, **kwargs):
    return PCALoss("pca_singleview", data_module=FixedLabels(labels), components_to_keep=1, **kwargs)


def test_predictions_in_the_subspace_cost_nothing():
    loss_fn = singleview_loss(line_labels())
    preds = MEAN + torch.tensor([[-3.0], [0.5], [8.0]]) * ALONG
    loss, logs = loss_fn(preds, stage="train")
    assert float(loss) == pytest.approx(0.0, abs=1e-4)
    assert [entry["name"] for entry in logs] == ["train_pca_singleview_loss", "pca_singleview_weight"]


def test_off_subspace_prediction_with_fixed_epsilon():
    loss_fn = singleview_loss(line_labels(), epsilon=0.0)
    # frame 0 on the line, frame 1 moved by 3 (1, -1, 0, 0): keypoint 0 is 3 sqrt2 away
    preds = torch.stack([MEAN, MEAN + torch.tensor([3.0, -3.0, 0.0, 0.0])])
    loss, _ = loss_fn(preds)
    assert float(loss) == pytest.approx(3 * math.sqrt(2) / 4, abs=1e-4)  # mean over 2 x 2 points
    fixed = singleview_loss(line_labels(), epsilon=1.0)
    assert float(fixed(preds)[0]) == pytest.approx((3 * math.sqrt(2) - 1) / 4, abs=1e-4)


def test_empirical_epsilon_times_multiplier():
    # 70th percentile of (0,0,0,0,0,1,1,2,2,2) = 1.3; x 2 = 2.6
    loss_fn = singleview_loss(
        noisy_line_labels(), empirical_epsilon_percentile=70.0, empirical_epsilon_multiplier=2.0
    )
    assert float(loss_fn.epsilon) == pytest.approx(2.6, abs=1e-4)
    preds = (MEAN + torch.tensor([3.0, -3.0, 0.0, 0.0]))[None]
    loss, _ = loss_fn(preds)
    assert float(loss) == pytest.approx((3 * math.sqrt(2) - 2.6) / 2, abs=1e-4)


def multiview_labels() -> torch.Tensor:
    """10 frames, 2 views x 2 keypoints: view 0 sees (X, Y), view 1 sees (Z, X + Y)."""
    points = torch.randn(10, 2, 3, generator=torch.Generator().manual_seed(0)) * 10
    x, y, z = points.unbind(-1)
    view0 = torch.stack([x, y], dim=-1)
    view1 = torch.stack([z, x + y], dim=-1)
    return torch.cat([view0, view1], dim=1).reshape(10, 8)


def test_multiview_consistency_loss():
    labels = multiview_labels()
    loss_fn = PCALoss(
        "pca_multiview",
        data_module=FixedLabels(labels, num_views=2),
        components_to_keep=3,
        mirrored_column_matches=[0, 1],
        epsilon=0.0,
    )
    assert loss_fn.pca.mirrored_column_matches == [[0, 1], [2, 3]]
    assert float(loss_fn(labels[:3])[0]) == pytest.approx(0.0, abs=1e-3)
    # observations (X, Y, Z, X+Y) span the 3-D space normal to n = (1, 1, 0, -1) / sqrt3;
    # raising keypoint 1's view-1 y by 3 leaves the residual (-1, -1, 0, 1):
    # view 0 error sqrt2, view 1 error 1
    pred = labels[:1].clone()
    pred[0, 7] += 3.0
    loss, logs = loss_fn(pred, stage="val")
    assert float(loss) == pytest.approx((math.sqrt(2) + 1) / 4, abs=1e-3)
    assert logs[0]["name"] == "val_pca_multiview_loss"


def test_constructor_errors():
    labels = FixedLabels(line_labels())
    with pytest.raises(ValueError, match="pca_other"):
        PCALoss("pca_other", data_module=labels)
    with pytest.raises(ValueError, match="mirrored_column_matches"):
        PCALoss("pca_multiview", data_module=labels)
    with pytest.raises(ValueError, match="data module"):
        PCALoss("pca_singleview")


def test_pca_loss_moves_with_to_and_has_no_state():
    loss_fn = singleview_loss(line_labels(), device="cpu")
    assert loss_fn.state_dict() == {}
    loss_fn.to(torch.float64)
    assert loss_fn.epsilon.dtype == torch.float64 and loss_fn.pca.mean.dtype == torch.float64
    loss, _ = loss_fn(line_labels().double())
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
