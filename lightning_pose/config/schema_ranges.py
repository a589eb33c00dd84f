"""The valid range of every numeric key of the schema (the schema's defaults lie inside them).

:func:`lightning_pose.config.validate_config` checks every key below; a list-valued key (per
keypoint epsilons, milestones, PCA columns) is checked element by element. Keys typed ``Any``
that can hold numbers among other things (``training.train_frames``, ``training.train_batch_size``,
``training.val_check_interval``, ``training.limit_train_batches``, ``components_to_keep``) have
their own checks in :mod:`lightning_pose.config.validate`. A test keeps this table complete:
every int or float field of the schema has a range here.
"""

import math
from dataclasses import dataclass
from typing import Optional, Union

__all__ = ["VALUE_RANGES", "ValueRange"]

Number = Union[int, float]


@dataclass(frozen=True)
class ValueRange:
    """``low <= value <= high`` (``<`` where open); None: unbounded on that side. Values must
    be finite numbers in any case."""

    low: Optional[Number] = None
    high: Optional[Number] = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: Number) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        if self.low is None and self.high is None:
            return "a finite number"
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        if self.low is None:
            return f"{'<' if self.high_open else '<='} {self.high}"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


FINITE = ValueRange()
AT_LEAST_0 = ValueRange(0)
AT_LEAST_1 = ValueRange(1)
POSITIVE = ValueRange(0, low_open=True)
PROBABILITY = ValueRange(0, 1)

_LOSS_WEIGHTS = {f"losses.{name}.log_weight": FINITE for name in (
    "pca_multiview", "pca_singleview", "temporal", "temporal_heatmap_mse", "temporal_heatmap_kl",
    "supervised_pairwise_projections", "supervised_reprojection_heatmap_mse",
)}
_PCA = {f"losses.{name}.{key}": rng for name in ("pca_multiview", "pca_singleview") for key, rng in (
    ("epsilon", AT_LEAST_0), ("empirical_epsilon_percentile", ValueRange(0, 100)),
    ("empirical_epsilon_multiplier", POSITIVE),
)}
_TEMPORAL = {f"losses.{name}.{key}": rng for name in ("temporal", "temporal_heatmap_mse", "temporal_heatmap_kl")
             for key, rng in (("epsilon", AT_LEAST_0), ("prob_threshold", PROBABILITY))}

VALUE_RANGES: dict[str, ValueRange] = {
    "data.image_resize_dims.height": AT_LEAST_1,
    "data.image_resize_dims.width": AT_LEAST_1,
    "data.image_orig_dims.height": AT_LEAST_1,
    "data.image_orig_dims.width": AT_LEAST_1,
    "data.downsample_factor": ValueRange(1, 3),
    "data.num_keypoints": AT_LEAST_1,
    "data.columns_for_singleview_pca": AT_LEAST_0,
    "dali.general.seed": FINITE,
    "dali.base.train.sequence_length": AT_LEAST_1,
    "dali.base.predict.sequence_length": AT_LEAST_1,
    "dali.context.train.batch_size": AT_LEAST_1,
    "dali.context.predict.sequence_length": AT_LEAST_1,
    **_LOSS_WEIGHTS,
    **_PCA,
    **_TEMPORAL,
    "eval.confidence_thresh_for_vid": PROBABILITY,
    "eval.fiftyone.port": ValueRange(1, 65535),
    "callbacks.anneal_weight.init_val": AT_LEAST_0,
    "callbacks.anneal_weight.increase_factor": AT_LEAST_0,
    "callbacks.anneal_weight.final_val": AT_LEAST_0,
    "callbacks.anneal_weight.freeze_until_epoch": AT_LEAST_0,
    "training.train_batch_size": AT_LEAST_1,
    "training.val_batch_size": AT_LEAST_1,
    "training.test_batch_size": AT_LEAST_1,
    "training.train_prob": ValueRange(0, 1, low_open=True),
    "training.val_prob": PROBABILITY,
    "training.num_gpus": AT_LEAST_0,
    "training.num_workers": AT_LEAST_0,
    "training.unfreezing_epoch": AT_LEAST_0,
    "training.min_epochs": AT_LEAST_0,
    "training.max_epochs": AT_LEAST_1,
    "training.unfreezing_step": AT_LEAST_0,
    "training.min_steps": AT_LEAST_0,
    "training.max_steps": AT_LEAST_1,
    "training.log_every_n_steps": AT_LEAST_1,
    "training.check_val_every_n_epoch": AT_LEAST_1,
    "training.ckpt_every_n_epochs": AT_LEAST_1,
    "training.early_stop_patience": AT_LEAST_0,
    "training.rng_seed_data_pt": FINITE,  # torch takes any int, as in Lightning Pose
    "training.rng_seed_model_pt": FINITE,
    "training.optimizer_params.learning_rate": POSITIVE,
    "training.lr_scheduler_params.multisteplr.milestones": AT_LEAST_0,
    "training.lr_scheduler_params.multisteplr.milestone_steps": AT_LEAST_0,
    "training.lr_scheduler_params.multisteplr.gamma": POSITIVE,
    "training.patch_mask.init_epoch": AT_LEAST_0,
    "training.patch_mask.final_epoch": AT_LEAST_0,
    "training.patch_mask.init_step": AT_LEAST_0,
    "training.patch_mask.final_step": AT_LEAST_0,
    "training.patch_mask.init_ratio": PROBABILITY,
    "training.patch_mask.final_ratio": PROBABILITY,
    "training.accumulate_grad_batches": AT_LEAST_1,
    "training.memory_cap_bytes": AT_LEAST_1,
}
