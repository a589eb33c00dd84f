"""Lightning Pose's import path for every loss class (``lightning_pose.losses.losses``).

The classes live in one module per family; this module only re-exports them.
"""

from lightning_pose.losses.base import LOSSES, Loss, loss_required_keys
from lightning_pose.losses.factory import get_loss_classes
from lightning_pose.losses.heatmap import HeatmapJSLoss, HeatmapKLLoss, HeatmapLoss, HeatmapMSELoss
from lightning_pose.losses.multiview_3d import PairwiseProjectionsLoss, ReprojectionHeatmapLoss
from lightning_pose.losses.pca import PCALoss
from lightning_pose.losses.regression import RegressionMSELoss, RegressionRMSELoss
from lightning_pose.losses.temporal import TemporalHeatmapLoss, TemporalLoss

__all__ = [
    "LOSSES",
    "Loss",
    "HeatmapLoss",
    "HeatmapMSELoss",
    "HeatmapKLLoss",
    "HeatmapJSLoss",
    "PCALoss",
    "TemporalLoss",
    "TemporalHeatmapLoss",
    "RegressionMSELoss",
    "RegressionRMSELoss",
    "PairwiseProjectionsLoss",
    "ReprojectionHeatmapLoss",
    "get_loss_classes",
    "loss_required_keys",
]
