"""Supervised 3-D losses of the multiview transformer (need a camera calibration file).

``supervised_pairwise_projections`` compares the ground-truth 3-D keypoints with the 3-D points
triangulated from every camera pair; ``supervised_reprojection_heatmap_mse`` renders the
reprojected 2-D keypoints as heatmaps and compares them with the target heatmaps.
"""

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.heatmaps import generate_heatmaps
from lightning_pose.losses.base import LOSSES, Loss, Number, Stage, mean_or_graph_zero

__all__ = ["PairwiseProjectionsLoss", "ReprojectionHeatmapLoss"]


@LOSSES.register("supervised_pairwise_projections")
class PairwiseProjectionsLoss(Loss):
    """Mean Euclidean distance between target 3-D keypoints and each pair's triangulation."""

    loss_name = "supervised_pairwise_projections"
    supervised = True

    def __init__(
        self, log_weight: Number = 0.0, data_module: object | None = None, **kwargs
    ) -> None:
        super().__init__(data_module=data_module, log_weight=log_weight)

    def remove_nans(
        self, loss: Float[Tensor, "batch cam_pairs num_keypoints"]
    ) -> Float[Tensor, "..."]:
        """Flattened non-NaN distances; if there are none, a graph-connected zero."""
        valid = torch.masked_select(loss, ~torch.isnan(loss))
        return valid if valid.numel() > 0 else valid.sum()

    def compute_loss(
        self,
        targets: Float[Tensor, "batch num_keypoints 3"],
        predictions: Float[Tensor, "batch cam_pairs num_keypoints 3"],
    ) -> Float[Tensor, "batch cam_pairs num_keypoints"]:
        """Distances, NaN where either side is NaN; NaN inputs never reach the gradient."""
        targets = targets.unsqueeze(1)
        missing = torch.isnan(targets).any(dim=-1) | torch.isnan(predictions).any(dim=-1)
        gap = predictions - targets
        gap = torch.where(missing.unsqueeze(-1), torch.zeros_like(gap), gap)
        distance = torch.linalg.norm(gap, ord=2, dim=-1)
        return torch.where(missing, torch.full_like(distance, float("nan")), distance)

    def __call__(
        self,
        keypoints_targ_3d: Float[Tensor, "batch num_keypoints 3"] | None,
        keypoints_pred_3d: Float[Tensor, "batch cam_pairs num_keypoints 3"] | None,
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        if keypoints_targ_3d is None or keypoints_pred_3d is None:
            raise ValueError(
                f"3D keypoints not available for stage {stage!r}: the "
                "supervised_pairwise_projections loss needs data.camera_params_file; "
                "remove the loss or provide the camera parameters"
            )
        elementwise = self.compute_loss(targets=keypoints_targ_3d, predictions=keypoints_pred_3d)
        scalar_loss = self.reduce_loss(self.remove_nans(loss=elementwise), method="mean")
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)


@LOSSES.register("supervised_reprojection_heatmap_mse")
class ReprojectionHeatmapLoss(Loss):
    """Heatmap MSE between the targets and Gaussians rendered at the reprojected keypoints.

    Args:
        original_image_height, original_image_width: size of the image the reprojected
            keypoints live in (the model input).
        downsampled_image_height, downsampled_image_width: heatmap size.
        log_weight: see :class:`~lightning_pose.losses.base.Loss`.
    """

    loss_name = "supervised_reprojection_heatmap_mse"
    supervised = True

    def __init__(
        self,
        original_image_height: int,
        original_image_width: int,
        downsampled_image_height: int,
        downsampled_image_width: int,
        log_weight: Number = 0.0,
        data_module: object | None = None,
        **kwargs,
    ) -> None:
        super().__init__(data_module=data_module, log_weight=log_weight)
        self.original_image_height = original_image_height
        self.original_image_width = original_image_width
        self.downsampled_image_height = downsampled_image_height
        self.downsampled_image_width = downsampled_image_width

    def remove_nans(
        self,
        loss: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        targets: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
    ) -> Float[Tensor, "..."]:
        """Flattened loss elements of non-zero target heatmaps; none -> graph-connected zero."""
        labeled = ~(targets.flatten(2) == 0.0).all(dim=-1)
        valid = torch.masked_select(loss, labeled[..., None, None].expand_as(loss))
        return valid if valid.numel() > 0 else valid.sum()

    def compute_loss(
        self,
        targets: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        predictions: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
    ) -> Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]:
        """Squared error scaled by the heatmap's pixel count ``h * w``."""
        height, width = targets.shape[-2], targets.shape[-1]
        return F.mse_loss(targets, predictions, reduction="none") * height * width

    def __call__(
        self,
        heatmaps_targ: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
        keypoints_pred_2d_reprojected: Float[Tensor, "batch num_keypoints 2"] | None,
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        if keypoints_pred_2d_reprojected is None:
            raise ValueError(
                f"Reprojected keypoints not available for stage {stage!r}: the "
                "supervised_reprojection_heatmap_mse loss needs data.camera_params_file; "
                "remove the loss or provide the camera parameters"
            )
        heatmap_shape = (self.downsampled_image_height, self.downsampled_image_width)
        if tuple(heatmaps_targ.shape[-2:]) != heatmap_shape:
            raise ValueError(
                f"heatmaps_targ has spatial size {tuple(heatmaps_targ.shape[-2:])} but the loss "
                f"was built for downsampled_image_height/width {heatmap_shape}"
            )
        heatmaps_pred = generate_heatmaps(
            keypoints=keypoints_pred_2d_reprojected,
            height=self.original_image_height,
            width=self.original_image_width,
            output_shape=heatmap_shape,
            keep_gradients=True,
        )
        elementwise = self.compute_loss(targets=heatmaps_targ, predictions=heatmaps_pred)
        valid = self.remove_nans(loss=elementwise, targets=heatmaps_targ)
        scalar_loss = mean_or_graph_zero(valid)
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)
