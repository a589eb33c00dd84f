"""Output dictionaries of the trackers' ``get_loss_inputs_*`` methods.

The keys a tracker produces are read from these TypedDicts by the build-time compatibility
check in :mod:`lightning_pose.models.factory`: a configured loss that needs a key the tracker
does not produce is rejected before training starts.
"""

from typing import TypedDict, Union

from jaxtyping import Float
from torch import Tensor

__all__ = [
    "RegressionLabeledOutputs",
    "RegressionUnlabeledOutputs",
    "HeatmapLabeledOutputs",
    "HeatmapUnlabeledOutputs",
    "MHCRNNUnlabeledOutputs",
    "MultiviewLabeledOutputs",
    "LabeledOutputs",
]


class RegressionLabeledOutputs(TypedDict):
    keypoints_targ: Float[Tensor, "batch num_targets"]
    keypoints_pred: Float[Tensor, "batch num_targets"]


class RegressionUnlabeledOutputs(TypedDict):
    keypoints_pred: Float[Tensor, "num_frames num_targets"]


class HeatmapLabeledOutputs(TypedDict):
    heatmaps_targ: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    heatmaps_pred: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    keypoints_targ: Float[Tensor, "batch num_targets"]
    keypoints_pred: Float[Tensor, "batch num_targets"]
    confidences: Float[Tensor, "batch num_keypoints"]


class HeatmapUnlabeledOutputs(TypedDict):
    heatmaps_pred: Float[Tensor, "num_frames num_keypoints heatmap_height heatmap_width"]
    keypoints_pred: Float[Tensor, "num_frames num_targets"]
    keypoints_pred_augmented: Float[Tensor, "num_frames num_targets"]
    confidences: Float[Tensor, "num_frames num_keypoints"]


class MHCRNNUnlabeledOutputs(TypedDict):
    heatmaps_pred: Float[Tensor, "num_frames num_keypoints heatmap_height heatmap_width"]
    keypoints_pred: Float[Tensor, "num_frames num_targets"]
    confidences: Float[Tensor, "num_frames num_keypoints"]


class MultiviewLabeledOutputs(HeatmapLabeledOutputs):
    keypoints_targ_3d: Tensor | None
    keypoints_pred_3d: Tensor | None
    keypoints_pred_2d_reprojected: Tensor | None


LabeledOutputs = Union[RegressionLabeledOutputs, HeatmapLabeledOutputs, MultiviewLabeledOutputs]
