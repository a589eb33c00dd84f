"""Lightning Pose: pose-estimation trackers (models), their losses, data pipeline and training.

Importing the package imports every family that registers something (models with their backbones
and heads, losses, data augmentations), so every registry, and every family check of
:func:`lightning_pose.config.validate_config`, is complete whichever module is imported first.
"""

from lightning_pose import losses, models  # noqa: F401  (fill the registries)
from lightning_pose.data import augmentations  # noqa: F401
