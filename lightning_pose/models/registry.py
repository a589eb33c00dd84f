"""Registration points of the tracker family: one registry per supervision mode, keyed by model type."""

from lightning_pose.registry import Registry

SUPERVISED_TRACKERS: Registry = Registry("model_type")
SEMI_SUPERVISED_TRACKERS: Registry = Registry("model_type (semi-supervised)")
