"""Multiview transformer tracker: one ViT attends jointly over the patch tokens of all views."""

from collections.abc import Mapping

import torch
from jaxtyping import Float
from torch import Tensor, nn

from lightning_pose.data.bboxes import model_to_frame_batch
from lightning_pose.data.datatypes import MultiviewHeatmapLabeledBatchDict, PredictionBatch, UnlabeledBatch
from lightning_pose.data.utils import undo_affine_transform_batch
from lightning_pose.losses.factory import LossFactory
from lightning_pose.losses.regression import RegressionRMSELoss
from lightning_pose.models.backbones import ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW
from lightning_pose.models.backbones.vit import tokens_to_feature_map
from lightning_pose.models.base import BaseSupervisedTracker, SemiSupervisedTrackerMixin
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS
from lightning_pose.models.datatypes import HeatmapUnlabeledOutputs, MultiviewLabeledOutputs
from lightning_pose.models.heads import HEADS
from lightning_pose.models.heatmap_tracker import heatmap_loss_inputs, heatmap_predictions

__all__ = ["HeatmapTrackerMultiviewTransformer", "SemiSupervisedHeatmapTrackerMultiviewTransformer"]

ALLOWED_MULTIVIEW_HEADS = ("heatmap_cnn",)


def squeeze_view_transforms(transforms: Tensor) -> Tensor:
    """``(V, 1, 2, 3)`` or ``(1, V, 2, 3)`` -> ``(V, 2, 3)``; other shapes pass through."""
    if transforms.ndim == 4 and 1 in transforms.shape[:2]:
        return transforms.reshape(-1, *transforms.shape[2:])
    return transforms


@SUPERVISED_TRACKERS.register("heatmap_multiview_transformer")
class HeatmapTrackerMultiviewTransformer(BaseSupervisedTracker):
    """Patch tokens of every view (plus a learned per-view embedding) share one attention context."""

    labeled_batch_types = (MultiviewHeatmapLabeledBatchDict,)

    def __init__(
        self,
        num_keypoints: int,
        num_views: int,
        loss_factory: LossFactory | None = None,
        backbone: str = "vits_dino",
        pretrained: bool = True,
        head: str = "heatmap_cnn",
        downsample_factor: int = 2,
        torch_seed: int = 123,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        image_size: int = 256,
        **kwargs,
    ) -> None:
        if "do_context" in kwargs:
            raise ValueError("HeatmapTrackerMultiviewTransformer does not support do_context")
        if backbone not in ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW:
            raise ValueError(
                f"backbone {backbone!r} cannot be used by the multiview transformer; "
                f"allowed: {list(ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW)}"
            )
        if head not in ALLOWED_MULTIVIEW_HEADS:
            raise NotImplementedError(f"head {head!r} is not supported; allowed: {list(ALLOWED_MULTIVIEW_HEADS)}")
        kwargs.pop("num_targets", None)
        torch.manual_seed(torch_seed)
        super().__init__(
            backbone=backbone,
            pretrained=pretrained,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            do_context=False,
            image_size=image_size,
            **kwargs,
        )
        self.num_keypoints = num_keypoints
        self.num_views = num_views
        self.num_targets = 2 * num_keypoints * num_views
        self.downsample_factor = downsample_factor
        self.torch_seed = torch_seed
        generator = torch.Generator().manual_seed(torch_seed)
        self.view_embeddings = nn.Parameter(
            torch.randn(num_views, self.num_fc_input_features, generator=generator) * 0.02
        )
        self.head = HEADS.get(head)(
            backbone_arch=backbone,
            in_channels=self.num_fc_input_features,
            out_channels=num_keypoints,
            downsample_factor=downsample_factor,
        )
        self.loss_factory = loss_factory
        self.rmse_loss = RegressionRMSELoss()
        self.save_hyperparameters(ignore=["loss_factory", "loss_factory_unsupervised"])

    def backbone_entry_modules(self) -> list[nn.Module]:
        """:meth:`forward_vit` calls the ViT's patch embedding and its transformer blocks, not the
        backbone's own forward."""
        return [self.backbone.vision_encoder.embeddings, self.backbone.vision_encoder.encoder]

    def forward_vit(
        self, images: Float[Tensor, "batch_views 3 height width"]
    ) -> Float[Tensor, "batch_views features rep_height rep_width"]:
        """ViT over all views at once; samples are ordered batch-major (index = b * V + v)."""
        encoder = self.backbone
        tokens = encoder.embed(images)[:, 1:]  # drop the CLS token
        n_views = self.num_views
        batch = images.shape[0] // n_views
        num_patches, dim = tokens.shape[1:]
        tokens = tokens.reshape(batch, n_views, num_patches, dim) + self.view_embeddings[None, :, None, :]
        hidden = encoder.run_blocks(tokens.reshape(batch, n_views * num_patches, dim))
        hidden = encoder.vision_encoder.layernorm(hidden)
        return tokens_to_feature_map(hidden.reshape(batch * n_views, num_patches, dim))

    def forward(
        self, images: Float[Tensor, "batch views 3 height width"]
    ) -> Float[Tensor, "batch num_maps heatmap_height heatmap_width"]:
        """``(B, V, 3, H, W) -> (B, V*K, h, w)``."""
        batch = images.shape[0]
        heatmaps = self.head(self.forward_vit(images.flatten(0, 1)))
        return heatmaps.reshape(batch, -1, *heatmaps.shape[-2:])

    def run_subpixelmaxima(
        self, heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    ) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
        return self.head.run_subpixelmaxima(heatmaps)

    def get_loss_inputs_labeled(self, batch: MultiviewHeatmapLabeledBatchDict) -> MultiviewLabeledOutputs:
        """As the heatmap tracker; the 3-D keys are None (camera calibration is not supported yet)."""
        return {
            **heatmap_loss_inputs(self, batch),
            "keypoints_targ_3d": None,
            "keypoints_pred_3d": None,
            "keypoints_pred_2d_reprojected": None,
        }

    def predict_step(
        self, batch: PredictionBatch, batch_idx: int = 0, return_heatmaps: bool = False
    ) -> tuple[Tensor, ...]:
        self.check_prediction_batch(batch)
        return heatmap_predictions(self, batch, return_heatmaps)

    def get_parameters(self) -> list[dict]:
        return super().get_parameters() + [{"params": [self.view_embeddings], "name": "view_embeddings"}]


