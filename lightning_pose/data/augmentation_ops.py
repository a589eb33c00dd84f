"""Augmentation ops with imgaug's names and parameter conventions, on torchvision v2.

Each op is a ``torchvision.transforms.v2.Transform`` (or a factory returning one) that works on a
``tv_tensors.Image`` of uint8 pixels with any leading dims (``(3, H, W)`` or a stack of context
frames ``(T, 3, H, W)``: random parameters are drawn once per call, so every frame of a stack gets
the same augmentation) and, for geometric ops, moves a ``tv_tensors.KeyPoints`` with the image.
Keypoints use continuous pixel coordinates (pixel ``i`` covers ``[i, i+1)``), as imgaug does.

Parameter conventions follow imgaug's: a number is fixed, a tuple ``(a, b)`` is a uniform range
(integers: inclusive discrete range), a list is a set to choose from. All randomness comes from
torch's global generator.
"""

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from jaxtyping import UInt8
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from lightning_pose.registry import Registry

__all__ = [
    "AUGMENTATION_OPS",
    "GeometricOp",
    "Param",
    "image_size",
    "per_frame_opencv",
    "sample_param",
    "resize_image_cubic",
    "Resize",
    "Rot90",
    "CropAndPad",
    "MotionBlur",
    "CoarseDropout",
    "CoarseSalt",
    "CoarsePepper",
    "AllChannelsCLAHE",
    "Emboss",
]

AUGMENTATION_OPS: Registry[Callable[..., Any]] = Registry("augmentation op")

Param = float | int | tuple | list


def _uniform(low: float | int, high: float | int) -> float:
    return float(torch.empty(()).uniform_(float(low), float(high)))


def sample_param(value: Param, integer: bool = False) -> float | int:
    """Draw one value following imgaug's number / (low, high) / [choices] convention."""
    if isinstance(value, list):
        return value[int(torch.randint(len(value), ()))]
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"a range must be (low, high); got {value!r}")
        if integer:
            return int(torch.randint(int(value[0]), int(value[1]) + 1, ()))
        return _uniform(*value)
    return int(value) if integer else float(value)


def image_size(flat_inputs: list[Any]) -> tuple[int, int]:
    for item in flat_inputs:
        if isinstance(item, tv_tensors.Image):
            return int(item.shape[-2]), int(item.shape[-1])
    raise TypeError("augmentation ops need a tv_tensors.Image among their inputs")


def per_frame_opencv(
    image: UInt8[torch.Tensor, "*batch channels height width"], op: Callable[[np.ndarray], np.ndarray]
) -> UInt8[torch.Tensor, "*batch channels out_height out_width"]:
    """``op`` (an OpenCV call on one ``(H, W, C)`` uint8 frame) on every frame of ``(..., C, H, W)``,
    C channels at a time as imgaug does (one channel at a time beyond OpenCV's 4 for warps)."""
    *lead, channels, height, width = image.shape
    frames = image.reshape(-1, channels, height, width).permute(0, 2, 3, 1).contiguous().numpy()
    if channels <= 4:
        out = [op(frame) for frame in frames]
    else:
        out = [np.stack([op(np.ascontiguousarray(frame[..., c])) for c in range(channels)], -1) for frame in frames]
    stacked = np.stack([o if o.ndim == 3 else o[..., None] for o in out])
    return torch.from_numpy(stacked).permute(0, 3, 1, 2).reshape(*lead, channels, *stacked.shape[1:3])


def resize_image_cubic(
    image: UInt8[torch.Tensor, "*batch channels in_height in_width"], height: int, width: int
) -> UInt8[torch.Tensor, "*batch channels out_height out_width"]:
    """Bicubic resize of uint8 ``(..., C, H, W)`` with OpenCV, C channels at a time (as imgaug)."""
    if tuple(image.shape[-2:]) == (height, width):
        return image.clone()
    return per_frame_opencv(image, lambda frame: cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC))


