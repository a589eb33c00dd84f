"""Multi-head CRNN: shapes, layer layout (checkpoint key names) and recurrence direction."""

import pytest
import torch
from torch import nn

from lightning_pose.models.heads import HeatmapMHCRNNHead, UpsamplingCRNN, spatial_softmax


@pytest.mark.parametrize("factor, n_layers, scale", [(2, 5, 8), (1, 4, 4)])
def test_crnn_layers_and_output_size(factor, n_layers, scale):
    crnn = UpsamplingCRNN(num_filters_for_upsampling=64, num_keypoints=3, upsampling_factor=factor)
    assert len(crnn.layers) == n_layers
    out = crnn(torch.randn(5, 2, 64, 4, 4))
    assert out.shape == (2, 3, 4 * scale, 4 * scale)
    torch.testing.assert_close(out.sum(dim=(-2, -1)), torch.ones(2, 3), atol=1e-5, rtol=0)


def test_state_dict_keys_match_lightning_pose_layout():
    head = HeatmapMHCRNNHead("resnet18", in_channels=64, out_channels=3)
    keys = set(head.state_dict())
    for key in [
        "head_sf.upsampling_layers.1.weight",
        "head_mf.W_pre.weight",
        "head_mf.W_f.bias",
        "head_mf.H_f.0.weight",
        "head_mf.H_f.1.weight",
        "head_mf.W_b.weight",
        "head_mf.H_b.1.bias",
        "head_mf.layers.0.weight",  # W_pre
        "head_mf.layers.2.0.weight",  # H_f
        "head_mf.layers.4.1.weight",  # H_b
    ]:
        assert key in keys, key
    assert head.head_mf.H_f[0].groups == 3 and head.head_mf.H_f[0].out_channels == 48


def test_recurrence_directions():
    """With the recurrent maps zeroed, forward state = W_f(last frame), backward = W_b(first frame)."""
    torch.manual_seed(0)
    crnn = UpsamplingCRNN(num_filters_for_upsampling=16, num_keypoints=2, upsampling_factor=1)
    for module in list(crnn.H_f) + list(crnn.H_b):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)
    features = torch.randn(5, 1, 16, 3, 3)
    shuffled = nn.functional.pixel_shuffle(features, 2)
    expected = spatial_softmax((crnn.W_f(shuffled[4]) + crnn.W_b(shuffled[0])) / 2)
    torch.testing.assert_close(crnn(features), expected)


def test_head_shapes_labeled_unlabeled_multiview():
    head = HeatmapMHCRNNHead("resnet18", in_channels=64, out_channels=3)
    # labeled single view: features (B, C, h', w', 5) from images (B, 5, 3, 128, 128)
    sf, mf = head(torch.randn(2, 64, 4, 4, 5), (2, 5, 3, 128, 128), False)
    assert sf.shape == mf.shape == (2, 3, 32, 32)
    # unlabeled single view: L=6 frames -> 2 windows
    sf, mf = head(torch.randn(2, 64, 4, 4, 5), (6, 3, 128, 128), False)
    assert sf.shape == (2, 3, 32, 32)
    # labeled multiview: images (B=2, V=2, 5, 3, H, W) -> features of B*V samples
    sf, mf = head(torch.randn(4, 64, 4, 4, 5), (2, 2, 5, 3, 128, 128), True)
    assert sf.shape == mf.shape == (2, 6, 32, 32)
    # unlabeled multiview: L=6 frames x 2 views, views stacked in channels -> 2 frames of 2*K maps
    sf, mf = head(torch.randn(2, 128, 4, 4, 5), (6, 2, 3, 128, 128), True)
    assert sf.shape == mf.shape == (2, 6, 32, 32)
