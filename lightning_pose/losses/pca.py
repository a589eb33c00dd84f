"""Unsupervised PCA losses: penalise predictions that leave the pose subspace of the labels.

``pca_singleview``: a frame's selected keypoints should lie near the subspace fitted on the
training frames; ``pca_multiview``: each keypoint's views should be consistent with one 3-D
point. The per-point reprojection error is rectified by epsilon, then averaged.

The subspace is fitted on training labels in original-frame pixels, the coordinate space of
the predictions that heatmap trackers feed to this loss.
"""

import logging
from collections.abc import Sequence
from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.losses.base import LOSSES, Loss, Number, Stage
from lightning_pose.utils.pca import KeypointPCA

__all__ = ["PCALoss"]

logger = logging.getLogger(__name__)


@LOSSES.register("pca_singleview", kind="unsupervised")
@LOSSES.register("pca_multiview", kind="unsupervised")
class PCALoss(Loss):
    """Distance of predicted keypoints to a PCA subspace of the training labels.

    Args:
        loss_name: ``"pca_singleview"`` or ``"pca_multiview"``.
        components_to_keep, empirical_epsilon_percentile, mirrored_column_matches,
        columns_for_singleview_pca, centering_method: see
            :class:`~lightning_pose.utils.pca.KeypointPCA`.
        epsilon: fixed epsilon; None uses the empirical one times ``empirical_epsilon_multiplier``.
        data_module: provides ``get_training_keypoints()`` (required).
        log_weight: see :class:`~lightning_pose.losses.base.Loss`.
        device: accepted for API compatibility; tensors follow ``.to(device)`` anyway.
    """

    LOSS_NAME_MULTIVIEW = "pca_multiview"
    LOSS_NAME_SINGLEVIEW = "pca_singleview"
    loss_name = "pca"  # instances carry the configured name

    def __init__(
        self,
        loss_name: str,
        components_to_keep: int | float = 0.95,
        empirical_epsilon_percentile: Number = 99.0,
        epsilon: Number | None = None,
        empirical_epsilon_multiplier: Number = 1.0,
        mirrored_column_matches: Sequence | None = None,
        columns_for_singleview_pca: Sequence[int] | None = None,
        data_module: object | None = None,
        log_weight: Number = 0.0,
        device: str | torch.device | None = None,
        centering_method: Literal["mean", "median"] | None = None,
        **kwargs,
    ) -> None:
        if loss_name not in (self.LOSS_NAME_MULTIVIEW, self.LOSS_NAME_SINGLEVIEW):
            raise ValueError(
                f"invalid loss_name {loss_name!r} for PCALoss; "
                f"allowed: {[self.LOSS_NAME_SINGLEVIEW, self.LOSS_NAME_MULTIVIEW]}"
            )
        if data_module is None:
            raise ValueError(f"{loss_name} needs a data module to fit the PCA on training labels")
        super().__init__(data_module=data_module, log_weight=log_weight)
        self.loss_name = loss_name
        self.pca = KeypointPCA(
            loss_type=loss_name,
            data_module=data_module,
            components_to_keep=components_to_keep,
            empirical_epsilon_percentile=empirical_epsilon_percentile,
            mirrored_column_matches=mirrored_column_matches,
            columns_for_singleview_pca=columns_for_singleview_pca,
            device=device,
            centering_method=centering_method,
        ).fit()
        if epsilon is not None:
            logger.info("%s: fixed epsilon=%.3f (empirical one ignored)", loss_name, epsilon)
            self.epsilon = torch.tensor(float(epsilon), device=self.pca.epsilon.device)
            return
        if torch.isnan(self.pca.epsilon):
            raise ValueError(
                f"{loss_name}: every training observation has a missing keypoint, so no "
                f"empirical epsilon can be computed; set losses.{loss_name}.epsilon"
            )
        self.epsilon = self.pca.epsilon * float(empirical_epsilon_multiplier)
        logger.info(
            "%s: empirical epsilon %.3f x multiplier %.3f = %.3f",
            loss_name, float(self.pca.epsilon), float(empirical_epsilon_multiplier),
            float(self.epsilon),
        )

    def remove_nans(self, **kwargs) -> None:
        """Nothing to remove: predictions have no NaNs."""

    def compute_loss(
        self, predictions: Float[Tensor, "num_samples observation_dim"]
    ) -> Float[Tensor, "num_samples num_points"]:
        return self.pca.compute_reprojection_error(predictions)

    def __call__(
        self,
        keypoints_pred: Float[Tensor, "batch two_x_num_keypoints"],
        stage: Stage | None = None,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        observations = self.pca.format_data(keypoints_pred)
        elementwise = self.compute_loss(predictions=observations)
        scalar_loss = self.reduce_loss(self.rectify_epsilon(loss=elementwise), method="mean")
        return scalar_loss, self.log_loss(loss=scalar_loss, stage=stage)
