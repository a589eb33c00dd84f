"""Multi-head CRNN heatmap head for 5-frame context models (HeatmapTrackerMHCRNN).

A single-frame head (:class:`HeatmapHead`) decodes the centre frame; a bidirectional
convolutional RNN (:class:`UpsamplingCRNN`) decodes the whole 5-frame window.
"""

import torch
from jaxtyping import Float
from torch import Tensor, nn

from lightning_pose.models.backbones import get_backbone_stride
from lightning_pose.models.heads.heatmap import HeatmapHead, run_subpixelmaxima, spatial_softmax
from lightning_pose.models.heads.registry import HEADS

__all__ = ["HeatmapMHCRNNHead", "UpsamplingCRNN", "crnn_upsampling_factor"]


def crnn_upsampling_factor(backbone_arch: str) -> int:
    """The CRNN upsamples once more before the recurrence for stride-32 backbones only."""
    return 1 if get_backbone_stride(backbone_arch) == 16 else 2


def _x2_deconv(c_in: int, c_out: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1)


def _recurrent_map(num_keypoints: int, nfilters_channel: int, kernel: int, stride: int, pad: int) -> nn.Sequential:
    """Per-keypoint (grouped) strided conv down and transposed conv back up: same spatial size."""
    hidden = num_keypoints * nfilters_channel
    return nn.Sequential(
        nn.Conv2d(num_keypoints, hidden, kernel, stride, pad, groups=num_keypoints),
        nn.ConvTranspose2d(hidden, num_keypoints, kernel, stride, pad, output_padding=pad, groups=num_keypoints),
    )


class UpsamplingCRNN(nn.Module):
    """Bidirectional convolutional RNN over context frames; returns softmaxed centre heatmaps."""

    def __init__(
        self,
        num_filters_for_upsampling: int,
        num_keypoints: int,
        upsampling_factor: int = 2,
        hkernel: int = 2,
        hstride: int = 2,
        hpad: int = 0,
        nfilters_channel: int = 16,
    ) -> None:
        super().__init__()
        if upsampling_factor not in (1, 2):
            raise ValueError(f"upsampling_factor must be 1 or 2, got {upsampling_factor!r}")
        self.upsampling_factor = upsampling_factor
        self.pixel_shuffle = nn.PixelShuffle(2)
        rnn_in = num_filters_for_upsampling // 4
        if upsampling_factor == 2:
            self.W_pre = _x2_deconv(rnn_in, num_keypoints)
            rnn_in = num_keypoints
        self.W_f = _x2_deconv(rnn_in, num_keypoints)
        self.H_f = _recurrent_map(num_keypoints, nfilters_channel, hkernel, hstride, hpad)
        self.W_b = _x2_deconv(rnn_in, num_keypoints)
        self.H_b = _recurrent_map(num_keypoints, nfilters_channel, hkernel, hstride, hpad)
        ordered = [self.W_f, self.H_f, self.W_b, self.H_b]
        if upsampling_factor == 2:
            ordered.insert(0, self.W_pre)
        self.layers = nn.ModuleList(ordered)
        for module in self.layers.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(module.weight, gain=1.0)
                nn.init.zeros_(module.bias)

    def forward(
        self, features: Float[Tensor, "frames batch features feat_height feat_width"]
    ) -> Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]:
        frames, batch = features.shape[:2]
        x = self.pixel_shuffle(features.flatten(0, 1))
        if self.upsampling_factor == 2:
            x = self.W_pre(x)
        x = x.reshape(frames, batch, *x.shape[1:])
        # the input maps of every frame do not depend on the recurrence: compute them in one call
        inputs_f = self.W_f(x.flatten(0, 1))
        inputs_f = inputs_f.reshape(frames, batch, *inputs_f.shape[1:])
        inputs_b = self.W_b(x.flatten(0, 1))
        inputs_b = inputs_b.reshape(frames, batch, *inputs_b.shape[1:])
        state_f = inputs_f[0]
        for t in range(1, frames):
            state_f = inputs_f[t] + self.H_f(state_f)
        state_b = inputs_b[frames - 1]
        for t in range(frames - 2, -1, -1):
            state_b = inputs_b[t] + self.H_b(state_b)
        return spatial_softmax((state_f + state_b) / 2, 1.0)


@HEADS.register("heatmap_mhcrnn")
class HeatmapMHCRNNHead(nn.Module):
    """Single-frame heatmap head plus a multi-frame CRNN head over a 5-frame context window."""

    def __init__(
        self,
        backbone_arch: str,
        in_channels: int,
        out_channels: int,
        deconv_out_channels: int | None = None,
        downsample_factor: int = 2,
        upsampling_factor: int = 2,
    ) -> None:
        super().__init__()
        self.backbone_arch = backbone_arch
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.deconv_out_channels = deconv_out_channels
        self.downsample_factor = downsample_factor
        self.upsampling_factor = upsampling_factor
        self.temperature = torch.tensor(1000.0)
        self.head_sf = HeatmapHead(
            backbone_arch=backbone_arch,
            in_channels=in_channels,
            out_channels=out_channels,
            deconv_out_channels=deconv_out_channels,
            downsample_factor=downsample_factor,
        )
        self.head_mf = UpsamplingCRNN(
            num_filters_for_upsampling=in_channels,
            num_keypoints=out_channels,
            upsampling_factor=upsampling_factor,
        )

    def forward(
        self,
        features: Float[Tensor, "batch features feat_height feat_width frames"],
        batch_shape: torch.Size | tuple[int, ...],
        is_multiview: bool,
    ) -> tuple[
        Float[Tensor, "num_frames num_maps heatmap_height heatmap_width"],
        Float[Tensor, "num_frames num_maps heatmap_height heatmap_width"],
    ]:
        """Decode context features into (single-frame, multi-frame) heatmaps.

        ``batch_shape`` is the shape of the image batch the features came from; it tells how to
        restore the view grouping: multiview outputs are ``(frames, views * K, h, w)``.
        """
        num_frames = batch_shape[0]
        if len(batch_shape) == 5 and is_multiview:
            # unlabeled multiview window (L, V, 3, H, W): the first/last 2 frames have no context
            num_frames -= 4
            features = features.reshape(num_frames * batch_shape[1], -1, *features.shape[-3:])
        features = features.permute(4, 0, 1, 2, 3)  # (frames, batch, C, h', w')
        heatmaps_sf = self.head_sf(features[2])  # centre frame of the window
        heatmaps_mf = self.head_mf(features)
        if len(batch_shape) in (5, 6):
            heatmaps_sf = heatmaps_sf.reshape(num_frames, -1, *heatmaps_sf.shape[-2:])
            heatmaps_mf = heatmaps_mf.reshape(num_frames, -1, *heatmaps_mf.shape[-2:])
        return heatmaps_sf, heatmaps_mf

    def run_subpixelmaxima(
        self, heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]
    ) -> tuple[Float[Tensor, "batch num_targets"], Float[Tensor, "batch num_keypoints"]]:
        return run_subpixelmaxima(heatmaps, self.downsample_factor, self.temperature)
