import torch

from lightning_pose.models.heads import LinearRegressionHead


def test_linear_regression_head_shape_and_values():
    head = LinearRegressionHead(in_channels=512, num_targets=34)
    features = torch.randn(4, 512, 1, 1)
    out = head(features)
    assert out.shape == (4, 34)
    expected = features.reshape(4, 512) @ head.linear_layer.weight.T + head.linear_layer.bias
    torch.testing.assert_close(out, expected)
    assert set(head.state_dict()) == {"linear_layer.weight", "linear_layer.bias"}
