"""ViT backbones: geometry, output layout, pieces used by the multiview tracker, checkpoints."""

import logging

import pytest
import safetensors.torch
import torch
from transformers import ViTConfig, ViTModel

from lightning_pose.models.backbones import (
    ALLOWED_TRANSFORMER_BACKBONES,
    BACKBONES,
    VisionEncoder,
    build_backbone,
    load_vit_backbone_checkpoint,
)
from lightning_pose.models.backbones.vit import tokens_to_feature_map

GEOMETRY = {  # hidden size, layers, heads, MLP size (HuggingFace configs)
    "vits_dino": (384, 12, 6, 1536),
    "vitb_dino": (768, 12, 12, 3072),
    "vitb_imagenet": (768, 12, 12, 3072),
}


@pytest.fixture(scope="module")
def vits() -> VisionEncoder:
    torch.manual_seed(0)
    backbone, _ = build_backbone("vits_dino", pretrained=False)
    return backbone.eval()


def _tiny_encoder() -> VisionEncoder:
    config = ViTConfig(
        hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16
    )
    return VisionEncoder(ViTModel(config, add_pooling_layer=False))


@pytest.mark.parametrize("name", ALLOWED_TRANSFORMER_BACKBONES)
def test_geometry_keys_and_shapes(name):
    backbone, channels = build_backbone(name, pretrained=False, image_size=128)
    config = backbone.vision_encoder.config
    hidden, layers, heads, mlp = GEOMETRY[name]
    assert channels == hidden == BACKBONES.metadata(name)["out_channels"]
    assert (config.hidden_size, config.num_hidden_layers) == (hidden, layers)
    assert (config.num_attention_heads, config.intermediate_size) == (heads, mlp)
    assert (config.patch_size, config.image_size, config.layer_norm_eps) == (16, 224, 1e-12)
    assert config.qkv_bias is True and config.hidden_act == "gelu"
    state = backbone.state_dict()
    assert all(key.startswith("vision_encoder.") for key in state)
    assert state["vision_encoder.embeddings.patch_embeddings.projection.weight"].shape == (
        hidden, 3, 16, 16,
    )
    assert state["vision_encoder.embeddings.position_embeddings"].shape == (1, 197, hidden)
    assert "vision_encoder.layernorm.weight" in state
    assert not any("pooler" in key for key in state)
    sizes = [64] if name.startswith("vitb") else [128, 64]
    with torch.no_grad():
        for size in sizes:
            output = backbone(torch.rand(1, 3, size, size))
            assert output.shape == (1, hidden, size // 16, size // 16)


def test_feature_map_is_the_patch_tokens_in_row_major_order(vits):
    images = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        features = vits(images)
        hidden = vits.vision_encoder(images, interpolate_pos_encoding=True).last_hidden_state
    assert features.shape == (2, 384, 3, 3)
    for row in range(3):
        for col in range(3):
            torch.testing.assert_close(features[:, :, row, col], hidden[:, 1 + 3 * row + col])


def test_pieces_used_by_the_multiview_transformer_reproduce_forward(vits):
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        tokens = vits.embed(images)
        assert tokens.shape == (2, 1 + 4, 384)
        direct = vits.vision_encoder.embeddings(
            images, bool_masked_pos=None, interpolate_pos_encoding=True
        )
        torch.testing.assert_close(tokens, direct, rtol=0, atol=0)
        hidden = vits.vision_encoder.layernorm(vits.run_blocks(tokens))
        torch.testing.assert_close(tokens_to_feature_map(hidden[:, 1:]), vits(images))


def test_non_square_inputs_are_rejected(vits):
    with pytest.raises(ValueError, match="square"):
        vits(torch.rand(1, 3, 32, 48))
    with pytest.raises(ValueError, match="square grid"):
        tokens_to_feature_map(torch.rand(1, 6, 4))


def test_tokens_to_feature_map_layout():
    tokens = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    features = tokens_to_feature_map(tokens)
    assert features.shape == (2, 3, 2, 2)
    assert features[1, 2, 1, 0].item() == tokens[1, 2, 2].item() == 20.0


def _mae_checkpoint() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    return {
        "vit_mae.vit.embeddings.cls_token": torch.randn(1, 1, 8),
        "vit_mae.vit.encoder.layer.1.attention.attention.key.weight": torch.randn(8, 8),
        "vit_mae.vit.encoder.layer.0.intermediate.dense.bias": torch.randn(16),
        "vit_mae.vit.layernorm.bias": torch.randn(8),
        "vit_mae.vit.layernorm.weight": torch.randn(5),  # wrong shape: skipped
        "vit_mae.decoder.decoder_embed.weight": torch.randn(4, 8),  # not in the encoder
        "vit.layernorm.bias": torch.randn(8),  # no vit_mae. prefix: skipped
    }


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_load_vit_backbone_checkpoint(tmp_path, suffix):
    checkpoint = _mae_checkpoint()
    path = tmp_path / f"mae{suffix}"
    if suffix == ".safetensors":
        safetensors.torch.save_file(checkpoint, str(path))
    else:
        torch.save({"state_dict": checkpoint, "epoch": 3}, path)
    encoder = _tiny_encoder()
    before = encoder.state_dict()["vision_encoder.layernorm.weight"].clone()
    loaded = load_vit_backbone_checkpoint(encoder, path)
    assert loaded == [
        "embeddings.cls_token",
        "encoder.layer.0.intermediate.dense.bias",
        "encoder.layer.1.attention.attention.key.weight",
        "layernorm.bias",
    ]
    state = encoder.state_dict()
    assert torch.equal(
        state["vision_encoder.embeddings.cls_token"], checkpoint["vit_mae.vit.embeddings.cls_token"]
    )
    assert torch.equal(
        state["vision_encoder.encoder.layer.1.attention.attention.key.weight"],
        checkpoint["vit_mae.vit.encoder.layer.1.attention.attention.key.weight"],
    )
    assert torch.equal(state["vision_encoder.layernorm.weight"], before)


def test_checkpoint_without_fitting_tensors_is_an_error(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"vit.layernorm.bias": torch.randn(8)}, path)
    with pytest.raises(ValueError, match="other.pt"):
        load_vit_backbone_checkpoint(_tiny_encoder(), path)


def test_vitb_imagenet_takes_a_mae_checkpoint_other_vits_ignore_it(tmp_path, caplog):
    torch.manual_seed(2)
    cls_token = torch.randn(1, 1, 768)
    path = tmp_path / "mae.pt"
    torch.save({"state_dict": {"vit_mae.vit.embeddings.cls_token": cls_token}}, path)
    backbone, _ = build_backbone("vitb_imagenet", pretrained=False, backbone_checkpoint=str(path))
    assert torch.equal(backbone.state_dict()["vision_encoder.embeddings.cls_token"], cls_token)
    with caplog.at_level(logging.WARNING):
        build_backbone("vits_dino", pretrained=False, backbone_checkpoint=str(path))
    assert "ignores backbone_checkpoint" in caplog.text
