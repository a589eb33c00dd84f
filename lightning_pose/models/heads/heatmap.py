"""Deconvolution heatmap head and the soft-argmax read-out of heatmaps.

The head upsamples stride-``S`` backbone features to heatmaps at ``1 / 2**downsample_factor`` of
the model-input resolution. :func:`run_subpixelmaxima` turns heatmaps into sub-pixel keypoint
locations (model-input pixels) and confidences.
"""

import math

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from lightning_pose.data.heatmaps import evaluate_heatmaps_at_location
from lightning_pose.models.backbones import get_backbone_stride
from lightning_pose.models.heads.registry import HEADS

__all__ = [
    "HeatmapHead",
    "make_upsampling_layers",
    "num_upsampling_layers",
    "run_subpixelmaxima",
    "spatial_softmax",
    "upsample",
]

# 5x5 Gaussian pyramid kernel: outer product of the binomial row [1, 4, 6, 4, 1], sums to 1
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
_PYRAMID_KERNEL = torch.outer(_BINOMIAL, _BINOMIAL) / 256.0
# soft-argmax offsets that undo the half-pixel shifts of `ds` align_corners=False x2 upsamplings:
# each maps pixel i to 2i + 0.5, so after ds of them heatmap pixel i sits at 2**ds * i + (2**ds - 1) / 2.
# Lightning Pose subtracts 2.5 for ds=3 (one pixel short); see docs/differences.md.
_GRID_OFFSETS = {ds: (2**ds - 1) / 2 for ds in (1, 2, 3)}


def num_upsampling_layers(backbone_arch: str, downsample_factor: int) -> int:
    """Number of stride-2 ConvTranspose layers after the PixelShuffle: log2(stride) - ds - 1.

    Raises ``ValueError`` for a combination without a learned output layer (for example a
    stride-16 ViT with ``downsample_factor=3``), which would emit features instead of heatmaps.
    """
    if downsample_factor not in _GRID_OFFSETS:
        raise ValueError(f"downsample_factor must be 1, 2 or 3, got {downsample_factor!r}")
    stride = get_backbone_stride(backbone_arch)
    n_layers = int(math.log2(stride)) - downsample_factor - 1
    if n_layers < 1:
        raise ValueError(
            f"backbone {backbone_arch!r} (stride {stride}) cannot be used with "
            f"downsample_factor={downsample_factor}: the heatmap head would have no "
            f"deconvolution layer; use downsample_factor <= {int(math.log2(stride)) - 2}"
        )
    return n_layers


def make_upsampling_layers(
    in_channels: int, out_channels: int, int_channels: int, n_layers: int
) -> nn.Sequential:
    """``PixelShuffle(2)`` then ``n_layers`` exact x2 ConvTranspose2d layers (k3, s2, p1, op1).

    Channels: ``in_channels // 4`` after the shuffle, ``int_channels`` between layers,
    ``out_channels`` out of the last layer.
    """
    channels = [in_channels // 4] + [int_channels] * (n_layers - 1) + [out_channels]
    layers: list[nn.Module] = [nn.PixelShuffle(2)]
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers.append(
            nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1)
        )
    return nn.Sequential(*layers)


def spatial_softmax(
    heatmaps: Float[Tensor, "batch channels height width"], temperature: float | Tensor = 1.0
) -> Float[Tensor, "batch channels height width"]:
    """Softmax of ``temperature * x`` over all pixels of each (sample, channel) map."""
    n, c, h, w = heatmaps.shape
    flat = (heatmaps * temperature).reshape(n, c, h * w)
    return flat.softmax(dim=-1).reshape(n, c, h, w)


def upsample(
    heatmaps: Float[Tensor, "batch channels height width"],
) -> Float[Tensor, "batch channels height2 width2"]:
    """x2 upsampling without learned weights: bicubic (align_corners=False), then the 5x5
    Gaussian pyramid filter with a zero border."""
    n, c, h, w = heatmaps.shape
    up = F.interpolate(heatmaps, size=(2 * h, 2 * w), mode="bicubic", align_corners=False)
    kernel = _PYRAMID_KERNEL.to(dtype=up.dtype, device=up.device).expand(c, 1, 5, 5)
    if up.device.type == "cpu":  # oneDNN's depthwise conv is ~4x faster on channels-last memory
        return F.conv2d(up.contiguous(memory_format=torch.channels_last), kernel, padding=2, groups=c).contiguous()
    return F.conv2d(up, kernel, padding=2, groups=c)


def _spatial_expectation(
    probs: Float[Tensor, "batch channels height width"],
) -> Float[Tensor, "batch channels 2"]:
    """Expected (x, y) pixel position under each normalised map, in pixel units."""
    _, _, h, w = probs.shape
    cols = torch.arange(w, dtype=probs.dtype, device=probs.device)
    rows = torch.arange(h, dtype=probs.dtype, device=probs.device)
    x = (probs.sum(dim=-2) * cols).sum(dim=-1)
    y = (probs.sum(dim=-1) * rows).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def run_subpixelmaxima(
    heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"],
    downsample_factor: int,
    temperature: float | Tensor,
) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
    """Soft-argmax keypoints (model-input pixels, ``(x0, y0, x1, y1, ...)``) and confidences.

    The heatmaps are upsampled ``downsample_factor`` times, sharpened with a spatial softmax at
    ``temperature``, and read out by spatial expectation. The confidence is the sharpened mass
    in the 5x5 window around the estimate (taken before the grid offset is removed).
    """
    for _ in range(downsample_factor):
        heatmaps = upsample(heatmaps)
    softmaxes = spatial_softmax(heatmaps, temperature)
    preds = _spatial_expectation(softmaxes)
    confidences = evaluate_heatmaps_at_location(softmaxes, preds)
    preds = preds - _GRID_OFFSETS.get(downsample_factor, 0.0)
    return preds.reshape(preds.shape[0], -1), confidences


@HEADS.register("heatmap_cnn")
class HeatmapHead(nn.Module):
    """PixelShuffle + ConvTranspose head producing one spatially-softmaxed heatmap per keypoint."""

    def __init__(
        self,
        backbone_arch: str,
        in_channels: int,
        out_channels: int,
        deconv_out_channels: int | None = None,
        downsample_factor: int = 2,
        final_softmax: bool = True,
    ) -> None:
        super().__init__()
        self.backbone_arch = backbone_arch
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.deconv_out_channels = deconv_out_channels
        self.downsample_factor = downsample_factor
        self.final_softmax = final_softmax
        self.temperature = torch.tensor(1000.0)  # soft-argmax sharpening
        n_layers = num_upsampling_layers(backbone_arch, downsample_factor)
        self.upsampling_layers = make_upsampling_layers(
            in_channels=in_channels,
            out_channels=out_channels,
            int_channels=deconv_out_channels or out_channels,
            n_layers=n_layers,
        )
        for layer in self.upsampling_layers:
            if isinstance(layer, nn.ConvTranspose2d):
                nn.init.xavier_uniform_(layer.weight, gain=0.01)
                nn.init.zeros_(layer.bias)

    def forward(
        self, features: Float[Tensor, "batch features feat_height feat_width"]
    ) -> Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]:
        heatmaps = self.upsampling_layers(features)
        if self.final_softmax:
            heatmaps = spatial_softmax(heatmaps, 1.0)
        return heatmaps

    def run_subpixelmaxima(
        self, heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    ) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
        return run_subpixelmaxima(heatmaps, self.downsample_factor, self.temperature)
