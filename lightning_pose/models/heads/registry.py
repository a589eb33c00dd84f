"""Registration point of the head family (``heatmap_cnn``, ``heatmap_mhcrnn``, ``linear_regression``)."""

from lightning_pose.registry import Registry

HEADS: Registry = Registry("head")
