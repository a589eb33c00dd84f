"""Lightning Pose trackers, their building blocks and the model factory."""

from lightning_pose.models.base import (
    BaseFeatureExtractor,
    BaseSupervisedTracker,
    SemiSupervisedTrackerMixin,
)
from lightning_pose.models.heatmap_tracker import HeatmapTracker, SemiSupervisedHeatmapTracker
from lightning_pose.models.heatmap_tracker_mhcrnn import (
    HeatmapTrackerMHCRNN,
    SemiSupervisedHeatmapTrackerMHCRNN,
)
from lightning_pose.models.heatmap_tracker_multiview import (
    HeatmapTrackerMultiviewTransformer,
    SemiSupervisedHeatmapTrackerMultiviewTransformer,
)
from lightning_pose.models import factory
from lightning_pose.models.regression_tracker import RegressionTracker, SemiSupervisedRegressionTracker
from lightning_pose.models.factory import (
    check_if_semi_supervised,
    get_model,
    get_model_class,
    load_checkpoint,
)

def __getattr__(name: str):
    """``ALLOWED_MODEL_TYPES``: see :mod:`lightning_pose.models.factory` (built from the registry)."""
    if name == "ALLOWED_MODEL_TYPES":
        return factory.ALLOWED_MODEL_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


ALLOWED_MODELS = (
    RegressionTracker,
    HeatmapTracker,
    HeatmapTrackerMHCRNN,
    HeatmapTrackerMultiviewTransformer,
    SemiSupervisedRegressionTracker,
    SemiSupervisedHeatmapTracker,
    SemiSupervisedHeatmapTrackerMHCRNN,
    SemiSupervisedHeatmapTrackerMultiviewTransformer,
)

__all__ = [
    "ALLOWED_MODELS",
    "ALLOWED_MODEL_TYPES",
    "BaseFeatureExtractor",
    "BaseSupervisedTracker",
    "HeatmapTracker",
    "HeatmapTrackerMHCRNN",
    "HeatmapTrackerMultiviewTransformer",
    "RegressionTracker",
    "SemiSupervisedHeatmapTracker",
    "SemiSupervisedHeatmapTrackerMHCRNN",
    "SemiSupervisedHeatmapTrackerMultiviewTransformer",
    "SemiSupervisedRegressionTracker",
    "SemiSupervisedTrackerMixin",
    "check_if_semi_supervised",
    "get_model",
    "get_model_class",
    "load_checkpoint",
]
