"""Base classes shared by every tracker: backbone, optimiser set-up, supervised/semi-supervised steps."""

import logging
from collections.abc import Mapping

import lightning.pytorch as pl
import torch
from jaxtyping import Float
from torch import Tensor

from lightning_pose.data.datatypes import (
    BaseLabeledBatchDict,
    LabeledBatch,
    PredictionBatch,
    SemiSupervisedBatchDict,
    SemiSupervisedHeatmapBatchDict,
    UnlabeledBatch,
    UnlabeledBatchDict,
    MultiviewUnlabeledBatchDict,
    check_batch,
)
from lightning_pose.models.backbones import build_backbone
from lightning_pose.models.datatypes import LabeledOutputs

__all__ = [
    "ALLOWED_LR_SCHEDULERS",
    "ALLOWED_OPTIMIZERS",
    "BaseFeatureExtractor",
    "BaseSupervisedTracker",
    "LrNotImplementedError",
    "OptimizerNotImplementedError",
    "SemiSupervisedTrackerMixin",
    "get_context_from_sequence",
    "pixel_error",
]

logger = logging.getLogger(__name__)

ALLOWED_OPTIMIZERS = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
ALLOWED_LR_SCHEDULERS = ("multisteplr", "multistep_lr")
DEFAULT_LR_SCHEDULER_PARAMS = {"milestones": [150, 200, 250], "gamma": 0.5}
DEFAULT_OPTIMIZER_PARAMS = {"learning_rate": 1e-3}
CONTEXT_LENGTH = 5


class LrNotImplementedError(NotImplementedError):
    """Raised for an unknown learning-rate scheduler name."""

    def __init__(self, lr_scheduler: str) -> None:
        self.lr_scheduler = lr_scheduler
        super().__init__(
            f"'{lr_scheduler}' is an invalid lr_scheduler; allowed: {list(ALLOWED_LR_SCHEDULERS)}"
        )


class OptimizerNotImplementedError(NotImplementedError):
    """Raised for an unknown optimizer name."""

    def __init__(self, optimizer: str) -> None:
        self.optimizer = optimizer
        super().__init__(f"'{optimizer}' is an invalid optimizer; allowed: {list(ALLOWED_OPTIMIZERS)}")


def get_context_from_sequence(
    sequence: Float[Tensor, "num_frames *rest"], context_length: int = CONTEXT_LENGTH
) -> Float[Tensor, "num_frames context *rest"]:
    """Row ``i`` holds frames ``i-2 .. i+2`` of the sequence, clamped at both ends."""
    half = context_length // 2
    idx = torch.arange(sequence.shape[0], device=sequence.device)[:, None]
    idx = (idx + torch.arange(-half, half + 1, device=sequence.device)).clamp(0, sequence.shape[0] - 1)
    return sequence[idx]


def pixel_error(
    keypoints_targ: Float[Tensor, "batch num_targets"],
    keypoints_pred: Float[Tensor, "batch num_targets"],
) -> Float[Tensor, ""]:
    """Mean Euclidean distance over labeled keypoints (NaN targets are skipped)."""
    diff = (keypoints_pred - keypoints_targ).reshape(keypoints_targ.shape[0], -1, 2)
    dist = diff.norm(dim=-1)
    labeled = ~dist.isnan()
    if not labeled.any():
        return dist.new_tensor(float("nan"))
    return dist[labeled].mean()


