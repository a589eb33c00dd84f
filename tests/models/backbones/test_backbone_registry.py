"""Registry, lists, strides and argument checking of ``build_backbone``."""

import pkgutil
import sys

import pytest
from torch import nn

import lightning_pose.models.backbones as backbones
from lightning_pose.models.backbones import (
    ALLOWED_BACKBONES,
    ALLOWED_CONVNET_BACKBONES,
    ALLOWED_TRANSFORMER_BACKBONES,
    ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW,
    BACKBONE_STRIDES,
    BACKBONES,
    build_backbone,
    get_backbone_stride,
)

CONVNETS = {
    "resnet18": 512,
    "resnet34": 512,
    "resnet50": 2048,
    "resnet101": 2048,
    "resnet152": 2048,
    "resnet50_animal_apose": 2048,
    "resnet50_animal_ap10k": 2048,
    "resnet50_human_jhmdb": 2048,
    "resnet50_human_res_rle": 2048,
    "resnet50_human_top_res": 2048,
    "resnet50_human_hand": 2048,
    "efficientnet_b0": 1280,
    "efficientnet_b1": 1280,
    "efficientnet_b2": 1408,
}
TRANSFORMERS = {"vits_dino": 384, "vitb_dino": 768, "vitb_imagenet": 768}


def test_lists_hold_the_expected_names():
    assert sorted(ALLOWED_CONVNET_BACKBONES) == sorted(CONVNETS)
    assert sorted(ALLOWED_TRANSFORMER_BACKBONES) == sorted(TRANSFORMERS)
    assert sorted(ALLOWED_TRANSFORMER_BACKBONES_MULTIVIEW) == sorted(TRANSFORMERS)
    assert sorted(ALLOWED_BACKBONES) == sorted([*CONVNETS, *TRANSFORMERS])
    assert "resnet50_animal_ap10k" in ALLOWED_BACKBONES  # Lightning Pose's default backbone


def test_metadata_and_strides():
    for name, channels in {**CONVNETS, **TRANSFORMERS}.items():
        meta = BACKBONES.metadata(name)
        is_vit = name in TRANSFORMERS
        assert meta["out_channels"] == channels
        assert meta["stride"] == (16 if is_vit else 32)
        assert meta["family"] == ("transformer" if is_vit else "convnet")
        assert meta["multiview_transformer"] is is_vit
        assert BACKBONE_STRIDES[name] == meta["stride"] == get_backbone_stride(name)
    assert set(BACKBONE_STRIDES) == set(ALLOWED_BACKBONES)


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(ValueError, match="resnet_18") as info:
        build_backbone("resnet_18", pretrained=False)
    assert "resnet18" in str(info.value) and "vits_dino" in str(info.value)
    with pytest.raises(ValueError, match="allowed") as info:
        get_backbone_stride("vitb_sam")
    assert "efficientnet_b0" in str(info.value)


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="resnet18"):
        BACKBONES.add("resnet18", BACKBONES.get("resnet18"), stride=32)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match="model_type"):
        build_backbone("resnet18", pretrained=False, model_type="heatmap_mhcrnn")
    with pytest.raises(ValueError, match="vits_dino"):
        build_backbone("vits_dino", pretrained=False, model_type="regression")
    with pytest.raises(TypeError, match="do_context"):
        build_backbone("resnet18", pretrained=False, do_context=True)


def test_every_module_of_the_package_is_imported():
    for module in pkgutil.iter_modules(backbones.__path__):
        assert f"{backbones.__name__}.{module.name}" in sys.modules


def test_build_returns_module_and_channel_count():
    module, channels = build_backbone("resnet18", pretrained=False, backbone_checkpoint=None)
    assert isinstance(module, nn.Sequential)
    assert channels == 512 and type(channels) is int
