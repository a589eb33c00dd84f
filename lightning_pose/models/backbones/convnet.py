"""Convolutional backbones: torchvision classifiers truncated before their classification layers.

A backbone keeps the first children of the torchvision model, in order, inside an
``nn.Sequential``, exactly as Lightning Pose does, so the state-dict keys are the child indices
(``0.weight``, ``1.running_mean``, ``4.0.conv1.weight`` for a ResNet; ``0.0.0.weight`` for an
EfficientNet) and Lightning Pose checkpoints load with ``strict=True``:

* ``model_type="heatmap"`` drops the last two children (global pooling and classifier); the output
  is the last feature map, ``(B, C, ceil(H/32), ceil(W/32))``.
* ``model_type="regression"`` drops only the classifier, keeping the global average pooling; the
  output is ``(B, C, 1, 1)``.

This module registers nothing itself; ``resnet.py`` and ``efficientnet.py`` declare their
backbones as :class:`ConvnetSpec` entries and register them with :func:`register_convnet`.
"""

import logging
import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from jaxtyping import Float
from torch import Tensor, nn

from lightning_pose.models.backbones.base import (
    BACKBONES,
    PretrainedWeightsNotFoundError,
    fetch_url_weights,
    load_weights_file,
    unwrap_state_dict,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ConvnetBackbone",
    "ConvnetSpec",
    "truncate_classifier",
    "mmpose_backbone_state_dict",
    "register_convnet",
]

CONVNET_STRIDE = 32


class ConvnetBackbone(nn.Sequential):
    """The retained children of a torchvision classifier, applied in order.

    A plain ``nn.Sequential`` apart from the shape-annotated ``forward``; its state-dict keys are
    those of ``nn.Sequential(*children)``.
    """

    def forward(
        self, images: Float[Tensor, "batch 3 height width"]
    ) -> Float[Tensor, "batch channels feat_height feat_width"]:
        """Map images to the last feature map (heatmap) or pooled features (regression)."""
        return super().forward(images)


def truncate_classifier(
    model: nn.Module, model_type: Literal["heatmap", "regression"]
) -> ConvnetBackbone:
    """Keep the children of ``model`` up to (heatmap: excluding) its global pooling layer.

    Equivalent to Lightning Pose's ``Sequential(children[: last + 1])`` with ``last = -3`` for
    heatmap models and ``last = -2`` for regression models.
    """
    last = -3 if model_type == "heatmap" else -2
    return ConvnetBackbone(*list(model.children())[: last + 1])


def mmpose_backbone_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Select the backbone weights of an mmpose checkpoint, renamed for torchvision.

    Keeps the keys containing ``backbone`` and drops their first dotted component, so
    ``backbone.layer1.0.conv1.weight`` becomes ``layer1.0.conv1.weight``.
    """
    return {
        key.split(".", 1)[1] if "." in key else "": value
        for key, value in state_dict.items()
        if "backbone" in key
    }


def _load_torchvision_format(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"weights in {source} do not fit {type(model).__name__}: {err}") from err


def _load_mmpose_format(model: nn.Module, state: dict[str, Tensor], source: str) -> None:
    selected = mmpose_backbone_state_dict(state)
    result = model.load_state_dict(selected, strict=False)
    loaded = len(selected) - len(result.unexpected_keys)
    if loaded == 0:
        raise ValueError(
            f"{source} contains no backbone weights matching {type(model).__name__} "
            f"(expected keys like 'backbone.conv1.weight')"
        )
    logger.info(
        "loaded %d backbone tensors from %s (%d model tensors not in the file: %s)",
        loaded,
        source,
        len(result.missing_keys),
        result.missing_keys,
    )


@dataclass(frozen=True)
class ConvnetSpec:
    """One convolutional backbone: a torchvision constructor plus its pretrained weights.

    Attributes:
        name: public backbone name.
        constructor: torchvision model function, called as ``constructor(weights=None)``.
        weights_url: where the pretrained weights are published (torchvision or mmpose).
        weights_format: ``"torchvision"`` (full state dict, strict load, hash-checked download)
            or ``"mmpose"`` (checkpoint whose ``backbone.*`` keys are loaded non-strictly).
        out_channels: channels of the last feature map.
        read_out_channels: reads the channel count from the built (untruncated) model, as
            Lightning Pose does (``fc.in_features`` / ``classifier[-1].in_features``).
    """

    name: str
    constructor: Callable[..., nn.Module]
    weights_url: str
    weights_format: Literal["torchvision", "mmpose"]
    out_channels: int
    read_out_channels: Callable[[nn.Module], int]

    def weights_path(
        self, pretrained: bool, backbone_checkpoint: str | os.PathLike | None
    ) -> pathlib.Path | None:
        """The weights file to load: the explicit checkpoint, else the cache if pretrained."""
        if backbone_checkpoint is not None:
            path = pathlib.Path(backbone_checkpoint)
            if not path.is_file():
                raise PretrainedWeightsNotFoundError(
                    f"backbone_checkpoint {str(path)!r} for backbone {self.name!r} does not exist"
                )
            return path
        if pretrained:
            return fetch_url_weights(
                self.name, self.weights_url, check_hash=self.weights_format == "torchvision"
            )
        return None

    def __call__(
        self,
        *,
        pretrained: bool,
        model_type: Literal["heatmap", "regression"],
        image_size: int,
        backbone_checkpoint: str | os.PathLike | None,
    ) -> tuple[nn.Module, int]:
        """Build the truncated backbone; ``image_size`` is unused by convnets."""
        model = self.constructor(weights=None)
        path = self.weights_path(pretrained, backbone_checkpoint)
        if path is not None:
            state = unwrap_state_dict(load_weights_file(path), str(path))
            if self.weights_format == "torchvision":
                _load_torchvision_format(model, state, str(path))
            else:
                _load_mmpose_format(model, state, str(path))
            logger.info("backbone %s: loaded weights from %s", self.name, path)
        return truncate_classifier(model, model_type), int(self.read_out_channels(model))


def register_convnet(spec: ConvnetSpec) -> ConvnetSpec:
    """Register ``spec`` in :data:`BACKBONES` with the convnet metadata (stride 32)."""
    BACKBONES.add(
        spec.name,
        spec,
        stride=CONVNET_STRIDE,
        family="convnet",
        multiview_transformer=False,
        out_channels=spec.out_channels,
    )
    return spec