@SEMI_SUPERVISED_TRACKERS.register("heatmap_multiview_transformer")
class SemiSupervisedHeatmapTrackerMultiviewTransformer(SemiSupervisedTrackerMixin, HeatmapTrackerMultiviewTransformer):
    """Multiview transformer trained with unsupervised losses on unlabeled multiview video as well."""

    def __init__(
        self,
        num_keypoints: int,
        num_views: int,
        loss_factory: LossFactory | None = None,
        loss_factory_unsupervised: LossFactory | None = None,
        backbone: str = "vits_dino",
        pretrained: bool = True,
        head: str = "heatmap_cnn",
        downsample_factor: int = 2,
        torch_seed: int = 123,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        image_size: int = 256,
        **kwargs,
    ) -> None:
        super().__init__(
            num_keypoints=num_keypoints,
            num_views=num_views,
            loss_factory=loss_factory,
            backbone=backbone,
            pretrained=pretrained,
            head=head,
            downsample_factor=downsample_factor,
            torch_seed=torch_seed,
            optimizer=optimizer,
            optimizer_params=optimizer_params,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            image_size=image_size,
            **kwargs,
        )
        self.setup_unsupervised(loss_factory_unsupervised)

    def get_loss_inputs_unlabeled(self, batch: UnlabeledBatch) -> HeatmapUnlabeledOutputs:
        heatmaps = self.forward(batch["frames"])
        keypoints_augmented, confidences = self.run_subpixelmaxima(heatmaps)
        transforms = squeeze_view_transforms(batch["transforms"])
        keypoints = undo_affine_transform_batch(keypoints_augmented, transforms, True)
        return {
            "heatmaps_pred": heatmaps,
            "keypoints_pred": model_to_frame_batch(batch, keypoints),
            "keypoints_pred_augmented": keypoints_augmented,
            "confidences": confidences,
        }
