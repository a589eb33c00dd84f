"""Augmentation of unlabeled training sequences (Lightning Pose's DALI video pipeline, in torch).

Used only when the ``imgaug`` preset is ``dlc`` or ``dlc-top-down``. One set of parameters is drawn
per sequence (per view for multiview data) and applied to every frame:

1. rotation by U(-10, 10) degrees, then anisotropic scaling by U(0.8, 1.2) per axis, both about
   the image centre ``(W/2, H/2)``; pixels that come from outside the frame are 0;
2. brightness and contrast, each U(0.75, 1.25): ``out = b * (0.5 + c * (in - 0.5))`` on
   ``[0, 255]`` values (DALI's formula with its default contrast centre of 0.5);
3. shot noise with factor U(0, 10): ``out = Poisson(max(0, in / f)) * f`` (identity when f = 0).

Coordinates are continuous pixel coordinates with the origin at the top-left corner of the
top-left pixel (``align_corners=False``). The returned ``(2, 3)`` matrix ``[A | t]`` maps a point
of the resized frame to its position in the augmented frame: ``p_aug = A p + t``.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

__all__ = [
    "UNLABELED_AUGMENTATION_PRESETS",
    "UnlabeledAugmentation",
    "affine_matrix",
    "augment_sequence",
    "brightness_contrast",
    "imagenet_normalize_01",
    "imagenet_normalize_255",
    "sample_unlabeled_augmentation",
    "shot_noise",
    "uses_unlabeled_augmentation",
    "warp_frames",
]

UNLABELED_AUGMENTATION_PRESETS = ("dlc", "dlc-top-down")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def uses_unlabeled_augmentation(imgaug: object) -> bool:
    """True for the presets whose unlabeled frames LP augments (``dlc``, ``dlc-top-down``)."""
    return isinstance(imgaug, str) and imgaug in UNLABELED_AUGMENTATION_PRESETS


@dataclass(frozen=True)
class UnlabeledAugmentation:
    """Parameters drawn for one sequence."""

    angle_deg: float
    scale_x: float
    scale_y: float
    brightness: float
    contrast: float
    shot_factor: float


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def sample_unlabeled_augmentation(generator: torch.Generator) -> UnlabeledAugmentation:
    """Draw rotation, per-axis scale, brightness, contrast and shot-noise factor."""
    return UnlabeledAugmentation(
        angle_deg=_uniform(-10.0, 10.0, generator),
        scale_x=_uniform(0.8, 1.2, generator),
        scale_y=_uniform(0.8, 1.2, generator),
        brightness=_uniform(0.75, 1.25, generator),
        contrast=_uniform(0.75, 1.25, generator),
        shot_factor=_uniform(0.0, 10.0, generator),
    )


def affine_matrix(
    angle_deg: float, scale_x: float, scale_y: float, height: int, width: int
) -> Float[Tensor, "2 3"]:
    """``[A | t]`` of "rotate, then scale", both about the centre ``(width / 2, height / 2)``.

    ``A = diag(sx, sy) @ [[cos, -sin], [sin, cos]]`` and ``t = c - A c``.
    """
    angle = math.radians(angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    a = torch.tensor(
        [[scale_x * cos, -scale_x * sin], [scale_y * sin, scale_y * cos]], dtype=torch.float64
    )
    centre = torch.tensor([width / 2.0, height / 2.0], dtype=torch.float64)
    t = centre - a @ centre
    return torch.cat([a, t[:, None]], dim=1).to(torch.float32)


def _pixel_to_normalized(height: int, width: int) -> Tensor:
    """3x3 map from continuous pixel coordinates to grid_sample's [-1, 1] (align_corners=False)."""
    return torch.tensor(
        [[2.0 / width, 0.0, -1.0], [0.0, 2.0 / height, -1.0], [0.0, 0.0, 1.0]], dtype=torch.float64
    )


def warp_frames(
    frames: Float[Tensor, "frames channels height width"], matrix: Float[Tensor, "2 3"]
) -> Float[Tensor, "frames channels height width"]:
    """Move image content by ``matrix`` (forward map), bilinear, zeros outside the frame."""
    num, _, height, width = frames.shape
    forward = torch.eye(3, dtype=torch.float64)
    forward[:2] = matrix.to(torch.float64)
    norm = _pixel_to_normalized(height, width)
    # grid_sample needs, for every output pixel, where to sample the input: the inverse map
    theta = (norm @ torch.linalg.inv(forward) @ torch.linalg.inv(norm))[:2]
    theta = theta.to(frames.dtype).to(frames.device).expand(num, 2, 3)
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def brightness_contrast(
    frames: Float[Tensor, "*shape"], brightness: float, contrast: float
) -> Float[Tensor, "*shape"]:
    """DALI ``brightness_contrast`` on float input: ``b * (0.5 + c * (x - 0.5))`` (no clamping)."""
    return brightness * (0.5 + contrast * (frames - 0.5))


def shot_noise(
    frames: Float[Tensor, "*shape"], factor: float, generator: torch.Generator
) -> Float[Tensor, "*shape"]:
    """DALI ``noise.shot``: ``Poisson(max(0, x / factor)) * factor``; identity for factor 0."""
    if factor == 0.0:
        return frames
    rates = (frames / factor).clamp(min=0.0)
    return torch.poisson(rates, generator=generator) * factor


def imagenet_normalize_01(
    frames: Float[Tensor, "*batch 3 height width"],
) -> Float[Tensor, "*batch 3 height width"]:
    """``[0, 1]`` float frames -> ImageNet mean/std normalised."""
    mean = torch.tensor(_IMAGENET_MEAN, dtype=frames.dtype, device=frames.device)[:, None, None]
    std = torch.tensor(_IMAGENET_STD, dtype=frames.dtype, device=frames.device)[:, None, None]
    return (frames - mean) / std


def imagenet_normalize_255(
    frames: Float[Tensor, "*batch 3 height width"],
) -> Float[Tensor, "*batch 3 height width"]:
    """``[0, 255]`` float frames -> ``/ 255`` -> ImageNet mean/std normalised."""
    return imagenet_normalize_01(frames / 255.0)


def augment_sequence(
    frames: Float[Tensor, "frames 3 height width"], generator: torch.Generator
) -> tuple[Float[Tensor, "frames 3 height width"], Float[Tensor, "2 3"]]:
    """Augment ``[0, 255]`` float frames of one sequence; returns (frames, forward affine)."""
    params = sample_unlabeled_augmentation(generator)
    height, width = frames.shape[-2:]
    matrix = affine_matrix(params.angle_deg, params.scale_x, params.scale_y, height, width)
    out = warp_frames(frames, matrix)
    out = brightness_contrast(out, params.brightness, params.contrast)
    out = shot_noise(out, params.shot_factor, generator)
    return out, matrix