class BaseFeatureExtractor(pl.LightningModule):
    """Backbone plus optimiser and learning-rate-schedule configuration."""

    def __init__(
        self,
        backbone: str = "resnet50",
        pretrained: bool = True,
        lr_scheduler: str = "multisteplr",
        lr_scheduler_params: Mapping | None = None,
        optimizer: str = "Adam",
        optimizer_params: Mapping | None = None,
        do_context: bool = False,
        image_size: int = 256,
        model_type: str = "heatmap",
        **kwargs,
    ) -> None:
        super().__init__()
        if self.global_rank == 0:
            logger.info(f"initializing a {type(self).__name__} instance with {backbone} backbone")
        if optimizer not in ALLOWED_OPTIMIZERS:
            raise OptimizerNotImplementedError(optimizer)
        if lr_scheduler not in ALLOWED_LR_SCHEDULERS:
            raise LrNotImplementedError(lr_scheduler)
        self.backbone_arch = backbone
        self.pretrained = pretrained
        self.do_context = do_context
        self.image_size = image_size
        self.model_type = model_type
        self.optimizer = optimizer
        self.optimizer_params = {**DEFAULT_OPTIMIZER_PARAMS, **dict(optimizer_params or {})}
        self.lr_scheduler = lr_scheduler
        self.lr_scheduler_params = {**DEFAULT_LR_SCHEDULER_PARAMS, **dict(lr_scheduler_params or {})}
        self.backbone, self.num_fc_input_features = build_backbone(
            backbone,
            pretrained=pretrained,
            model_type=model_type,
            image_size=image_size,
            backbone_checkpoint=kwargs.get("backbone_checkpoint"),
        )

    def _context_representations(
        self, images: Float[Tensor, "..."], is_multiview: bool
    ) -> Float[Tensor, "num_samples features rep_height rep_width context"]:
        if images.ndim == 6:  # labeled multiview context (B, V, T, 3, H, W)
            images = images.flatten(0, 1)
        if images.ndim == 5 and not is_multiview:  # labeled context (B, T, 3, H, W)
            batch, frames = images.shape[:2]
            reps = self.backbone(images.flatten(0, 1))
            return reps.reshape(batch, frames, *reps.shape[1:]).permute(0, 2, 3, 4, 1)
        if images.ndim == 5:  # unlabeled multiview sequence (L, V, 3, H, W): views -> channels
            length, views = images.shape[:2]
            reps = self.backbone(images.flatten(0, 1))
            reps = reps.reshape(length, views * reps.shape[1], *reps.shape[2:])
        else:  # unlabeled single-view sequence (L, 3, H, W)
            reps = self.backbone(images)
        if reps.shape[0] < CONTEXT_LENGTH:
            raise RuntimeError(
                f"Not enough valid frames to make a context representation: got {reps.shape[0]}, "
                f"need at least {CONTEXT_LENGTH}"
            )
        windows = get_context_from_sequence(reps)[2:-2]  # frames with a full context window
        return windows.permute(0, 2, 3, 4, 1)

    def get_representations(
        self, images: Float[Tensor, "..."], is_multiview: bool = False
    ) -> Float[Tensor, "..."]:
        """Backbone features; with ``do_context`` the 5 context frames go in the last dim."""
        if not self.do_context:
            return self.backbone(images)
        return self._context_representations(images, is_multiview)

    def forward(self, images: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        return self.get_representations(images)

    def backbone_entry_modules(self) -> list[torch.nn.Module]:
        """The modules the forward pass calls to run the backbone, images entering the first:
        ``training.compile`` compiles these and ``training.channels_last`` hands them NHWC images."""
        return [self.backbone]

    def get_parameters(self) -> list[dict] | list[Tensor]:
        return [p for p in self.parameters() if p.requires_grad]

    def configure_optimizers(self) -> dict:
        optimizer_cls = ALLOWED_OPTIMIZERS[self.optimizer]
        optimizer = optimizer_cls(self.get_parameters(), lr=self.optimizer_params["learning_rate"])
        scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer,
            milestones=list(self.lr_scheduler_params["milestones"]),
            gamma=self.lr_scheduler_params["gamma"],
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler, "monitor": "val_supervised_loss"}


