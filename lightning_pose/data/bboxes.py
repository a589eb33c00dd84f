"""Keypoint coordinate spaces and the conversions between them.

- frame: pixels of the original camera frame;
- norm: ``[0, 1]`` relative to a bounding box ``[x, y, h, w]`` (top-left corner, height, width);
- model: pixels of the resized model input (``images``/``frames`` height and width).

With the default bounding box ``[0, 0, H0, W0]`` model -> frame is a pure rescale from resized to
original pixels. When a batch carries fewer keypoint rows than bbox rows (context models predict
for frames ``2 .. L-3`` of an ``L``-frame window), bbox rows ``[2:-2]`` are used.
"""

from collections.abc import Mapping
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["norm_to_frame", "frame_to_model", "model_to_frame_batch", "frame_to_model_batch"]


def _align_bbox(bbox: Tensor, num_rows: int) -> Tensor:
    """Bbox rows matching ``num_rows`` keypoint rows (drop the 2+2 context rows if needed)."""
    if bbox.shape[0] == num_rows:
        return bbox
    if bbox.shape[0] - 4 == num_rows:
        return bbox[2:-2]
    raise ValueError(
        f"bbox has {bbox.shape[0]} rows but keypoints have {num_rows}; expected equal counts or "
        "4 more bbox rows (context frames)"
    )


def norm_to_frame(
    keypoints: Float[Tensor, "batch num_keypoints 2"],
    bbox: Float[Tensor, "bbox_rows 4"],
) -> Float[Tensor, "batch num_keypoints 2"]:
    """Box-relative ``[0, 1]`` coordinates -> frame pixels (returns a new tensor)."""
    box = _align_bbox(bbox, keypoints.shape[0]).to(keypoints.dtype)
    size = box[:, None, [3, 2]]  # (w, h)
    offset = box[:, None, [0, 1]]  # (x, y)
    return keypoints * size + offset


def frame_to_model(
    keypoints: Float[Tensor, "batch num_keypoints 2"],
    bbox: Float[Tensor, "bbox_rows 4"],
    model_width: int | float,
    model_height: int | float,
) -> Float[Tensor, "batch num_keypoints 2"]:
    """Frame pixels -> model-input pixels through the box: ``(p - xy) / wh * (W, H)``."""
    box = _align_bbox(bbox, keypoints.shape[0]).to(keypoints.dtype)
    model_size = torch.tensor([model_width, model_height], dtype=keypoints.dtype, device=keypoints.device)
    return (keypoints - box[:, None, [0, 1]]) / box[:, None, [3, 2]] * model_size


def _num_views(batch_dict: Mapping[str, Any]) -> int:
    """Views in a labeled (``num_views``) or unlabeled (``is_multiview``) batch; 1 if single."""
    if "num_views" in batch_dict:
        counts = torch.as_tensor(batch_dict["num_views"]).unique()
        if len(counts) != 1:
            raise ValueError(
                f"every batch element must have the same number of views; got {counts.tolist()}"
            )
        return int(counts[0])
    if batch_dict.get("is_multiview", False):
        return batch_dict["bbox"].shape[1] // 4
    return 1


def _model_size(batch_dict: Mapping[str, Any]) -> tuple[int, int]:
    """(height, width) of the model input from ``images`` (labeled) or ``frames`` (unlabeled)."""
    key = "images" if "images" in batch_dict else "frames"
    if key not in batch_dict:
        raise KeyError("batch dict has neither 'images' nor 'frames'")
    return batch_dict[key].shape[-2], batch_dict[key].shape[-1]


def model_to_frame_batch(
    batch_dict: Mapping[str, Any],
    predicted_keypoints: Float[Tensor, "batch num_targets"],
    in_place: bool = False,
) -> Float[Tensor, "batch num_targets"]:
    """Model-input pixels -> frame pixels using the batch's image size and ``bbox``.

    Multiview batches use bbox columns ``4v:4v+4`` for keypoint block ``v``. With
    ``in_place=True`` the result is also written into ``predicted_keypoints``.
    """
    height, width = _model_size(batch_dict)
    num_views = _num_views(batch_dict)
    rows, num_targets = predicted_keypoints.shape
    if num_targets % (2 * num_views) != 0:
        raise ValueError(f"{num_targets} targets cannot be split evenly over {num_views} views")
    kps = predicted_keypoints.reshape(rows, num_views, -1, 2)
    model_size = torch.tensor([width, height], dtype=kps.dtype, device=kps.device)
    norm = kps / model_size
    bbox = _align_bbox(batch_dict["bbox"], rows).to(kps.dtype).reshape(rows, num_views, 1, 4)
    frame = (norm * bbox[..., [3, 2]] + bbox[..., [0, 1]]).reshape(rows, num_targets)
    if in_place:
        predicted_keypoints.copy_(frame)
        return predicted_keypoints
    return frame


def frame_to_model_batch(
    batch_dict: Mapping[str, Any],
    frame_keypoints: Float[Tensor, "batch num_views num_keypoints 2"],
) -> Float[Tensor, "batch num_views num_keypoints 2"]:
    """Frame pixels -> model-input pixels, view ``v`` through bbox columns ``4v:4v+4``."""
    rows, num_views = frame_keypoints.shape[:2]
    height, width = _model_size(batch_dict)
    bbox = _align_bbox(batch_dict["bbox"], rows).to(frame_keypoints.dtype)
    bbox = bbox.reshape(rows, num_views, 1, 4)
    model_size = torch.tensor([width, height], dtype=frame_keypoints.dtype, device=frame_keypoints.device)
    return (frame_keypoints - bbox[..., [0, 1]]) / bbox[..., [3, 2]] * model_size
