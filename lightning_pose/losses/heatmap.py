"""Supervised heatmap losses: MSE, KL and Jensen-Shannon between target and predicted heatmaps.

Heatmaps whose target is all zeros (unlabeled, out of frame, visibility 0) are dropped; uniform
targets (visibility 1) are kept. The loss is the mean over every remaining element.
"""

import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lightning_pose.losses.base import LOSSES, Loss, Number, Stage, mean_or_graph_zero

__all__ = [
    "HeatmapLoss",
    "HeatmapMSELoss",
    "HeatmapKLLoss",
    "HeatmapJSLoss",
    "kl_div_2d",
    "js_div_2d",
]

# added to both distributions before taking logs, as Lightning Pose does
_LOG_OFFSET = 1e-10


def kl_div_2d(
    targets: Float[Tensor, "*batch height width"],
    predictions: Float[Tensor, "*batch height width"],
) -> Float[Tensor, "*batch"]:
    """``KL(targets || predictions)`` per heatmap, summed over pixels; inputs must be positive."""
    pointwise = F.kl_div(predictions.flatten(-2).log(), targets.flatten(-2), reduction="none")
    return pointwise.sum(-1)


def js_div_2d(
    targets: Float[Tensor, "*batch height width"],
    predictions: Float[Tensor, "*batch height width"],
) -> Float[Tensor, "*batch"]:
    """Jensen-Shannon divergence per heatmap: ``KL(t||m)/2 + KL(p||m)/2`` with ``m = (t+p)/2``."""
    midpoint = 0.5 * (targets + predictions)
    return 0.5 * kl_div_2d(targets, midpoint) + 0.5 * kl_div_2d(predictions, midpoint)


class HeatmapLoss(Loss):
    """Common flow of the heatmap losses (no epsilon rectification)."""

    supervised = True

    def __init__(
        self, data_module: object | None = None, log_weight: Number = 0.0, **kwargs
    ) -> None:
        super().__init__(data_module=data_module, log_weight=log_weight)

    def remove_nans(
        self,
        targets: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        predictions: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
    ) -> tuple[
        Float[Tensor, "num_valid heatmap_height heatmap_width"],
        Float[Tensor, "num_valid heatmap_height heatmap_width"],
    ]:
        """Keep the (image, keypoint) pairs whose target heatmap is not all zeros."""
        keep = ~(targets.flatten(2) == 0.0).all(dim=-1)
        return targets[keep], predictions[keep]

    def __call__(
        self,
        heatmaps_targ: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        heatmaps_pred: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        targets, predictions = self.remove_nans(targets=heatmaps_targ, predictions=heatmaps_pred)
        elementwise = self.compute_loss(targets=targets, predictions=predictions)
        # a batch without any labeled keypoint gives a graph-connected zero, not NaN
        scalar_loss = mean_or_graph_zero(elementwise)
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)


@LOSSES.register("heatmap_mse", kind="heatmap")
class HeatmapMSELoss(HeatmapLoss):
    """Squared error per pixel, scaled by the number of heatmap pixels ``h * w``."""

    loss_name = "heatmap_mse"

    def compute_loss(
        self,
        targets: Float[Tensor, "num_valid heatmap_height heatmap_width"],
        predictions: Float[Tensor, "num_valid heatmap_height heatmap_width"],
    ) -> Float[Tensor, "num_valid heatmap_height heatmap_width"]:
        height, width = targets.shape[1], targets.shape[2]
        return F.mse_loss(targets, predictions, reduction="none") * height * width


@LOSSES.register("heatmap_kl", kind="heatmap")
class HeatmapKLLoss(HeatmapLoss):
    """``KL(target || prediction)`` per heatmap."""

    loss_name = "heatmap_kl"

    def compute_loss(
        self,
        targets: Float[Tensor, "num_valid heatmap_height heatmap_width"],
        predictions: Float[Tensor, "num_valid heatmap_height heatmap_width"],
    ) -> Float[Tensor, " num_valid"]:
        return kl_div_2d(targets + _LOG_OFFSET, predictions + _LOG_OFFSET)


@LOSSES.register("heatmap_js", kind="heatmap")
class HeatmapJSLoss(HeatmapLoss):
    """Jensen-Shannon divergence between target and prediction per heatmap."""

    loss_name = "heatmap_js"

    def compute_loss(
        self,
        targets: Float[Tensor, "num_valid heatmap_height heatmap_width"],
        predictions: Float[Tensor, "num_valid heatmap_height heatmap_width"],
    ) -> Float[Tensor, " num_valid"]:
        return js_div_2d(targets + _LOG_OFFSET, predictions + _LOG_OFFSET)
