"""Plain Vision Transformer backbones (stride 16) built on HuggingFace ``transformers.ViTModel``.

==============  ========================  =====  ======  =====  ====
name            pretrained weights (HF)   width  layers  heads  MLP
==============  ========================  =====  ======  =====  ====
vits_dino       facebook/dino-vits16      384    12      6      1536
vitb_dino       facebook/dino-vitb16      768    12      12     3072
vitb_imagenet   facebook/vit-mae-base     768    12      12     3072
==============  ========================  =====  ======  =====  ====

All three use the geometry of their HuggingFace configs: patch 16, image size 224 (a 14x14
position-embedding grid, interpolated to other input sizes), ``layer_norm_eps=1e-12``,
``qkv_bias=True``, GELU, no dropout. ``pretrained=False`` builds the same architecture from that
configuration with random weights and works offline; ``pretrained=True`` reads the HuggingFace
weights (from the local HF cache when offline) and fails loudly when they are not available.

The HF model is stored as :attr:`VisionEncoder.vision_encoder`, so state-dict keys start with
``vision_encoder.`` (``vision_encoder.embeddings.patch_embeddings.projection.weight``,
``vision_encoder.encoder.layer.0.attention.attention.query.weight`` ...) exactly as in Lightning
Pose with transformers 4.x (the version range this project pins).
"""

import logging
import math
import os
from dataclasses import dataclass
from typing import Literal

import huggingface_hub.constants
from jaxtyping import Float
from torch import Tensor, nn
from transformers import ViTConfig, ViTModel

from lightning_pose.models.backbones.base import (
    BACKBONES,
    PretrainedWeightsNotFoundError,
    is_offline,
    load_weights_file,
    unwrap_state_dict,
)

logger = logging.getLogger(__name__)

__all__ = [
    "VisionEncoder",
    "ViTSpec",
    "tokens_to_feature_map",
    "load_vit_backbone_checkpoint",
]

VIT_STRIDE = 16


def tokens_to_feature_map(
    tokens: Float[Tensor, "batch num_patches dim"],
) -> Float[Tensor, "batch dim side side"]:
    """Lay a square grid of patch tokens (row-major) out as a ``(B, D, side, side)`` map."""
    batch, num_patches, dim = tokens.shape
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f"{num_patches} patch tokens do not form a square grid")
    return tokens.reshape(batch, side, side, dim).permute(0, 3, 1, 2)


class VisionEncoder(nn.Module):
    """A HuggingFace ``ViTModel`` (no pooler) that returns its patch tokens as a feature map.

    Args:
        vision_encoder: the ViT, stored as ``self.vision_encoder``.

    The multiview transformer tracker bypasses :meth:`forward` and drives the pieces itself:
    :meth:`embed` (patch + position embeddings, CLS token first), :meth:`run_blocks` (the
    transformer blocks) and ``self.vision_encoder.layernorm`` (the final norm).
    """

    def __init__(self, vision_encoder: ViTModel) -> None:
        super().__init__()
        self.vision_encoder = vision_encoder

    @property
    def hidden_size(self) -> int:
        """Token width D (= output channels)."""
        return int(self.vision_encoder.config.hidden_size)

    def embed(
        self, pixel_values: Float[Tensor, "batch 3 height width"]
    ) -> Float[Tensor, "batch num_tokens dim"]:
        """CLS token followed by the patch tokens, position embeddings interpolated to the input."""
        return self.vision_encoder.embeddings(
            pixel_values, bool_masked_pos=None, interpolate_pos_encoding=True
        )

    def run_blocks(
        self, tokens: Float[Tensor, "batch num_tokens dim"]
    ) -> Float[Tensor, "batch num_tokens dim"]:
        """Apply every transformer block (full self-attention over all tokens, no final norm)."""
        return self.vision_encoder.encoder(tokens)[0]

    def forward(
        self, images: Float[Tensor, "batch 3 height width"]
    ) -> Float[Tensor, "batch dim feat_height feat_width"]:
        """Encode square images into a ``(B, D, H/16, W/16)`` map of patch tokens (CLS dropped)."""
        height, width = images.shape[-2:]
        if height != width:
            raise ValueError(f"ViT backbones need square images, got height {height} width {width}")
        hidden = self.vision_encoder(
            images, return_dict=True, output_hidden_states=False, interpolate_pos_encoding=True
        ).last_hidden_state
        return tokens_to_feature_map(hidden[:, 1:])


