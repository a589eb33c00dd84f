"""Convolutional backbones: truncation, output shapes, state-dict keys, numerics (random init)."""

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from lightning_pose.models.backbones import (
    ALLOWED_CONVNET_BACKBONES,
    BACKBONES,
    build_backbone,
)

BIG = {"resnet101", "resnet152"}


@pytest.mark.parametrize("name", ALLOWED_CONVNET_BACKBONES)
def test_output_shapes(name):
    # ceil(H/32) x ceil(W/32): 128x120 -> 4x4; the big ResNets use 64x60 -> 2x2 to stay fast
    height, width, side = (64, 60, 2) if name in BIG else (128, 120, 4)
    channels = BACKBONES.metadata(name)["out_channels"]
    images = torch.rand(1, 3, height, width)
    with torch.no_grad():
        heatmap_backbone, heatmap_channels = build_backbone(name, pretrained=False)
        assert heatmap_channels == channels
        assert heatmap_backbone(images).shape == (1, channels, side, side)
        regression_backbone, regression_channels = build_backbone(
            name, pretrained=False, model_type="regression"
        )
        assert regression_channels == channels
        assert regression_backbone(images).shape == (1, channels, 1, 1)
    assert isinstance(regression_backbone[-1], nn.AdaptiveAvgPool2d)
    assert len(regression_backbone) == len(heatmap_backbone) + 1


def test_resnet_keys_are_the_sequential_child_indices():
    backbone, _ = build_backbone("resnet18", pretrained=False)
    keys = set(backbone.state_dict())
    assert {"0.weight", "1.weight", "1.running_mean", "4.0.conv1.weight", "7.1.bn2.weight"} <= keys
    assert not any("fc" in key for key in keys)
    assert max(int(key.split(".")[0]) for key in keys) == 7  # children 0..7: conv1 .. layer4
    assert len(backbone) == 8
    regression, _ = build_backbone("resnet18", pretrained=False, model_type="regression")
    assert set(regression.state_dict()) == keys  # the pooling layer has no parameters


def test_efficientnet_keeps_only_features_for_heatmaps():
    backbone, _ = build_backbone("efficientnet_b0", pretrained=False)
    assert len(backbone) == 1
    keys = list(backbone.state_dict())
    assert all(key.startswith("0.") for key in keys)
    assert "0.0.0.weight" in keys and not any("classifier" in key for key in keys)


def test_mmpose_variant_has_the_resnet50_layout():
    animal, channels = build_backbone("resnet50_animal_ap10k", pretrained=False)
    plain, _ = build_backbone("resnet50", pretrained=False)
    assert channels == 2048
    shapes = {key: value.shape for key, value in animal.state_dict().items()}
    assert shapes == {key: value.shape for key, value in plain.state_dict().items()}


def test_resnet18_matches_torchvision_and_consumes_the_same_random_numbers():
    torch.manual_seed(7)
    backbone, _ = build_backbone("resnet18", pretrained=False)
    after_backbone = torch.rand(3)
    torch.manual_seed(7)
    reference = tvm.resnet18(weights=None)
    after_reference = torch.rand(3)
    assert torch.equal(after_backbone, after_reference)  # later initialisations (heads) agree
    assert torch.equal(backbone.state_dict()["0.weight"], reference.conv1.weight)
    assert torch.equal(backbone.state_dict()["4.1.conv2.weight"], reference.layer1[1].conv2.weight)

    images = torch.rand(2, 3, 64, 96)
    backbone.eval()
    reference.eval()
    with torch.no_grad():
        x = reference.maxpool(reference.relu(reference.bn1(reference.conv1(images))))
        expected = reference.layer4(reference.layer3(reference.layer2(reference.layer1(x))))
        torch.testing.assert_close(backbone(images), expected, rtol=0, atol=0)
        pooled, _ = build_backbone("resnet18", pretrained=False, model_type="regression")
        pooled.load_state_dict(backbone.state_dict())
        pooled.eval()
        torch.testing.assert_close(pooled(images), expected.mean(dim=(2, 3), keepdim=True))


def test_lightning_pose_style_state_dict_loads_strictly():
    # Lightning Pose stores Sequential(*children[:-2]) of the torchvision model as the backbone
    torch.manual_seed(3)
    reference = tvm.efficientnet_b0(weights=None).eval()
    lp_backbone = nn.Sequential(*list(reference.children())[:-2])
    backbone, _ = build_backbone("efficientnet_b0", pretrained=False)
    backbone.load_state_dict(lp_backbone.state_dict(), strict=True)
    backbone.eval()
    images = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(images), reference.features(images), rtol=0, atol=0)
