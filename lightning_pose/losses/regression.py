"""Supervised coordinate losses: MSE (the regression tracker's loss) and the RMSE diagnostic.

Target entries that are NaN (unlabeled keypoints) are dropped before the loss is computed.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lightning_pose.losses.base import LOSSES, Loss, Stage

__all__ = ["RegressionMSELoss", "RegressionRMSELoss"]


@LOSSES.register("regression")
class RegressionMSELoss(Loss):
    """Mean squared error over every labeled coordinate."""

    loss_name = "regression"
    supervised = True

    def remove_nans(
        self,
        targets: Float[Tensor, "batch two_x_num_keypoints"],
        predictions: Float[Tensor, "batch two_x_num_keypoints"],
    ) -> tuple[Float[Tensor, " num_valid"], Float[Tensor, " num_valid"]]:
        """Flattened targets and predictions at the coordinates whose target is not NaN."""
        labeled = ~torch.isnan(targets)
        return torch.masked_select(targets, labeled), torch.masked_select(predictions, labeled)

    def compute_loss(
        self,
        targets: Float[Tensor, " num_valid"],
        predictions: Float[Tensor, " num_valid"],
    ) -> Float[Tensor, " num_valid"]:
        return F.mse_loss(targets, predictions, reduction="none")

    def __call__(
        self,
        keypoints_targ: Float[Tensor, "batch two_x_num_keypoints"],
        keypoints_pred: Float[Tensor, "batch two_x_num_keypoints"],
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        targets, predictions = self.remove_nans(targets=keypoints_targ, predictions=keypoints_pred)
        elementwise = self.compute_loss(targets=targets, predictions=predictions)
        scalar_loss = self.reduce_loss(elementwise, method="mean")
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)


class RegressionRMSELoss(RegressionMSELoss):
    """Per keypoint ``sqrt(mean(dx^2, dy^2))`` (= Euclidean error / sqrt(2)), averaged.

    Always-on diagnostic of the trackers; deliberately not in :data:`LOSSES`.
    """

    loss_name = "rmse"

    def compute_loss(
        self,
        targets: Float[Tensor, " num_valid"],
        predictions: Float[Tensor, " num_valid"],
    ) -> Float[Tensor, " num_valid_keypoints"]:
        squared = F.mse_loss(targets.reshape(-1, 2), predictions.reshape(-1, 2), reduction="none")
        return torch.sqrt(squared.mean(dim=1))
