"""Heads: turn backbone features into heatmaps or coordinates.

``HEADS`` is the one registration point of the family; every head module registers its class.
"""

from lightning_pose.models.heads.registry import HEADS
from lightning_pose.models.heads.heatmap import (
    HeatmapHead,
    make_upsampling_layers,
    num_upsampling_layers,
    run_subpixelmaxima,
    spatial_softmax,
    upsample,
)
from lightning_pose.models.heads.heatmap_mhcrnn import HeatmapMHCRNNHead, UpsamplingCRNN
from lightning_pose.models.heads.regression import LinearRegressionHead

__all__ = [
    "HEADS",
    "HeatmapHead",
    "HeatmapMHCRNNHead",
    "LinearRegressionHead",
    "UpsamplingCRNN",
    "make_upsampling_layers",
    "num_upsampling_layers",
    "run_subpixelmaxima",
    "spatial_softmax",
    "upsample",
]
