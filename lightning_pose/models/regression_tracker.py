"""Direct coordinate regression: backbone (with global pooling) + linear head."""

from collections.abc import Mapping

import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.bboxes import model_to_frame_batch
from lightning_pose.data.datatypes import BaseLabeledBatchDict, PredictionBatch, UnlabeledBatch
from lightning_pose.data.utils import undo_affine_transform_batch
from lightning_pose.losses.factory import LossFactory
from lightning_pose.losses.regression import RegressionRMSELoss
from lightning_pose.models.base import BaseSupervisedTracker, SemiSupervisedTrackerMixin
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS
from lightning_pose.models.datatypes import RegressionLabeledOutputs, RegressionUnlabeledOutputs
from lightning_pose.models.heads import LinearRegressionHead

__all__ = ["RegressionTracker", "SemiSupervisedRegressionTracker"]


@SUPERVISED_TRACKERS.register("regression")
class RegressionTracker(BaseSupervisedTracker):
    """Predicts ``(x, y)`` for every keypoint in model-input (resized) pixels."""

    def __init__(
        self,
        num_keypoints: int,
        loss_factory: LossFactory | None = None,
        backbone: str = "resnet50",
        pretrained: bool = True,
        torch_seed: int = 123,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        **kwargs,
    ) -> None:
        torch.manual_seed(torch_seed)
        if "vit" in backbone:
            raise ValueError(f"RegressionTracker does not support transformer backbones, got {backbone!r}")
        kwargs.pop("do_context", None)
        kwargs.pop("num_targets", None)
        super().__init__(
            backbone=backbone,
            pretrained=pretrained,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            model_type="regression",
            **kwargs,
        )
        self.num_keypoints = num_keypoints
        self.num_targets = 2 * num_keypoints
        self.torch_seed = torch_seed
        self.head = LinearRegressionHead(self.num_fc_input_features, self.num_targets)
        self.loss_factory = loss_factory
        self.rmse_loss = RegressionRMSELoss()
        self.save_hyperparameters(ignore=["loss_factory", "loss_factory_unsupervised"])

    def forward(self, images: Float[Tensor, "batch 3 height width"]) -> Float[Tensor, "batch num_targets"]:
        return self.head(self.get_representations(images))

    def get_loss_inputs_labeled(self, batch: BaseLabeledBatchDict) -> RegressionLabeledOutputs:
        return {"keypoints_targ": batch["keypoints"], "keypoints_pred": self.forward(batch["images"])}

    def frame_keypoints_for_metrics(
        self, batch: BaseLabeledBatchDict, data: RegressionLabeledOutputs
    ) -> tuple[Tensor, Tensor]:
        # regression losses live in resized coordinates; the metric is in frame pixels
        return (
            model_to_frame_batch(batch, data["keypoints_targ"]),
            model_to_frame_batch(batch, data["keypoints_pred"]),
        )

    def predict_step(self, batch: PredictionBatch, batch_idx: int = 0) -> tuple[Tensor, Tensor]:
        """Keypoints in original-frame pixels and (all-zero) confidences."""
        self.check_prediction_batch(batch)
        images = batch["images"] if "images" in batch else batch["frames"]
        keypoints = model_to_frame_batch(batch, self.forward(images))
        return keypoints, torch.zeros(keypoints.shape[0], keypoints.shape[1] // 2, device=keypoints.device)


@SEMI_SUPERVISED_TRACKERS.register("regression")
class SemiSupervisedRegressionTracker(SemiSupervisedTrackerMixin, RegressionTracker):
    """Regression tracker trained with unsupervised losses on unlabeled video as well."""

    def __init__(
        self,
        num_keypoints: int,
        loss_factory: LossFactory | None = None,
        loss_factory_unsupervised: LossFactory | None = None,
        backbone: str = "resnet50",
        pretrained: bool = True,
        torch_seed: int = 123,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            num_keypoints=num_keypoints,
            loss_factory=loss_factory,
            backbone=backbone,
            pretrained=pretrained,
            torch_seed=torch_seed,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            **kwargs,
        )
        self.setup_unsupervised(loss_factory_unsupervised)

    def get_loss_inputs_unlabeled(self, batch: UnlabeledBatch) -> RegressionUnlabeledOutputs:
        """Predictions on unlabeled frames, augmentation undone, in original-frame pixels."""
        predictions = self.forward(batch["frames"])
        predictions = undo_affine_transform_batch(predictions, batch["transforms"], False)
        return {"keypoints_pred": model_to_frame_batch(batch, predictions)}
