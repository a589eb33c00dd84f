"""Gaussian heatmap targets and confidence read-out at sub-pixel locations.

Grid convention: heatmap pixel ``i`` corresponds to model-input coordinate ``i * 2**ds``; the
soft-argmax offsets in :mod:`lightning_pose.models.heads.heatmap` rely on it.
"""

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["generate_heatmaps", "evaluate_heatmaps_at_location"]


def generate_heatmaps(
    keypoints: Float[Tensor, "batch num_keypoints 2"],
    height: int,
    width: int,
    output_shape: tuple[int, int],
    sigma: float = 1.25,
    keep_gradients: bool = False,
    visibility: Int[Tensor, "batch num_keypoints"] | None = None,
) -> Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]:
    """Normalised Gaussian heatmaps for keypoints given in an image of ``height x width`` pixels.

    Keypoints are rescaled to the ``output_shape = (h, w)`` grid; ``sigma`` is in heatmap pixels.
    A keypoint is invalid when it is NaN or lies more than one heatmap pixel outside the grid.

    Filling rule: without ``visibility`` an invalid keypoint gets an all-zero heatmap. With
    ``visibility``: 0 -> zeros, 1 -> uniform ``1/(h*w)``, 2 -> Gaussian (zeros if invalid).
    """
    out_h, out_w = output_shape
    kps = keypoints if keep_gradients else keypoints.detach()
    x = kps[..., 0] * (out_w / width)
    y = kps[..., 1] * (out_h / height)
    invalid = x.isnan() | y.isnan() | (x < -1) | (x > out_w + 1) | (y < -1) | (y > out_h + 1)
    x = torch.where(invalid, torch.zeros_like(x), x.clamp(-1, out_w + 1))
    y = torch.where(invalid, torch.zeros_like(y), y.clamp(-1, out_h + 1))
    cols = torch.arange(out_w, dtype=kps.dtype, device=kps.device)
    rows = torch.arange(out_h, dtype=kps.dtype, device=kps.device)
    gx = torch.exp(-((cols - x[..., None]) ** 2) / (2 * sigma**2))  # (B, K, w)
    gy = torch.exp(-((rows - y[..., None]) ** 2) / (2 * sigma**2))  # (B, K, h)
    heatmaps = gy[..., :, None] * gx[..., None, :]  # separable Gaussian, (B, K, h, w)
    heatmaps = heatmaps / heatmaps.sum(dim=(-2, -1), keepdim=True)
    zeros = torch.zeros_like(heatmaps)
    if visibility is None:
        return torch.where(invalid[..., None, None], zeros, heatmaps)
    vis = visibility.to(device=kps.device)[..., None, None]
    uniform = torch.full_like(heatmaps, 1.0 / (out_h * out_w))
    heatmaps = torch.where(invalid[..., None, None], zeros, heatmaps)
    heatmaps = torch.where(vis == 1, uniform, heatmaps)
    return torch.where(vis == 0, zeros, heatmaps)


def evaluate_heatmaps_at_location(
    heatmaps: Float[Tensor, "batch num_keypoints height width"],
    locs: Float[Tensor, "batch num_keypoints 2"],
    sigma: float = 1.25,
    num_stds: int = 2,
) -> Float[Tensor, "batch num_keypoints"]:
    """Sum of the ``(2r+1)^2`` heatmap window centred on each (truncated) location, r = sigma*num_stds.

    Outside pixels count as zero. For a normalised heatmap the result lies in [0, 1].
    """
    radius = int(sigma * num_stds)
    n, k, h, w = heatmaps.shape
    # truncation toward zero, as an int64 cast does; clamp keeps every centre on the grid
    xi = locs[..., 0].detach().to(torch.int64).clamp(0, w - 1)
    yi = locs[..., 1].detach().to(torch.int64).clamp(0, h - 1)
    # only the window around each centre is read (a box filter over the whole map computed
    # (2r+1)^2 sums per pixel of which one was kept: most of the soft-argmax's time)
    offsets = torch.arange(-radius, radius + 1, device=heatmaps.device)
    ys = yi[..., None, None] + offsets[:, None]  # (n, k, 2r+1, 1)
    xs = xi[..., None, None] + offsets[None, :]  # (n, k, 1, 2r+1)
    inside = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).reshape(n, k, -1)
    index = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).reshape(n, k, -1)
    values = heatmaps.reshape(n, k, h * w).gather(-1, index)
    return (values * inside.to(values.dtype)).sum(-1)
