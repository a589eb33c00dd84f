"""EfficientNet backbones (stride 32) with torchvision ImageNet weights.

===============  =============================  ========
name             pretrained weights             channels
===============  =============================  ========
efficientnet_b0  torchvision ``IMAGENET1K_V1``  1280
efficientnet_b1  torchvision ``IMAGENET1K_V2``  1280
efficientnet_b2  torchvision ``IMAGENET1K_V1``  1408
===============  =============================  ========

For heatmap models only the ``features`` block is kept (state-dict keys ``0.*``); regression
models also keep the global average pooling.
"""

import torchvision.models as tvm
from torch import nn

from lightning_pose.models.backbones.convnet import ConvnetSpec, register_convnet

__all__: list[str] = []


def _classifier_in_features(model: nn.Module) -> int:
    """Channels of an EfficientNet's last feature map (the final linear layer's input size)."""
    return model.classifier[-1].in_features


_EFFICIENTNETS = (
    ("efficientnet_b0", tvm.efficientnet_b0, tvm.EfficientNet_B0_Weights.IMAGENET1K_V1, 1280),
    ("efficientnet_b1", tvm.efficientnet_b1, tvm.EfficientNet_B1_Weights.IMAGENET1K_V2, 1280),
    ("efficientnet_b2", tvm.efficientnet_b2, tvm.EfficientNet_B2_Weights.IMAGENET1K_V1, 1408),
)

for _name, _constructor, _weights, _channels in _EFFICIENTNETS:
    register_convnet(
        ConvnetSpec(
            _name, _constructor, _weights.url, "torchvision", _channels, _classifier_in_features
        )
    )