def _scale_keypoints(kps: tv_tensors.KeyPoints, height: int, width: int) -> tv_tensors.KeyPoints:
    """``(x / W0) * W``, ``(y / H0) * H`` in the keypoints' dtype (imgaug's projection)."""
    h0, w0 = kps.canvas_size
    plain = kps.as_subclass(torch.Tensor)
    old = torch.tensor([w0, h0], dtype=plain.dtype)
    new = torch.tensor([width, height], dtype=plain.dtype)
    return tv_tensors.wrap(plain / old * new, like=kps, canvas_size=(height, width))


def _resize_any(inpt: Any, height: int, width: int) -> Any:
    if isinstance(inpt, tv_tensors.KeyPoints):
        return _scale_keypoints(inpt, height, width)
    return tv_tensors.wrap(resize_image_cubic(inpt.as_subclass(torch.Tensor), height, width), like=inpt)


class GeometricOp(v2.Transform):
    _transformed_types = (tv_tensors.Image, tv_tensors.KeyPoints)


class _PixelOp(v2.Transform, abc.ABC):
    """Changes pixel values only; keypoints pass through untouched."""

    _transformed_types = (tv_tensors.Image,)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        out = self.apply_pixels(inpt.as_subclass(torch.Tensor), params)
        return tv_tensors.wrap(out, like=inpt)

    @abc.abstractmethod
    def apply_pixels(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """New uint8 pixels for ``image`` given this call's random ``params``."""


@AUGMENTATION_OPS.register("Resize")
class Resize(GeometricOp):
    """Resize to a fixed ``{"height": h, "width": w}`` (or ``(h, w)``), bicubic like imgaug."""

    def __init__(self, size: Mapping[str, int] | Sequence[int]) -> None:
        super().__init__()
        if isinstance(size, Mapping):
            self.height, self.width = int(size["height"]), int(size["width"])
        else:
            self.height, self.width = (int(s) for s in size)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return _resize_any(inpt, self.height, self.width)


def _rot90_keypoints(kps: torch.Tensor, k: int, height: int, width: int) -> torch.Tensor:
    """Continuous coordinates after ``torch.rot90(image, k, dims=(-2, -1))``."""
    x, y = kps[..., 0], kps[..., 1]
    if k == 1:
        return torch.stack([y, width - x], dim=-1)
    if k == 2:
        return torch.stack([width - x, height - y], dim=-1)
    if k == 3:
        return torch.stack([height - y, x], dim=-1)
    return kps.clone()


@AUGMENTATION_OPS.register("Rot90")
class Rot90(GeometricOp):
    """Rotate by ``k`` quarter turns; ``keep_size`` resizes odd turns back to the input size."""

    def __init__(self, k: Param = 1, keep_size: bool = True) -> None:
        super().__init__()
        self.k, self.keep_size = k, keep_size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"k": int(sample_param(self.k, integer=True)) % 4, "size": image_size(flat_inputs)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        k, (height, width) = params["k"], params["size"]
        if isinstance(inpt, tv_tensors.KeyPoints):
            rotated = _rot90_keypoints(inpt.as_subclass(torch.Tensor), k, height, width)
            size = (width, height) if k % 2 else (height, width)
            out = tv_tensors.wrap(rotated, like=inpt, canvas_size=size)
        else:
            out = tv_tensors.wrap(torch.rot90(inpt.as_subclass(torch.Tensor), k, dims=(-2, -1)), like=inpt)
        if self.keep_size and k % 2 and height != width:
            out = _resize_any(out, height, width)
        return out


@AUGMENTATION_OPS.register("CropAndPad")
class CropAndPad(GeometricOp):
    """Crop (negative) or zero-pad (positive) each side by a fraction of the image size."""

    def __init__(self, percent: Param = (-0.1, 0.1), keep_size: bool = True) -> None:
        super().__init__()
        self.percent, self.keep_size = percent, keep_size

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = image_size(flat_inputs)
        # top, right, bottom, left, each sampled independently
        sides = [sample_param(self.percent) for _ in range(4)]
        top, bottom = (round(p * height) for p in (sides[0], sides[2]))
        right, left = (round(p * width) for p in (sides[1], sides[3]))
        new_h, new_w = height + top + bottom, width + left + right
        if new_h < 1 or new_w < 1:
            top, bottom, left, right = 0, 0, 0, 0
            new_h, new_w = height, width
        return {"box": (-top, -left, new_h, new_w), "size": (height, width)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        top, left, new_h, new_w = params["box"]
        out = TF.crop(inpt, top=top, left=left, height=new_h, width=new_w)  # out of bounds -> 0
        if self.keep_size:
            out = _resize_any(out, *params["size"])
        return out


def _conv_same(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate every channel of uint8 ``(..., C, H, W)`` with ``kernel`` (OpenCV ``filter2D``:
    reflect-101 borders, saturating rounding to uint8), C channels at a time as imgaug does."""
    k = kernel.numpy().astype(np.float32)
    return per_frame_opencv(image, lambda frame: cv2.filter2D(frame, -1, k))


def _motion_kernel(k: int, angle: float, direction: float) -> torch.Tensor:
    """A line of ``k`` taps through the centre, weighted by ``direction``, rotated by ``angle``."""
    d = (min(max(direction, -1.0), 1.0) + 1.0) / 2.0
    weights = torch.linspace(d, 1.0 - d, k, dtype=torch.float64)
    offsets = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    theta = math.radians(angle)
    gx = -math.sin(theta) * offsets + (k - 1) / 2
    gy = math.cos(theta) * offsets + (k - 1) / 2
    x0, y0 = gx.floor(), gy.floor()
    kernel = torch.zeros(k, k, dtype=torch.float64)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # bilinear splat onto the 4 neighbours
        wx = (gx - x0) if dx else (1 - (gx - x0))
        wy = (gy - y0) if dy else (1 - (gy - y0))
        xi, yi = (x0 + dx).long(), (y0 + dy).long()
        inside = (xi >= 0) & (xi < k) & (yi >= 0) & (yi < k)
        kernel.index_put_((yi[inside], xi[inside]), (weights * wx * wy)[inside], accumulate=True)
    if kernel.sum() <= 0:
        kernel[k // 2, k // 2] = 1.0
    return kernel / kernel.sum()


@AUGMENTATION_OPS.register("MotionBlur")
class MotionBlur(_PixelOp):
    """Blur along a line of ``k`` pixels at ``angle`` degrees (imgaug's MotionBlur)."""

    def __init__(self, k: Param = (3, 7), angle: Param = (0.0, 360.0), direction: Param = (-1.0, 1.0)) -> None:
        super().__init__()
        self.k, self.angle, self.direction = k, angle, direction

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        k = max(int(sample_param(self.k, integer=True)), 1)
        return {"kernel": _motion_kernel(k, sample_param(self.angle), sample_param(self.direction))}

    def apply_pixels(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return _conv_same(image, params["kernel"])


class _CoarseReplace(_PixelOp):
    """Replace the pixels of randomly chosen cells of a coarse grid (imgaug's Coarse* family)."""

    def __init__(self, p: Param, size_percent: Param, per_channel: float | bool = False) -> None:
        super().__init__()
        self.p, self.size_percent, self.per_channel = p, size_percent, float(per_channel)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = image_size(flat_inputs)
        fraction = sample_param(self.size_percent)
        small = (max(int(height * fraction), 3), max(int(width * fraction), 3))
        channels = 3 if float(torch.rand(())) < self.per_channel else 1
        cells = torch.rand(1, channels, *small) < sample_param(self.p)
        mask = F.interpolate(cells.float(), size=(height, width), mode="nearest")[0] > 0.5
        chosen = mask.any(0)  # (H, W): the pixels some channel replaces; only they need values
        return {"mask": mask, "chosen": chosen, "values": self.replacement((int(chosen.sum()),))}

    @abc.abstractmethod
    def replacement(self, shape: tuple[int, ...]) -> torch.Tensor:
        """uint8 values written into the chosen cells (one per pixel, shared by channels and frames)."""

    def apply_pixels(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        values = torch.zeros(image.shape[-2:], dtype=torch.uint8)
        values[params["chosen"]] = params["values"]
        chosen = params["mask"].to(torch.uint8)  # 0/1: uint8 arithmetic is several times faster than a broadcast where
        return image * (1 - chosen) + values * chosen


@AUGMENTATION_OPS.register("CoarseDropout")
class CoarseDropout(_CoarseReplace):
    """Set coarse cells to 0 (``per_channel``: probability of an independent mask per channel)."""

    def __init__(self, p: Param = 0.05, size_percent: Param = 0.1, per_channel: float | bool = False) -> None:
        super().__init__(p, size_percent, per_channel)

    def replacement(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.zeros(shape, dtype=torch.uint8)


def _salt_values(shape: tuple[int, ...], bright: bool) -> torch.Tensor:
    """imgaug's salt/pepper intensities: ``0.5 +- |Beta(0.5, 0.5) - 0.5|`` of 255.

    Beta(1/2, 1/2) is the arcsine law, sampled as ``sin^2(pi U / 2)`` with U uniform.
    """
    beta = torch.sin(torch.rand(shape) * (math.pi / 2)) ** 2
    offset = (beta - 0.5).abs()
    level = 0.5 + offset if bright else 0.5 - offset
    return (level * 255).round().to(torch.uint8)


@AUGMENTATION_OPS.register("CoarseSalt")
class CoarseSalt(_CoarseReplace):
    """Replace coarse cells with bright (salt) values."""

    def __init__(self, p: Param = 0.1, size_percent: Param = 0.1, per_channel: float | bool = False) -> None:
        super().__init__(p, size_percent, per_channel)

    def replacement(self, shape: tuple[int, ...]) -> torch.Tensor:
        return _salt_values(shape, bright=True)


@AUGMENTATION_OPS.register("CoarsePepper")
class CoarsePepper(_CoarseReplace):
    """Replace coarse cells with dark (pepper) values."""

    def __init__(self, p: Param = 0.1, size_percent: Param = 0.1, per_channel: float | bool = False) -> None:
        super().__init__(p, size_percent, per_channel)

    def replacement(self, shape: tuple[int, ...]) -> torch.Tensor:
        return _salt_values(shape, bright=False)


@AUGMENTATION_OPS.register("AllChannelsHistogramEqualization")
def all_channels_histogram_equalization() -> v2.Transform:
    """Histogram equalisation of every channel."""
    return v2.RandomEqualize(p=1.0)


@AUGMENTATION_OPS.register("AllChannelsCLAHE")
class AllChannelsCLAHE(_PixelOp):
    """Contrast-limited adaptive histogram equalisation (OpenCV) of every channel."""

    def __init__(self, clip_limit: Param = (0.1, 8.0), tile_grid_size_px: Param = (3, 12)) -> None:
        super().__init__()
        self.clip_limit, self.tile_grid_size_px = clip_limit, tile_grid_size_px

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        tiles = max(int(sample_param(self.tile_grid_size_px, integer=True)), 1)
        return {"clip": sample_param(self.clip_limit), "tiles": tiles}

    def apply_pixels(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        clahe = cv2.createCLAHE(clipLimit=params["clip"], tileGridSize=(params["tiles"],) * 2)
        planes = image.reshape(-1, *image.shape[-2:]).numpy()
        out = np.stack([clahe.apply(np.ascontiguousarray(p)) for p in planes])
        return torch.from_numpy(out).reshape(image.shape)


@AUGMENTATION_OPS.register("Emboss")
class Emboss(_PixelOp):
    """Emboss filter blended with the identity by ``alpha`` (imgaug's Emboss)."""

    def __init__(self, alpha: Param = (0.0, 1.0), strength: Param = (0.25, 1.0)) -> None:
        super().__init__()
        self.alpha, self.strength = alpha, strength

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        alpha, s = sample_param(self.alpha), sample_param(self.strength)
        identity = torch.zeros(3, 3, dtype=torch.float64)
        identity[1, 1] = 1.0
        effect = torch.tensor(
            [[-1 - s, -s, 0.0], [-s, 1.0, s], [0.0, s, 1 + s]], dtype=torch.float64
        )
        return {"kernel": (1 - alpha) * identity + alpha * effect}

    def apply_pixels(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return _conv_same(image, params["kernel"])
