"""Loss functions of Lightning Pose (one module per family) and the loss factories.

Importing the package imports every family module, so the registry
:data:`lightning_pose.losses.base.LOSSES` always lists every loss.
"""

from lightning_pose.losses import heatmap, multiview_3d, pca, regression, temporal  # noqa: F401
