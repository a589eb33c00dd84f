"""Backbone networks: images -> feature maps.

Every module of this package is imported here automatically, so adding a backbone is one new
file whose builder is registered in :data:`BACKBONES` (see :mod:`.base` for the builder contract
and the required metadata); nothing else needs editing. The lists and the stride table below are
derived from the registry.

Families (one file each): ``resnet`` (torchvision and mmpose ResNets), ``efficientnet``
(torchvision EfficientNet-B0/B1/B2) and ``vit`` (HuggingFace ViT-S/16 and ViT-B/16 encoders).
"""

import importlib
import os
import pkgutil
from typing import Any

from torch import nn

from lightning_pose.models.backbones.base import (
    BACKBONES,
    MODEL_TYPES,
    BackboneBuilder,
    PretrainedWeightsNotFoundError,
    is_offline,
    torch_hub_checkpoint_path,
)
from lightning_pose.models.backbones.vit import (
    VisionEncoder,
    load_vit_backbone_checkpoint,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "BACKBONES",
    "BACKBONE_STRIDES",
    "ALLOWED_BACKBONES",
    "ALLOWED_CONVNET_BACKBONES",
    "ALLOWED_TRANSFORMER_BACKBONES",
    "ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW",
    "BackboneBuilder",
    "PretrainedWeightsNotFoundError",
    "VisionEncoder",
    "build_backbone",
    "get_backbone_stride",
    "is_offline",
    "load_vit_backbone_checkpoint",
    "torch_hub_checkpoint_path",
]

_REQUIRED_METADATA = ("stride", "family", "multiview_transformer", "out_channels")


def _check_metadata(name: str) -> dict[str, Any]:
    metadata = BACKBONES.metadata(name)
    missing = [key for key in _REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ValueError(f"backbone {name!r} is registered without metadata {missing}")
    if metadata["family"] not in ("convnet", "transformer"):
        raise ValueError(f"backbone {name!r} has unknown family {metadata['family']!r}")
    return metadata


_METADATA = {name: _check_metadata(name) for name in BACKBONES.names()}

ALLOWED_BACKBONES: list[str] = BACKBONES.names()
ALLOWED_CONVNET_BACKBONES: list[str] = [
    name for name, meta in _METADATA.items() if meta["family"] == "convnet"
]
ALLOWED_TRANSFORMER_BACKBONES: list[str] = [
    name for name, meta in _METADATA.items() if meta["family"] == "transformer"
]
ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW: list[str] = [
    name for name, meta in _METADATA.items() if meta["multiview_transformer"]
]
BACKBONE_STRIDES: dict[str, int] = {name: int(meta["stride"]) for name, meta in _METADATA.items()}


def get_backbone_stride(name: str) -> int:
    """Input pixels per feature-map pixel (32 or 16); unknown names raise ``ValueError``."""
    return int(BACKBONES.metadata(name)["stride"])


def build_backbone(
    backbone_arch: str,
    pretrained: bool = True,
    model_type: str = "heatmap",
    image_size: int = 256,
    **kwargs: Any,
) -> tuple[nn.Module, int]:
    """Build a registered backbone.

    Args:
        backbone_arch: a name from :data:`ALLOWED_BACKBONES`.
        pretrained: load the published weights (from the local cache; downloaded only when not
            offline); missing weights raise :class:`PretrainedWeightsNotFoundError`. ``False``
            gives the architecture's default random initialisation.
        model_type: ``"heatmap"`` (feature map output) or ``"regression"`` (convnets only:
            globally pooled ``(B, C, 1, 1)`` output).
        image_size: square input side in pixels; accepted for interface compatibility, unused by
            the registered backbones.
        **kwargs: only ``backbone_checkpoint`` (path or ``None``): a weights file that replaces
            the cached pretrained weights of a convnet, or a ViT-MAE checkpoint loaded on top of
            ``vitb_imagenet`` (see :func:`load_vit_backbone_checkpoint`).

    Returns:
        ``(module, number of output channels)``.

    Raises:
        ValueError: unknown backbone or model type, or a transformer with ``"regression"``.
        TypeError: unexpected keyword arguments.
    """
    builder = BACKBONES.get(backbone_arch)
    unexpected = sorted(set(kwargs) - {"backbone_checkpoint"})
    if unexpected:
        raise TypeError(f"build_backbone got unexpected keyword arguments {unexpected}")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {list(MODEL_TYPES)}, got {model_type!r}")
    family = _METADATA[backbone_arch]["family"]
    if family == "transformer" and model_type != "heatmap":
        raise ValueError(
            f"transformer backbone {backbone_arch!r} cannot be used with model_type "
            f"{model_type!r}; use one of {ALLOWED_CONVNET_BACKBONES}"
        )
    checkpoint: str | os.PathLike | None = kwargs.get("backbone_checkpoint")
    module, channels = builder(
        pretrained=pretrained,
        model_type=model_type,
        image_size=image_size,
        backbone_checkpoint=checkpoint,
    )
    return module, int(channels)
