"""Coordinate-space conversions between model input, bounding box and frame (lightning_pose.data.bboxes)."""

import pytest
import torch

from lightning_pose.data.bboxes import frame_to_model, frame_to_model_batch, model_to_frame_batch, norm_to_frame


def test_default_bbox_is_a_pure_rescale():
    batch = {"images": torch.zeros(2, 3, 256, 128), "bbox": torch.tensor([[0.0, 0.0, 406.0, 396.0]] * 2)}
    kps = torch.tensor([[128.0, 64.0, 0.0, 256.0], [32.0, 16.0, 64.0, 128.0]])
    out = model_to_frame_batch(batch, kps)
    expected = torch.tensor([[396.0, 101.5, 0.0, 406.0], [99.0, 25.375, 198.0, 203.0]])
    assert torch.allclose(out, expected)
    # default is NOT in place
    assert kps[0, 0] == 128.0


def test_in_place_writes_into_the_input():
    batch = {"images": torch.zeros(1, 3, 100, 100), "bbox": torch.tensor([[10.0, 20.0, 50.0, 200.0]])}
    kps = torch.tensor([[50.0, 50.0]])
    out = model_to_frame_batch(batch, kps, in_place=True)
    # x: 50/100*200 + 10 = 110 ; y: 50/100*50 + 20 = 45
    assert out.tolist() == [[110.0, 45.0]]
    assert out is kps and kps.tolist() == [[110.0, 45.0]]


def test_multiview_uses_each_views_bbox():
    batch = {
        "images": torch.zeros(1, 2, 3, 100, 100),
        "num_views": torch.tensor([2]),
        "bbox": torch.tensor([[0.0, 0.0, 100.0, 100.0, 5.0, 7.0, 200.0, 300.0]]),
    }
    kps = torch.tensor([[10.0, 20.0, 10.0, 20.0]])
    out = model_to_frame_batch(batch, kps)
    assert out.tolist() == [[10.0, 20.0, 10.0 / 100 * 300 + 5, 20.0 / 100 * 200 + 7]]


def test_unlabeled_multiview_infers_views_from_bbox():
    batch = {
        "frames": torch.zeros(3, 2, 3, 10, 10),
        "is_multiview": True,
        "bbox": torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.0, 0.0, 20.0, 20.0]] * 3),
    }
    out = model_to_frame_batch(batch, torch.ones(3, 4))
    assert out[0].tolist() == [1.0, 1.0, 2.0, 2.0]


def test_context_predictions_use_inner_bbox_rows():
    bbox = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 2 + [[100.0, 0.0, 10.0, 10.0]] + [[0.0, 0.0, 10.0, 10.0]] * 2)
    batch = {"frames": torch.zeros(5, 3, 10, 10), "bbox": bbox, "is_multiview": False}
    out = model_to_frame_batch(batch, torch.tensor([[1.0, 2.0]]))
    assert out.tolist() == [[101.0, 2.0]]
    with pytest.raises(ValueError, match="bbox has 5 rows but keypoints have 2"):
        model_to_frame_batch(batch, torch.ones(2, 2))


def test_mixed_view_counts_are_rejected():
    batch = {"images": torch.zeros(2, 2, 3, 4, 4), "num_views": torch.tensor([2, 1]), "bbox": torch.ones(2, 8)}
    with pytest.raises(ValueError, match="same number of views"):
        model_to_frame_batch(batch, torch.ones(2, 4))


def test_frame_to_model_inverts_model_to_frame():
    batch = {
        "images": torch.zeros(2, 2, 3, 128, 256),
        "num_views": torch.tensor([2, 2]),
        "bbox": torch.tensor([[3.0, 4.0, 100.0, 50.0, 0.0, 0.0, 406.0, 396.0]] * 2),
    }
    model_kps = torch.rand(2, 2, 5, 2) * torch.tensor([256.0, 128.0])
    frame = model_to_frame_batch(batch, model_kps.reshape(2, -1)).reshape(2, 2, 5, 2)
    back = frame_to_model_batch(batch, frame)
    assert torch.allclose(back, model_kps, atol=1e-4)


def test_tensor_level_helpers():
    bbox = torch.tensor([[10.0, 20.0, 40.0, 80.0]])
    norm = torch.tensor([[[0.5, 0.25]]])
    frame = norm_to_frame(norm, bbox)
    assert frame.tolist() == [[[50.0, 30.0]]]
    assert frame_to_model(frame, bbox, model_width=160, model_height=80).tolist() == [[[80.0, 20.0]]]
