"""Linear regression head: pooled backbone features -> (x, y) per keypoint."""

from jaxtyping import Float
from torch import Tensor, nn

from lightning_pose.models.heads.registry import HEADS

__all__ = ["LinearRegressionHead"]


@HEADS.register("linear_regression")
class LinearRegressionHead(nn.Module):
    """``Linear(in_channels, num_targets)`` on globally pooled ``(batch, C, 1, 1)`` features."""

    def __init__(self, in_channels: int, num_targets: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_targets = num_targets
        self.linear_layer = nn.Linear(in_channels, num_targets)

    def forward(
        self, features: Float[Tensor, "batch features 1 1"]
    ) -> Float[Tensor, "batch num_targets"]:
        return self.linear_layer(features.reshape(features.shape[0], -1))
