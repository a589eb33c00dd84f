"""Unsupervised temporal-smoothness losses over consecutive frames of an unlabeled clip.

Motion model: ``x_t = x_{t-1} + e_t``. A difference between frames ``t`` and ``t+1`` is zeroed
(still counted in the mean) when either frame's confidence is below ``prob_threshold``, then
differences within ``epsilon`` (scalar or one value per keypoint) cost nothing.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lightning_pose.losses.base import LOSSES, Loss, Number, Stage
from lightning_pose.losses.heatmap import kl_div_2d

__all__ = ["TemporalLoss", "TemporalHeatmapLoss", "mask_low_confidence_differences"]

_LOG_OFFSET = 1e-10


def mask_low_confidence_differences(
    loss: Float[Tensor, "num_frames_minus_one num_keypoints"],
    confidences: Float[Tensor, "num_frames num_keypoints"],
    prob_threshold: Float[Tensor, ""],
) -> Float[Tensor, "num_frames_minus_one num_keypoints"]:
    """Zero ``loss[t, k]`` where frame ``t`` or ``t+1`` has confidence below the threshold."""
    low = confidences < prob_threshold
    return loss.masked_fill(low[:-1] | low[1:], 0.0)


class _FrameDifferenceLoss(Loss):
    """Shared settings and steps of the two temporal losses."""

    def __init__(
        self,
        data_module: object | None = None,
        epsilon: Number | Sequence[Number] = 0.0,
        prob_threshold: Number = 0.0,
        log_weight: Number = 0.0,
    ) -> None:
        super().__init__(data_module=data_module, epsilon=epsilon, log_weight=log_weight)
        self.register_buffer(
            "prob_threshold", torch.tensor(float(prob_threshold)), persistent=False
        )

    def rectify_epsilon(
        self, loss: Float[Tensor, "num_frames_minus_one num_keypoints"]
    ) -> Float[Tensor, "num_frames_minus_one num_keypoints"]:
        """``relu(loss - epsilon)`` with epsilon a scalar or one value per keypoint."""
        if self.epsilon.ndim == 1 and self.epsilon.numel() != loss.shape[1]:
            raise ValueError(
                f"{self.loss_name}: epsilon has {self.epsilon.numel()} per-keypoint values "
                f"but the predictions have {loss.shape[1]} keypoints"
            )
        return F.relu(loss - self.epsilon.to(loss.device))

    def remove_nans(
        self,
        loss: Float[Tensor, "num_frames_minus_one num_keypoints"],
        confidences: Float[Tensor, "num_frames num_keypoints"],
    ) -> Float[Tensor, "num_frames_minus_one num_keypoints"]:
        """Zero the differences that involve a low-confidence frame (they stay in the mean)."""
        return mask_low_confidence_differences(loss, confidences, self.prob_threshold)


@LOSSES.register("temporal", kind="unsupervised")
class TemporalLoss(_FrameDifferenceLoss):
    """Euclidean distance of each keypoint between consecutive frames."""

    loss_name = "temporal"

    def __init__(
        self,
        data_module: object | None = None,
        epsilon: Number | Sequence[Number] = 0.0,
        prob_threshold: Number = 0.0,
        log_weight: Number = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(
            data_module=data_module,
            epsilon=epsilon,
            prob_threshold=prob_threshold,
            log_weight=log_weight,
        )

    def compute_loss(
        self, predictions: Float[Tensor, "num_frames two_x_num_keypoints"]
    ) -> Float[Tensor, "num_frames_minus_one num_keypoints"]:
        diffs = torch.diff(predictions, dim=0)
        return torch.linalg.norm(diffs.reshape(diffs.shape[0], -1, 2), ord=2, dim=2)

    def __call__(
        self,
        keypoints_pred: Float[Tensor, "num_frames two_x_num_keypoints"],
        confidences: Float[Tensor, "num_frames num_keypoints"] | None = None,
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        elementwise = self.compute_loss(predictions=keypoints_pred)
        if confidences is not None:
            elementwise = self.remove_nans(loss=elementwise, confidences=confidences)
        scalar_loss = self.reduce_loss(self.rectify_epsilon(loss=elementwise), method="mean")
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)


@LOSSES.register("temporal_heatmap_mse", kind="unsupervised")
@LOSSES.register("temporal_heatmap_kl", kind="unsupervised")
class TemporalHeatmapLoss(_FrameDifferenceLoss):
    """Difference between each keypoint's heatmaps in consecutive frames (MSE or KL).

    ``temporal_heatmap_mse``: mean over pixels of ``(H_t - H_{t+1})^2``;
    ``temporal_heatmap_kl``: ``KL(H_{t+1} || H_t)`` with 1e-10 added to both.
    """

    LOSS_NAME_MSE = "temporal_heatmap_mse"
    LOSS_NAME_KL = "temporal_heatmap_kl"
    loss_name = "temporal_heatmap"  # instances carry the configured name

    def __init__(
        self,
        loss_name: str,
        data_module: object | None = None,
        epsilon: Number | Sequence[Number] = 0.0,
        prob_threshold: Number = 0.0,
        log_weight: Number = 0.0,
        **kwargs,
    ) -> None:
        if loss_name not in (self.LOSS_NAME_MSE, self.LOSS_NAME_KL):
            raise ValueError(
                f"invalid loss_name {loss_name!r} for TemporalHeatmapLoss; "
                f"allowed: {[self.LOSS_NAME_MSE, self.LOSS_NAME_KL]}"
            )
        super().__init__(
            data_module=data_module,
            epsilon=epsilon,
            prob_threshold=prob_threshold,
            log_weight=log_weight,
        )
        self.loss_name = loss_name

    def compute_loss(
        self, predictions: Float[Tensor, "num_frames num_keypoints heatmap_height heatmap_width"]
    ) -> Float[Tensor, "num_frames_minus_one num_keypoints"]:
        current, following = predictions[:-1], predictions[1:]
        if self.loss_name == self.LOSS_NAME_MSE:
            return ((current - following) ** 2).flatten(2).mean(dim=-1)
        return kl_div_2d(following + _LOG_OFFSET, current + _LOG_OFFSET)

    def __call__(
        self,
        heatmaps_pred: Float[Tensor, "num_frames num_keypoints heatmap_height heatmap_width"],
        confidences: Float[Tensor, "num_frames num_keypoints"],
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        elementwise = self.compute_loss(predictions=heatmaps_pred)
        elementwise = self.remove_nans(loss=elementwise, confidences=confidences)
        scalar_loss = self.reduce_loss(self.rectify_epsilon(loss=elementwise), method="mean")
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)
