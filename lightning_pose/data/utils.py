"""Split arithmetic and keypoint-space helpers shared by datasets, data modules and models."""

import math
import warnings
from collections.abc import Sequence

import torch
from jaxtyping import Float, UInt8
from torch import Tensor

__all__ = [
    "imagenet_normalize",
    "split_sizes_from_probabilities",
    "compute_num_train_frames",
    "split_indices",
    "clean_any_nans",
    "undo_affine_transform",
    "undo_affine_transform_batch",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(
    images: UInt8[Tensor, "*batch 3 height width"],
) -> Float[Tensor, "*batch 3 height width"]:
    """uint8 RGB -> float32 in [0, 1] -> ImageNet mean/std normalised (ToTensor + Normalize)."""
    x = images.to(torch.float32).div(255)
    mean = torch.tensor(_IMAGENET_MEAN, dtype=torch.float32, device=x.device)[:, None, None]
    std = torch.tensor(_IMAGENET_STD, dtype=torch.float32, device=x.device)[:, None, None]
    return (x - mean) / std


def split_sizes_from_probabilities(
    total_number: int,
    train_probability: float,
    val_probability: float | None = None,
    test_probability: float | None = None,
) -> list[int]:
    """``[n_train, n_val, n_test]`` for ``total_number`` examples and the split probabilities.

    Missing val and test probabilities share the remainder equally (rounded to 5 decimals); a
    missing test probability takes what train and val leave. Counts are floored; a leftover of
    fewer than 5 examples goes to train (and test is empty), otherwise it is the test set. At
    least one validation example is guaranteed by taking one from train.
    """
    if val_probability is None and test_probability is None:
        val_probability = round((1.0 - train_probability) / 2, 5)
        test_probability = round((1.0 - train_probability) / 2, 5)
    elif test_probability is None:
        test_probability = 1.0 - train_probability - val_probability
    elif val_probability is None:
        raise ValueError(
            f"test_probability={test_probability} given without val_probability; give both"
        )
    if test_probability + train_probability + val_probability != 1.0:  # LP's summation order
        raise ValueError(
            f"split probabilities must sum to 1.0: train={train_probability}, "
            f"val={val_probability}, test={test_probability}"
        )
    n_train = math.floor(train_probability * total_number)
    n_val = math.floor(val_probability * total_number)
    leftover = total_number - n_train - n_val
    if leftover < 5:
        n_train, n_test = n_train + leftover, 0
    else:
        n_test = leftover
    if n_val == 0:
        n_train, n_val = n_train - 1, 1
        if n_train < 1:
            raise ValueError(
                f"need at least two labeled frames (one train, one validation); got {total_number}"
            )
    return [n_train, n_val, n_test]


def compute_num_train_frames(len_train_dataset: int, train_frames: int | float | None = None) -> int:
    """How many of the (shuffled) training examples to keep.

    ``None`` or ``1`` -> all; a value ``>= len`` -> all (with a warning); ``> 1`` -> that many;
    in ``(0, 1)`` -> that fraction (floored); ``<= 0`` -> ``ValueError``.
    """
    if train_frames is None:
        return len_train_dataset
    if train_frames >= len_train_dataset:
        warnings.warn(
            f"train_frames={train_frames} is not smaller than the training set "
            f"({len_train_dataset}); using all training frames",
            stacklevel=2,
        )
        return len_train_dataset
    if train_frames == 1:
        return len_train_dataset
    if train_frames > 1:
        return int(train_frames)
    if train_frames > 0:
        return int(train_frames * len_train_dataset)
    raise ValueError(f"train_frames must be > 0, got {train_frames}")


def split_indices(
    total_number: int, sizes: Sequence[int], seed: int
) -> tuple[list[int], list[int], list[int]]:
    """(train, val, test) indices in the order ``torch.utils.data.random_split`` gives them.

    Equivalent to ``random_split(range(total_number), sizes,
    generator=torch.Generator().manual_seed(seed))``.
    """
    if len(sizes) != 3 or sum(sizes) != total_number:
        raise ValueError(f"sizes must be 3 counts summing to {total_number}; got {list(sizes)}")
    perm = torch.randperm(total_number, generator=torch.Generator().manual_seed(seed)).tolist()
    n_train, n_val = int(sizes[0]), int(sizes[1])
    return perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]


def clean_any_nans(data: Float[Tensor, "rows cols"], dim: int) -> Float[Tensor, "..."]:
    """Drop the columns (``dim=0``) or rows (``dim=1``) that contain a NaN."""
    has_nan = data.isnan().any(dim=dim)
    if dim == 0:
        return data[:, ~has_nan]
    if dim == 1:
        return data[~has_nan]
    raise ValueError(f"dim must be 0 or 1, got {dim}")


def undo_affine_transform(
    keypoints: Float[Tensor, "seq_len num_keypoints 2"],
    transform: Float[Tensor, "seq_len 2 3"] | Float[Tensor, "2 3"],
) -> Float[Tensor, "seq_len num_keypoints 2"]:
    """Map keypoints back through the inverse of an affine ``[A | t]``: ``A^-1 (p - t)``.

    The matrix is treated as a constant (no gradient); a single ``(2, 3)`` matrix applies to all
    frames, a ``(seq_len, 2, 3)`` stack applies frame by frame.
    """
    mat = transform.detach().to(keypoints.dtype)
    a_inv = torch.linalg.inv(mat[..., :2])  # (2, 2) or (L, 2, 2)
    t = mat[..., 2]  # (2,) or (L, 2)
    if mat.ndim == 3:
        a_inv, t = a_inv[:, None], t[:, None]  # broadcast over keypoints
    return ((keypoints - t)[..., None, :] * a_inv).sum(-1)


def undo_affine_transform_batch(
    keypoints_augmented: Float[Tensor, "seq_len num_targets"],
    transforms: Float[Tensor, "..."],
    is_multiview: bool = False,
) -> Float[Tensor, "seq_len num_targets"]:
    """Undo the unlabeled-frame augmentation recorded in ``transforms``.

    ``transforms`` is ``(2, 3)`` / ``(seq_len, 2, 3)`` for single view, ``(V, 2, 3)`` for
    multiview (view ``v`` owns keypoint block ``v``); any other last dimension (the ``[-1]``
    marker) means "no augmentation" and the keypoints are returned unchanged.
    """
    if transforms.shape[-1] != 3:
        return keypoints_augmented
    seq_len = keypoints_augmented.shape[0]
    kps = keypoints_augmented.reshape(seq_len, -1, 2)
    if not is_multiview:
        return undo_affine_transform(kps, transforms).reshape(seq_len, -1)
    num_views = transforms.shape[0]
    if kps.shape[1] % num_views != 0:
        raise ValueError(
            f"{kps.shape[1]} keypoints cannot be split evenly over {num_views} views"
        )
    per_view = kps.reshape(seq_len, num_views, -1, 2)
    mat = transforms.detach().to(kps.dtype)
    a_inv = torch.linalg.inv(mat[:, :, :2])[None, :, None]  # (1, V, 1, 2, 2)
    t = mat[:, :, 2][None, :, None]  # (1, V, 1, 2)
    out = ((per_view - t)[..., None, :] * a_inv).sum(-1)
    return out.reshape(seq_len, -1)
