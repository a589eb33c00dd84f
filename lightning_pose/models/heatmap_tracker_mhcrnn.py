"""Context heatmap tracker: single-frame head + bidirectional CRNN over 5-frame windows."""

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
from lightning_pose.models.datatypes import HeatmapLabeledOutputs, MHCRNNUnlabeledOutputs
from lightning_pose.models.heads import HeatmapMHCRNNHead
from lightning_pose.models.heads.heatmap_mhcrnn import crnn_upsampling_factor
from lightning_pose.models.heatmap_tracker import images_of

__all__ = ["HeatmapTrackerMHCRNN", "SemiSupervisedHeatmapTrackerMHCRNN", "merge_by_confidence"]


def merge_by_confidence(
    keypoints_sf: Float[Tensor, "batch num_targets"],
    confidences_sf: Float[Tensor, "batch num_keypoints"],
    keypoints_mf: Float[Tensor, "batch num_targets"],
    confidences_mf: Float[Tensor, "batch num_keypoints"],
) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
    """Per keypoint, the multi-frame estimate where it is strictly more confident, else single-frame."""
    use_mf = confidences_mf > confidences_sf
    keypoints = torch.where(use_mf.repeat_interleave(2, dim=1), keypoints_mf, keypoints_sf)
    return keypoints, torch.where(use_mf, confidences_mf, confidences_sf)


@SUPERVISED_TRACKERS.register("heatmap_mhcrnn", downsample_factors=(2,))
class HeatmapTrackerMHCRNN(BaseSupervisedTracker):
    """Heatmap tracker that sees frames t-2..t+2 to predict frame t (``downsample_factor`` 2 only)."""

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
        if downsample_factor != 2:
            raise NotImplementedError(
                f"HeatmapTrackerMHCRNN supports downsample_factor=2 only, got {downsample_factor}"
            )
        torch.manual_seed(torch_seed)
        kwargs.pop("do_context", None)
        super().__init__(
            backbone=backbone,
            pretrained=pretrained,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            do_context=True,
            **kwargs,
        )
        self.num_keypoints = num_keypoints
        self.num_targets = num_targets or 2 * num_keypoints
        self.downsample_factor = downsample_factor
        self.torch_seed = torch_seed
        self.head = HeatmapMHCRNNHead(
            backbone_arch=backbone,
            in_channels=self.num_fc_input_features,
            out_channels=num_keypoints,
            downsample_factor=downsample_factor,
            upsampling_factor=crnn_upsampling_factor(backbone),
        )
        self.loss_factory = loss_factory
        self.rmse_loss = RegressionRMSELoss()
        self.save_hyperparameters(ignore=["loss_factory", "loss_factory_unsupervised"])

    def forward(
        self, images: Float[Tensor, "..."], is_multiview: bool = False
    ) -> tuple[Float[Tensor, "batch num_maps height width"], Float[Tensor, "batch num_maps height width"]]:
        """(single-frame, multi-frame) heatmaps for the centre frame of each context window."""
        representations = self.get_representations(images, is_multiview=is_multiview)
        return self.head(representations, tuple(images.shape), is_multiview)

    def run_subpixelmaxima(
        self, heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    ) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
        return self.head.run_subpixelmaxima(heatmaps)

    def _decode_both(self, images: Tensor, is_multiview: bool = False) -> dict:
        heatmaps_sf, heatmaps_mf = self.forward(images, is_multiview=is_multiview)
        keypoints_sf, confidences_sf = self.run_subpixelmaxima(heatmaps_sf)
        keypoints_mf, confidences_mf = self.run_subpixelmaxima(heatmaps_mf)
        return {
            "heatmaps": (heatmaps_sf, heatmaps_mf),
            "keypoints": (keypoints_sf, keypoints_mf),
            "confidences": (confidences_sf, confidences_mf),
        }

    def get_loss_inputs_labeled(self, batch: HeatmapLabeledBatchDict) -> HeatmapLabeledOutputs:
        """Both heads' outputs concatenated along the batch: losses average over the two heads."""
        decoded = self._decode_both(batch["images"])
        target = model_to_frame_batch(batch, batch["keypoints"])
        keypoints = [model_to_frame_batch(batch, kp) for kp in decoded["keypoints"]]
        return {
            "heatmaps_targ": torch.cat([batch["heatmaps"], batch["heatmaps"]], dim=0),
            "heatmaps_pred": torch.cat(decoded["heatmaps"], dim=0),
            "keypoints_targ": torch.cat([target, target], dim=0),
            "keypoints_pred": torch.cat(keypoints, dim=0),
            "confidences": torch.cat(decoded["confidences"], dim=0),
        }

    def frame_keypoints_for_metrics(
        self, batch: HeatmapLabeledBatchDict, data: HeatmapLabeledOutputs
    ) -> tuple[Tensor, Tensor]:
        half = data["keypoints_pred"].shape[0] // 2
        keypoints, _ = merge_by_confidence(
            data["keypoints_pred"][:half], data["confidences"][:half],
            data["keypoints_pred"][half:], data["confidences"][half:],
        )
        return data["keypoints_targ"][:half], keypoints

    def predict_step(
        self, batch: PredictionBatch, batch_idx: int = 0, return_heatmaps: bool = False
    ) -> tuple[Tensor, ...]:
        """Per keypoint, the more confident of the two heads, in original-frame pixels."""
        self.check_prediction_batch(batch)
        decoded = self._decode_both(images_of(batch), is_multiview=bool(batch.get("is_multiview", False)))
        keypoints, confidences = merge_by_confidence(
            decoded["keypoints"][0], decoded["confidences"][0],
            decoded["keypoints"][1], decoded["confidences"][1],
        )
        keypoints = model_to_frame_batch(batch, keypoints)
        if not return_heatmaps:
            return keypoints, confidences
        use_mf = (decoded["confidences"][1] > decoded["confidences"][0])[..., None, None]
        return keypoints, confidences, torch.where(use_mf, decoded["heatmaps"][1], decoded["heatmaps"][0])


@SEMI_SUPERVISED_TRACKERS.register("heatmap_mhcrnn", downsample_factors=(2,))
class SemiSupervisedHeatmapTrackerMHCRNN(SemiSupervisedTrackerMixin, HeatmapTrackerMHCRNN):
    """Context tracker trained with unsupervised losses on unlabeled video as well."""

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

    def get_loss_inputs_unlabeled(self, batch: UnlabeledBatch) -> MHCRNNUnlabeledOutputs:
        """Both heads on the windows of an unlabeled sequence, concatenated along frames."""
        is_multiview = bool(batch["is_multiview"])
        decoded = self._decode_both(batch["frames"], is_multiview=is_multiview)
        keypoints = [
            model_to_frame_batch(batch, undo_affine_transform_batch(kp, batch["transforms"], is_multiview))
            for kp in decoded["keypoints"]
        ]
        return {
            "heatmaps_pred": torch.cat(decoded["heatmaps"], dim=0),
            "keypoints_pred": torch.cat(keypoints, dim=0),
            "confidences": torch.cat(decoded["confidences"], dim=0),
        }