def load_vit_backbone_checkpoint(base: VisionEncoder, checkpoint: str | os.PathLike) -> list[str]:
    """Load the encoder weights of a ViT-MAE checkpoint into ``base`` (non-strict).

    The file (``.safetensors`` or torch, optionally wrapping a ``state_dict``) is filtered as in
    Lightning Pose: keys starting with ``vit_mae.`` are kept, ``vit_mae.vit.`` is removed, and
    only keys present in ``base.vision_encoder`` with an identical shape are loaded.

    Returns:
        the sorted ``vision_encoder`` keys that were loaded.

    Raises:
        ValueError: no tensor of the file fits the encoder.
    """
    logger.info("loading ViT-MAE weights from %s", checkpoint)
    state = unwrap_state_dict(load_weights_file(checkpoint), str(checkpoint))
    encoder_state = base.vision_encoder.state_dict()
    renamed = {
        key.replace("vit_mae.vit.", ""): value
        for key, value in state.items()
        if key.startswith("vit_mae.")
    }
    selected = {
        key: value
        for key, value in renamed.items()
        if key in encoder_state and encoder_state[key].shape == value.shape
    }
    if not selected:
        raise ValueError(
            f"backbone_checkpoint {str(checkpoint)!r} has no 'vit_mae.vit.*' tensor that fits the "
            f"ViT encoder"
        )
    base.vision_encoder.load_state_dict(selected, strict=False)
    return sorted(selected)


@dataclass(frozen=True)
class ViTSpec:
    """One ViT backbone: its HuggingFace weights and the geometry of their configuration."""

    name: str
    hf_id: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    accepts_mae_checkpoint: bool = False
    layer_norm_eps: float = 1e-12
    image_size: int = 224
    patch_size: int = 16
    qkv_bias: bool = True

    def config(self) -> ViTConfig:
        """The HuggingFace configuration of the architecture (used for random initialisation)."""
        return ViTConfig(
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            hidden_act="gelu",
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            initializer_range=0.02,
            layer_norm_eps=self.layer_norm_eps,
            image_size=self.image_size,
            patch_size=self.patch_size,
            num_channels=3,
            qkv_bias=self.qkv_bias,
        )

    def load_pretrained(self) -> ViTModel:
        """``ViTModel.from_pretrained`` from the HF cache (only the cache when offline)."""
        cache_dir = huggingface_hub.constants.HF_HUB_CACHE
        offline = is_offline()
        try:
            model = ViTModel.from_pretrained(
                self.hf_id, add_pooling_layer=False, local_files_only=offline, cache_dir=cache_dir
            )
        except OSError as err:
            how = "downloads are disabled (LP_OFFLINE/HF_HUB_OFFLINE)" if offline else str(err)
            raise PretrainedWeightsNotFoundError(
                f"pretrained weights for backbone {self.name!r} (HuggingFace model "
                f"{self.hf_id!r}) are not in the HuggingFace cache {cache_dir} and {how}. "
                f"Download them with `hf download {self.hf_id}` (or "
                f"huggingface_hub.snapshot_download({self.hf_id!r})) into that cache "
                f"(HF_HOME/HF_HUB_CACHE), or use pretrained=False."
            ) from err
        if model.config.hidden_size != self.hidden_size:
            raise ValueError(
                f"{self.hf_id!r} in {cache_dir} has width {model.config.hidden_size}, "
                f"backbone {self.name!r} expects {self.hidden_size}"
            )
        return model

    def __call__(
        self,
        *,
        pretrained: bool,
        model_type: Literal["heatmap", "regression"],
        image_size: int,
        backbone_checkpoint: str | os.PathLike | None,
    ) -> tuple[nn.Module, int]:
        """Build the encoder; ``image_size`` is unused (positions are interpolated per input)."""
        if model_type != "heatmap":
            raise ValueError(f"backbone {self.name!r} supports model_type 'heatmap' only")
        if pretrained:
            vit = self.load_pretrained()
        else:
            vit = ViTModel(self.config(), add_pooling_layer=False)
        base = VisionEncoder(vit)
        if backbone_checkpoint is not None:
            if self.accepts_mae_checkpoint:
                load_vit_backbone_checkpoint(base, backbone_checkpoint)
            else:
                logger.warning(
                    "backbone %s ignores backbone_checkpoint=%s (only vitb_imagenet loads one)",
                    self.name,
                    backbone_checkpoint,
                )
        return base, base.hidden_size


_VITS = (
    ViTSpec("vits_dino", "facebook/dino-vits16", 384, 12, 6, 1536),
    ViTSpec("vitb_dino", "facebook/dino-vitb16", 768, 12, 12, 3072),
    ViTSpec(
        "vitb_imagenet", "facebook/vit-mae-base", 768, 12, 12, 3072, accepts_mae_checkpoint=True
    ),
)

for _spec in _VITS:
    BACKBONES.add(
        _spec.name,
        _spec,
        stride=VIT_STRIDE,
        family="transformer",
        multiview_transformer=True,
        out_channels=_spec.hidden_size,
    )
