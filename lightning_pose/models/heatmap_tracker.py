"""Heatmap tracker: backbone + deconvolution head, soft-argmax keypoints."""

from collections.abc import Mapping

import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.bboxes import model_to_frame_batch
from lightning_pose.data.datatypes import (
    HeatmapLabeledBatchDict,
    MultiviewHeatmapLabeledBatchDict,
    PredictionBatch,
    UnlabeledBatch,
)
from lightning_pose.data.utils import undo_affine_transform_batch
from lightning_pose.losses.factory import LossFactory
from lightning_pose.losses.regression import RegressionRMSELoss
from lightning_pose.models.base import BaseSupervisedTracker, SemiSupervisedTrackerMixin
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS
from lightning_pose.models.datatypes import HeatmapLabeledOutputs, HeatmapUnlabeledOutputs
from lightning_pose.models.heads import HeatmapHead

__all__ = ["HeatmapTracker", "SemiSupervisedHeatmapTracker"]


def images_of(batch: PredictionBatch) -> Tensor:
    """Labeled batches carry ``images``, unlabeled video batches ``frames``."""
    return batch["images"] if "images" in batch else batch["frames"]


def heatmap_loss_inputs(
    model, batch: HeatmapLabeledBatchDict | MultiviewHeatmapLabeledBatchDict
) -> HeatmapLabeledOutputs:
    """Loss inputs of a single-head heatmap model; keypoints in original-frame pixels."""
    heatmaps = model.forward(batch["images"])
    keypoints, confidences = model.run_subpixelmaxima(heatmaps)
    return {
        "heatmaps_targ": batch["heatmaps"],
        "heatmaps_pred": heatmaps,
        "keypoints_targ": model_to_frame_batch(batch, batch["keypoints"]),
        "keypoints_pred": model_to_frame_batch(batch, keypoints),
        "confidences": confidences,
    }


def heatmap_predictions(model, batch: PredictionBatch, return_heatmaps: bool) -> tuple[Tensor, ...]:
    """(keypoints in original-frame pixels, confidences[, heatmaps]) of a single-head heatmap model."""
    heatmaps = model.forward(images_of(batch))
    keypoints, confidences = model.run_subpixelmaxima(heatmaps)
    keypoints = model_to_frame_batch(batch, keypoints)
    return (keypoints, confidences, heatmaps) if return_heatmaps else (keypoints, confidences)


@SUPERVISED_TRACKERS.register("heatmap")
class HeatmapTracker(BaseSupervisedTracker):
    """One heatmap per keypoint at ``1 / 2**downsample_factor`` of the input resolution."""

    # single-view batches, or the views of a multiview batch stacked as one image set
    labeled_batch_types = (HeatmapLabeledBatchDict, MultiviewHeatmapLabeledBatchDict)

    def __init__(
        self,
        num_keypoints: int,
        num_targets: int | None = None,
        loss_factory: LossFactory | None = None,
        backbone: str = "resnet50",
        downsample_factor: int = 2,
        pretrained: bool = True,
        torch_seed: int = 123,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        **kwargs,
    ) -> None:
        torch.manual_seed(torch_seed)
        super().__init__(
            backbone=backbone,
            pretrained=pretrained,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            **kwargs,
        )
        self.num_keypoints = num_keypoints
        self.num_targets = num_targets or 2 * num_keypoints
        self.downsample_factor = downsample_factor
        self.torch_seed = torch_seed
        self.head = HeatmapHead(
            backbone_arch=backbone,
            in_channels=self.num_fc_input_features,
            out_channels=num_keypoints,
            downsample_factor=downsample_factor,
        )
        self.loss_factory = loss_factory
        self.rmse_loss = RegressionRMSELoss()
        self.save_hyperparameters(ignore=["loss_factory", "loss_factory_unsupervised"])

    def forward(
        self, images: Float[Tensor, "batch *views 3 height width"]
    ) -> Float[Tensor, "batch num_maps heatmap_height heatmap_width"]:
        """``(B, 3, H, W) -> (B, K, h, w)``; multiview ``(B, V, 3, H, W) -> (B, V*K, h, w)``."""
        if images.ndim == 5:
            batch = images.shape[0]
            heatmaps = self.head(self.get_representations(images.flatten(0, 1)))
            return heatmaps.reshape(batch, -1, *heatmaps.shape[-2:])
        return self.head(self.get_representations(images))

    def run_subpixelmaxima(
        self, heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    ) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
        return self.head.run_subpixelmaxima(heatmaps)

    def get_loss_inputs_labeled(self, batch: HeatmapLabeledBatchDict) -> HeatmapLabeledOutputs:
        return heatmap_loss_inputs(self, batch)

    def predict_step(
        self, batch: PredictionBatch, batch_idx: int = 0, return_heatmaps: bool = False
    ) -> tuple[Tensor, ...]:
        """Keypoints in original-frame pixels and confidences (and heatmaps when asked)."""
        self.check_prediction_batch(batch)
        return heatmap_predictions(self, batch, return_heatmaps)


@SEMI_SUPERVISED_TRACKERS.register("heatmap")
class SemiSupervisedHeatmapTracker(SemiSupervisedTrackerMixin, HeatmapTracker):
    """Heatmap tracker trained with unsupervised losses on unlabeled video as well."""

    def __init__(
        self,
        num_keypoints: int,
        loss_factory: LossFactory | None = None,
        loss_factory_unsupervised: LossFactory | None = None,
        backbone: str = "resnet50",
        downsample_factor: int = 2,
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
            downsample_factor=downsample_factor,
            pretrained=pretrained,
            torch_seed=torch_seed,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            **kwargs,
        )
        self.setup_unsupervised(loss_factory_unsupervised)

    def get_loss_inputs_unlabeled(self, batch: UnlabeledBatch) -> HeatmapUnlabeledOutputs:
        heatmaps = self.forward(batch["frames"])
        keypoints_augmented, confidences = self.run_subpixelmaxima(heatmaps)
        keypoints = undo_affine_transform_batch(keypoints_augmented, batch["transforms"], bool(batch["is_multiview"]))
        return {
            "heatmaps_pred": heatmaps,
            "keypoints_pred": model_to_frame_batch(batch, keypoints),
            "keypoints_pred_augmented": keypoints_augmented,
            "confidences": confidences,
        }
