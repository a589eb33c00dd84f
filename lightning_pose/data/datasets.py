"""Labeled-frame datasets (Lightning Pose's ``lightning_pose.data.datasets``).

- :class:`BaseTrackingDataset`: images + keypoints, for regression models;
- :class:`HeatmapDataset`: adds Gaussian heatmap targets;
- :class:`MultiviewHeatmapDataset`: one heatmap dataset per camera view, stacked per example.
"""

from lightning_pose.data.datasets_multiview import MultiviewHeatmapDataset
from lightning_pose.data.datasets_singleview import (
    BaseTrackingDataset,
    HeatmapDataset,
    hflip_swap_indices,
    load_image,
)

__all__ = [
    "BaseTrackingDataset",
    "HeatmapDataset",
    "MultiviewHeatmapDataset",
    "hflip_swap_indices",
    "load_image",
]
