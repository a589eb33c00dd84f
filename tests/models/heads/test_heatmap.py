"""HeatmapHead structure and the soft-argmax read-out, with hand-computed expectations."""

import math

import pytest
import torch
from torch import nn

from lightning_pose.models.heads import HeatmapHead, make_upsampling_layers, run_subpixelmaxima, upsample
from lightning_pose.models.heads.heatmap import num_upsampling_layers


def _deconvs(head: HeatmapHead) -> list[nn.ConvTranspose2d]:
    return [m for m in head.upsampling_layers if isinstance(m, nn.ConvTranspose2d)]


@pytest.mark.parametrize(
    "backbone, ds, expected_channels",
    [
        ("resnet18", 1, [(128, 17), (17, 17), (17, 17)]),
        ("resnet18", 2, [(128, 17), (17, 17)]),
        ("resnet18", 3, [(128, 17)]),
        ("vits_dino", 1, [(96, 17), (17, 17)]),
        ("vits_dino", 2, [(96, 17)]),
    ],
)
def test_layer_structure_per_downsample_factor(backbone, ds, expected_channels):
    in_channels = 512 if backbone == "resnet18" else 384
    head = HeatmapHead(backbone, in_channels=in_channels, out_channels=17, downsample_factor=ds)
    assert isinstance(head.upsampling_layers[0], nn.PixelShuffle)
    assert len(head.upsampling_layers) == len(expected_channels) + 1
    deconvs = _deconvs(head)
    assert [(d.in_channels, d.out_channels) for d in deconvs] == expected_channels
    for d in deconvs:
        assert d.kernel_size == (3, 3) and d.stride == (2, 2)
        assert d.padding == (1, 1) and d.output_padding == (1, 1)
        assert torch.all(d.bias == 0)
        # xavier_uniform with gain 0.01: |w| <= 0.01 * sqrt(6 / (fan_in + fan_out))
        fan_in, fan_out = d.weight.shape[1] * 9, d.weight.shape[0] * 9
        assert d.weight.abs().max() <= 0.01 * math.sqrt(6 / (fan_in + fan_out)) + 1e-9


def test_intermediate_channels():
    layers = make_upsampling_layers(in_channels=64, out_channels=5, int_channels=32, n_layers=3)
    assert [(m.in_channels, m.out_channels) for m in layers[1:]] == [(16, 32), (32, 32), (32, 5)]


def test_stride16_with_downsample_factor_3_is_rejected():
    with pytest.raises(ValueError, match="vits_dino.*stride 16.*downsample_factor=3"):
        HeatmapHead("vits_dino", in_channels=384, out_channels=4, downsample_factor=3)
    with pytest.raises(ValueError, match="downsample_factor must be 1, 2 or 3"):
        num_upsampling_layers("resnet18", 4)


@pytest.mark.parametrize("ds", [1, 2, 3])
def test_forward_shape_and_softmax(ds):
    head = HeatmapHead("resnet18", in_channels=512, out_channels=3, downsample_factor=ds)
    features = torch.randn(2, 512, 4, 4)  # a 128x128 image at stride 32
    heatmaps = head(features)
    assert heatmaps.shape == (2, 3, 128 // 2**ds, 128 // 2**ds)
    torch.testing.assert_close(heatmaps.sum(dim=(-2, -1)), torch.ones(2, 3), atol=1e-5, rtol=0)
    raw = HeatmapHead("resnet18", 512, 3, downsample_factor=ds, final_softmax=False)(features)
    assert not torch.allclose(raw.sum(dim=(-2, -1)), torch.ones(2, 3))


def test_upsample_doubles_and_keeps_peak():
    heatmaps = torch.zeros(1, 1, 8, 8)
    heatmaps[0, 0, 2, 2] = 1.0
    up = upsample(heatmaps)
    assert up.shape == (1, 1, 16, 16)
    row, col = divmod(int(up.argmax()), 16)
    assert abs(row - 4.5) <= 1 and abs(col - 4.5) <= 1


def test_soft_argmax_hand_computed_2x2():
    # temperature 1 and no upsampling (ds=0): probabilities are softmax([0, ln2, ln2, ln4]) = [1, 2, 2, 4] / 9
    heatmaps = torch.log(torch.tensor([[[[1.0, 2.0], [2.0, 4.0]]]]))
    keypoints, confidences = run_subpixelmaxima(heatmaps, downsample_factor=0, temperature=1.0)
    # x = (2 + 4) / 9 (column 1 mass), y = (2 + 4) / 9 (row 1 mass)
    torch.testing.assert_close(keypoints, torch.tensor([[2 / 3, 2 / 3]]))
    torch.testing.assert_close(confidences, torch.tensor([[1.0]]))  # the 5x5 window covers everything


def test_confidence_is_window_mass():
    # uniform 1x8 map: x = 3.5, truncated to column 3, window columns 1..5 hold 5/8 of the mass
    heatmaps = torch.zeros(1, 1, 1, 8)
    keypoints, confidences = run_subpixelmaxima(heatmaps, downsample_factor=0, temperature=1.0)
    torch.testing.assert_close(keypoints, torch.tensor([[3.5, 0.0]]))
    torch.testing.assert_close(confidences, torch.tensor([[5 / 8]]))


@pytest.mark.parametrize("ds", [1, 2, 3])
@pytest.mark.parametrize("peak", [(2, 2), (4, 4), (2, 5)])
def test_interior_peak_maps_to_model_pixels(ds, peak):
    heatmaps = torch.zeros(1, 1, 8, 8)
    heatmaps[0, 0, peak[0], peak[1]] = 1.0
    keypoints, confidences = run_subpixelmaxima(heatmaps, ds, torch.tensor(1000.0))
    expected = torch.tensor([[peak[1] * 2**ds, peak[0] * 2**ds]], dtype=torch.float32)
    torch.testing.assert_close(keypoints, expected, atol=1e-3, rtol=0)
    torch.testing.assert_close(confidences, torch.ones(1, 1), atol=1e-4, rtol=0)


def test_lower_temperature_lowers_confidence():
    heatmaps = torch.zeros(1, 1, 8, 8)
    heatmaps[0, 0, 4, 4] = 1.0
    _, conf_1000 = run_subpixelmaxima(heatmaps, 2, 1000.0)
    keypoints_100, conf_100 = run_subpixelmaxima(heatmaps, 2, 100.0)
    _, conf_10 = run_subpixelmaxima(heatmaps, 2, 10.0)
    torch.testing.assert_close(keypoints_100, torch.tensor([[16.0, 16.0]]), atol=1e-2, rtol=0)
    assert conf_1000.item() > conf_100.item() > conf_10.item()
    assert conf_100.item() < 1.0 and conf_10.item() < 0.5


def test_several_keypoints_are_independent():
    heatmaps = torch.zeros(2, 3, 8, 8)
    for b in range(2):
        for k in range(3):
            heatmaps[b, k, 1 + k + b, 2 + k] = 1.0
    keypoints, confidences = run_subpixelmaxima(heatmaps, 2, 1000.0)
    expected = torch.tensor([[8.0, 4.0, 12.0, 8.0, 16.0, 12.0], [8.0, 8.0, 12.0, 12.0, 16.0, 16.0]])
    # a peak one pixel from the border is pulled slightly by the zero-padded blur
    torch.testing.assert_close(keypoints, expected, atol=0.05, rtol=0)
    assert confidences.shape == (2, 3)