class BaseSupervisedTracker(BaseFeatureExtractor):
    """Supervised training/validation/test steps on labeled batches.

    Subclasses provide ``get_loss_inputs_labeled(batch) -> dict`` and ``predict_step``.
    """

    def get_parameters(self) -> list[dict]:
        """Parameter groups in Lightning Pose's order: the backbone (learning rate 0 until
        :class:`~lightning_pose.callbacks.UnfreezeBackbone` raises it), then the head."""
        return [
            {"params": self.backbone.parameters(), "lr": 0, "name": "backbone"},
            {"params": self.head.parameters(), "name": "head"},
        ]

    # the labeled batch types this tracker trains on (each batch it receives must fit one)
    labeled_batch_types: tuple[type, ...] = (BaseLabeledBatchDict,)

    def check_prediction_batch(self, batch: PredictionBatch) -> None:
        """A batch to predict on: this tracker's labeled batches, or unlabeled video frames."""
        check_batch(batch, *self.labeled_batch_types, UnlabeledBatchDict, MultiviewUnlabeledBatchDict)

    def frame_keypoints_for_metrics(self, batch: LabeledBatch, data: LabeledOutputs) -> tuple[Tensor, Tensor]:
        """(target, prediction) keypoints in original-frame pixels for the pixel-error metric."""
        return data["keypoints_targ"], data["keypoints_pred"]

    def evaluate_labeled(
        self, batch: LabeledBatch, stage: str | None = None, anneal_weight: float | Tensor | None = None
    ) -> Tensor:
        check_batch(batch, *self.labeled_batch_types)
        data = self.get_loss_inputs_labeled(batch)
        loss, logs = self.loss_factory(stage=stage, anneal_weight=anneal_weight, **data)
        rmse, _ = self.rmse_loss(stage=stage, **data)
        if stage:
            batch_size = int(data["keypoints_pred"].shape[0])
            self.log(f"{stage}_supervised_loss", loss, prog_bar=True, sync_dist=True, batch_size=batch_size)
            self.log(f"{stage}_supervised_rmse", rmse, sync_dist=True, batch_size=batch_size)
            targ, pred = self.frame_keypoints_for_metrics(batch, data)
            error = pixel_error(targ.detach(), pred.detach())
            if not error.isnan():
                self.log(f"{stage}_pixel_error", error, sync_dist=True, batch_size=batch_size)
            for entry in logs:
                self.log(
                    entry["name"],
                    entry["value"].to(self.device),
                    prog_bar=entry.get("prog_bar", False),
                    sync_dist=True,
                    batch_size=batch_size,
                )
        return loss

    # the attribute the unsupervised-loss importance is read from (AnnealWeight writes it)
    unsupervised_importance_attr: str = "total_unsupervised_importance"

    def _anneal_weight(self) -> Tensor | None:
        importance = getattr(self, self.unsupervised_importance_attr, None)
        if importance is not None:
            self.log(self.unsupervised_importance_attr, importance, prog_bar=True)
        return importance

    def training_step(self, batch: LabeledBatch, batch_idx: int) -> dict:
        return {"loss": self.evaluate_labeled(batch, "train", anneal_weight=self._anneal_weight())}

    def validation_step(self, batch: LabeledBatch, batch_idx: int) -> None:
        self.evaluate_labeled(batch, "val")

    def test_step(self, batch: LabeledBatch, batch_idx: int) -> None:
        self.evaluate_labeled(batch, "test")


class SemiSupervisedTrackerMixin:
    """Adds unsupervised losses on unlabeled frames; put it FIRST in the bases of a tracker.

    Subclasses call :meth:`setup_unsupervised` in their constructor and provide
    ``get_loss_inputs_unlabeled(batch)``.
    """

    def setup_unsupervised(self, loss_factory_unsupervised) -> None:
        """Keep the unsupervised loss factory; the importance starts at 1 (AnnealWeight sets it)."""
        self.loss_factory_unsup = loss_factory_unsupervised
        setattr(self, self.unsupervised_importance_attr, torch.tensor(1.0))

    def evaluate_unlabeled(
        self, batch: UnlabeledBatch, stage: str | None = None, anneal_weight: float | Tensor = 1.0
    ) -> Tensor:
        check_batch(batch, UnlabeledBatchDict, MultiviewUnlabeledBatchDict)
        data = self.get_loss_inputs_unlabeled(batch)
        loss, logs = self.loss_factory_unsup(stage=stage, anneal_weight=anneal_weight, **data)
        if stage:
            for entry in logs:
                self.log(entry["name"], entry["value"], prog_bar=entry.get("prog_bar", False))
        return loss

    def training_step(
        self, batch: SemiSupervisedBatchDict | SemiSupervisedHeatmapBatchDict, batch_idx: int
    ) -> dict:
        importance = self._anneal_weight()
        loss_super = self.evaluate_labeled(batch["labeled"], "train", anneal_weight=importance)
        loss_unsuper = self.evaluate_unlabeled(batch["unlabeled"], "train", anneal_weight=importance)
        total = loss_super + loss_unsuper
        self.log("total_loss", total, prog_bar=True, sync_dist=True)
        return {"loss": total}
