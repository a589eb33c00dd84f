"""The warps of the dlc presets, imgaug's ``Affine`` and ``ElasticTransformation``, with OpenCV.

As imgaug does, each warps the uint8 pixels once with OpenCV (``warpAffine``, ``remap``; bilinear,
black outside the image), C channels at a time. torchvision's float ``grid_sample`` took 7 ms
(affine) and 10 ms (elastic) per full-size mirror-mouse frame on one CPU core; these take a few
tenths of that, and together with the rest of the ``dlc`` preset they run for every labeled
frame of every epoch (``benchmarks/bench_augmentation.py``).

Keypoints use continuous pixel coordinates (pixel ``i`` covers ``[i, i+1)``); OpenCV's integer
coordinates are pixel centres, so a keypoint ``x`` is OpenCV's ``x - 0.5``.
"""

import math
from typing import Any

import cv2
import numpy as np
import torch
from jaxtyping import Float
from torchvision import tv_tensors

from lightning_pose.data.augmentation_ops import (
    AUGMENTATION_OPS,
    GeometricOp,
    Param,
    image_size,
    per_frame_opencv,
    sample_param,
)

__all__ = ["Affine", "ElasticTransformation", "rotation_scale_shear_matrix"]


def rotation_scale_shear_matrix(
    rotate: float, scale: float, shear: float, height: int, width: int
) -> Float[np.ndarray, "2 3"]:
    """The forward 2x3 map of OpenCV pixel coordinates: x-shear by ``shear`` degrees, isotropic
    ``scale``, then a rotation by ``rotate`` degrees (clockwise on screen, as imgaug), all about
    the image centre."""
    theta, tan_shear = math.radians(rotate), math.tan(math.radians(shear))
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    linear = rotation @ (scale * np.array([[1.0, tan_shear], [0.0, 1.0]]))
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    return np.hstack([linear, (centre - linear @ centre)[:, None]])


def _keypoints_through(kps: tv_tensors.KeyPoints, matrix: Float[np.ndarray, "2 3"]) -> tv_tensors.KeyPoints:
    plain = kps.as_subclass(torch.Tensor)
    m = torch.from_numpy(matrix).to(torch.float64)
    moved = (plain.to(torch.float64) - 0.5) @ m[:, :2].T + m[:, 2] + 0.5
    return tv_tensors.wrap(moved.to(plain.dtype), like=kps)


@AUGMENTATION_OPS.register("Affine")
class Affine(GeometricOp):
    """Random rotation (degrees), isotropic scale and x-shear (degrees) about the image centre,
    bilinear, black outside (imgaug's ``Affine`` with its defaults ``order=1``, ``cval=0``)."""

    def __init__(self, rotate: Param = 0.0, scale: Param = 1.0, shear: Param = 0.0) -> None:
        super().__init__()
        self.rotate, self.scale, self.shear = rotate, scale, shear

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = image_size(flat_inputs)
        angles = sample_param(self.rotate), sample_param(self.scale), sample_param(self.shear)
        matrix = rotation_scale_shear_matrix(*angles, height, width)
        return {"matrix": matrix, "size": (height, width)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.KeyPoints):
            return _keypoints_through(inpt, params["matrix"])
        height, width = params["size"]

        def warp(frame: np.ndarray) -> np.ndarray:
            return cv2.warpAffine(frame, params["matrix"], (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)

        return tv_tensors.wrap(per_frame_opencv(inpt.as_subclass(torch.Tensor), warp), like=inpt)


def _shifted_keypoints(
    kps: tv_tensors.KeyPoints, displacement: Float[np.ndarray, "height width 2"]
) -> tv_tensors.KeyPoints:
    """Where the content under each keypoint goes: the output pixel ``q`` shows the input at ``q +
    d(q)``, so a keypoint ``p`` moves to about ``p - d(p)`` (the field is smooth); NaN stays NaN."""
    plain = kps.as_subclass(torch.Tensor)
    height, width = displacement.shape[:2]
    x = plain[..., 0].nan_to_num(0.0).floor().long().clamp(0, width - 1)
    y = plain[..., 1].nan_to_num(0.0).floor().long().clamp(0, height - 1)
    shift = torch.from_numpy(displacement)[y, x].to(plain.dtype)
    return tv_tensors.wrap(plain - shift, like=kps)


@AUGMENTATION_OPS.register("ElasticTransformation")
class ElasticTransformation(GeometricOp):
    """Elastic warp: uniform noise in [-1, 1] smoothed by a Gaussian of ``sigma`` pixels, times
    ``alpha`` pixels of displacement; bilinear, black outside."""

    def __init__(self, alpha: Param = (0.0, 40.0), sigma: Param = (4.0, 8.0)) -> None:
        super().__init__()
        self.alpha, self.sigma = alpha, sigma

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = image_size(flat_inputs)
        alpha, sigma = sample_param(self.alpha), max(sample_param(self.sigma), 1e-3)
        noise = torch.empty(height, width, 2).uniform_(-1.0, 1.0).numpy()
        size = int(8 * sigma + 1) | 1  # odd kernel covering +-4 sigma
        return {"displacement": cv2.GaussianBlur(noise, (size, size), sigma) * np.float32(alpha)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        displacement = params["displacement"]
        if isinstance(inpt, tv_tensors.KeyPoints):
            return _shifted_keypoints(inpt, displacement)
        height, width = displacement.shape[:2]
        map_x = np.arange(width, dtype=np.float32)[None, :] + displacement[..., 0]
        map_y = np.arange(height, dtype=np.float32)[:, None] + displacement[..., 1]

        def warp(frame: np.ndarray) -> np.ndarray:
            return cv2.remap(frame, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)

        return tv_tensors.wrap(per_frame_opencv(inpt.as_subclass(torch.Tensor), warp), like=inpt)
