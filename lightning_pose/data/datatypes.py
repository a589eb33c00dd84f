"""Dictionaries exchanged between datasets, data loaders and models.

Example dicts are what a dataset's ``__getitem__`` returns; batch dicts are the same keys after
the default collate (tensors stacked on a leading ``batch`` axis, ints become an int64 tensor,
lists of strings become lists of tuples). Coordinates in ``keypoints`` are model-input (resized
image) pixels; ``bbox`` is ``[x, y, h, w]`` of the crop in the original frame (the whole frame,
``[0, 0, H0, W0]``, when no bounding boxes are used).
"""

import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Optional, TypedDict, Union

import jaxtyping._decorator
from jaxtyping import Float, Int, jaxtyped
from torch import Tensor

# jaxtyping's first ``jaxtyped`` call imports JAX, when it is installed (the eks extra brings it),
# only to hide jaxtyping's frames from JAX's tracebacks: 1-2 s of every trial process's start-up
# for a package that never raises through JAX. That registration is marked done instead.
if getattr(jaxtyping._decorator, "_tb_flag", False):
    jaxtyping._decorator._tb_flag = False

__all__ = [
    "LabeledBatch",
    "PredictionBatch",
    "UnlabeledBatch",
    "check_batch",
    "BaseLabeledExampleDict",
    "HeatmapLabeledExampleDict",
    "MultiviewLabeledExampleDict",
    "MultiviewHeatmapLabeledExampleDict",
    "BaseLabeledBatchDict",
    "HeatmapLabeledBatchDict",
    "MultiviewLabeledBatchDict",
    "MultiviewHeatmapLabeledBatchDict",
    "UnlabeledBatchDict",
    "MultiviewUnlabeledBatchDict",
    "SemiSupervisedBatchDict",
    "SemiSupervisedHeatmapBatchDict",
]

ImageTensor = Float[Tensor, "3 height width"] | Float[Tensor, "frames 3 height width"]
MultiviewImageTensor = (
    Float[Tensor, "num_views 3 height width"] | Float[Tensor, "num_views frames 3 height width"]
)
ImageBatch = Float[Tensor, "batch 3 height width"] | Float[Tensor, "batch frames 3 height width"]
MultiviewImageBatch = (
    Float[Tensor, "batch num_views 3 height width"]
    | Float[Tensor, "batch num_views frames 3 height width"]
)


class BaseLabeledExampleDict(TypedDict):
    """One labeled frame (``BaseTrackingDataset.__getitem__``)."""

    images: ImageTensor
    keypoints: Float[Tensor, "num_targets"]
    idxs: int
    bbox: Float[Tensor, "4"]
    visibility: Int[Tensor, "0"] | Int[Tensor, "num_keypoints"]


class HeatmapLabeledExampleDict(BaseLabeledExampleDict):
    """One labeled frame with heatmap targets (``HeatmapDataset.__getitem__``)."""

    heatmaps: Float[Tensor, "num_keypoints heatmap_height heatmap_width"]


class MultiviewLabeledExampleDict(TypedDict):
    """One labeled multiview frame; keypoint/bbox blocks are concatenated in view order.

    Without camera calibration the 3-D fields hold placeholders: ``keypoints_3d`` ``(1,)``,
    ``intrinsic_matrix`` ``eye(3)[None]``, ``extrinsic_matrix`` ``zeros(1, 3, 4)``,
    ``distortions`` ``zeros(1, 5)``.
    """

    images: MultiviewImageTensor
    keypoints: Float[Tensor, "num_targets"]
    bbox: Float[Tensor, "num_views_x4"]
    idxs: int
    num_views: int
    concat_order: list[str]
    view_names: list[str]
    keypoints_3d: Float[Tensor, "1"] | Float[Tensor, "num_keypoints 3"]
    intrinsic_matrix: Float[Tensor, "1 3 3"] | Float[Tensor, "num_views 3 3"]
    extrinsic_matrix: Float[Tensor, "1 3 4"] | Float[Tensor, "num_views 3 4"]
    distortions: Float[Tensor, "1 5"] | Float[Tensor, "num_views num_distortion_params"]


class MultiviewHeatmapLabeledExampleDict(MultiviewLabeledExampleDict):
    """One labeled multiview frame with heatmap targets (all views' keypoints stacked)."""

    heatmaps: Float[Tensor, "num_keypoints heatmap_height heatmap_width"]


class BaseLabeledBatchDict(TypedDict):
    """Collated :class:`BaseLabeledExampleDict`; ``visibility`` is ``(batch, 0)`` when absent."""

    images: ImageBatch
    keypoints: Float[Tensor, "batch num_targets"]
    idxs: Int[Tensor, "batch"]
    bbox: Float[Tensor, "batch 4"]
    visibility: Int[Tensor, "batch 0"] | Int[Tensor, "batch num_keypoints"]


class HeatmapLabeledBatchDict(BaseLabeledBatchDict):
    """Collated :class:`HeatmapLabeledExampleDict`."""

    heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]


class MultiviewLabeledBatchDict(TypedDict):
    """Collated :class:`MultiviewLabeledExampleDict` (string lists become lists of tuples)."""

    images: MultiviewImageBatch
    keypoints: Float[Tensor, "batch num_targets"]
    bbox: Float[Tensor, "batch num_views_x4"]
    idxs: Int[Tensor, "batch"]
    num_views: Int[Tensor, "batch"]
    concat_order: list
    view_names: list
    keypoints_3d: Float[Tensor, "batch 1"] | Float[Tensor, "batch num_keypoints 3"]
    intrinsic_matrix: Float[Tensor, "batch 1 3 3"] | Float[Tensor, "batch num_views 3 3"]
    extrinsic_matrix: Float[Tensor, "batch 1 3 4"] | Float[Tensor, "batch num_views 3 4"]
    distortions: Float[Tensor, "batch 1 5"] | Float[Tensor, "batch num_views num_distortion_params"]


class MultiviewHeatmapLabeledBatchDict(MultiviewLabeledBatchDict):
    """Collated :class:`MultiviewHeatmapLabeledExampleDict`."""

    heatmaps: Float[Tensor, "batch num_keypoints heatmap_height heatmap_width"]


class UnlabeledBatchDict(TypedDict):
    """A sequence of unlabeled video frames from one view.

    ``transforms`` is the ``(2, 3)`` affine applied to every frame (or ``(seq_len, 2, 3)`` per
    frame); a last dimension of 1 (``[-1]`` marker) means no geometric augmentation.
    """

    frames: Float[Tensor, "seq_len 3 height width"]
    transforms: (
        Float[Tensor, "seq_len 2 3"] | Float[Tensor, "2 3"] | Float[Tensor, "seq_len 1"]
        | Float[Tensor, "1"]
    )
    bbox: Float[Tensor, "seq_len 4"]
    is_multiview: bool


class MultiviewUnlabeledBatchDict(TypedDict):
    """Synchronised unlabeled frames from all views; ``transforms`` per view."""

    frames: Float[Tensor, "seq_len num_views 3 height width"]
    transforms: Float[Tensor, "num_views 2 3"] | Float[Tensor, "num_views 1 1"]
    bbox: Float[Tensor, "seq_len num_views_x4"]
    is_multiview: bool


class SemiSupervisedBatchDict(TypedDict):
    """A training step of a semi-supervised model: labeled batch + unlabeled sequence."""

    labeled: BaseLabeledBatchDict | MultiviewLabeledBatchDict
    unlabeled: UnlabeledBatchDict | MultiviewUnlabeledBatchDict


class SemiSupervisedHeatmapBatchDict(TypedDict):
    """:class:`SemiSupervisedBatchDict` for heatmap models."""

    labeled: HeatmapLabeledBatchDict | MultiviewHeatmapLabeledBatchDict
    unlabeled: UnlabeledBatchDict | MultiviewUnlabeledBatchDict


LabeledBatch = Union[
    BaseLabeledBatchDict, HeatmapLabeledBatchDict, MultiviewLabeledBatchDict, MultiviewHeatmapLabeledBatchDict
]
UnlabeledBatch = Union[UnlabeledBatchDict, MultiviewUnlabeledBatchDict]
PredictionBatch = Union[LabeledBatch, UnlabeledBatch]


@functools.cache
def _fields(schema: type) -> dict[str, Any]:
    return typing.get_type_hints(schema)


def _is_typed_dict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"{str(value.dtype).removeprefix('torch.')} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " | ".join(_type_name(option) for option in typing.get_args(tp))
    return getattr(tp, "__name__", repr(tp))


def _matches(value: Any, tp: Any) -> bool:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(tp))
    if _is_typed_dict(tp):
        return isinstance(value, Mapping) and _mismatch(value, tp) is None
    origin = typing.get_origin(tp)
    return isinstance(value, origin if origin is not None else tp)


@jaxtyped(typechecker=None)
def _mismatch(batch: Mapping, schema: type) -> Optional[str]:
    """Why ``batch`` does not fit ``schema`` (None when it does). One jaxtyping memo per call, so a
    dimension name (``batch``, ``num_keypoints``) must have one size across all the keys."""
    for key, tp in _fields(schema).items():
        if key not in batch:
            return f"no key {key!r}"
        if not _matches(batch[key], tp):
            return f"{key!r} is a {_describe(batch[key])}, expected {_type_name(tp)}"
    return None


def check_batch(batch: Mapping, *schemas: type) -> None:
    """Raise a ``TypeError`` unless ``batch`` fits one of the TypedDict ``schemas``: every key
    present, every tensor of the annotated dtype and shape, named dimensions consistent across
    keys (alternatives of a union are tried in order, so placeholders come first). Trackers call
    it on every batch they receive from the data side."""
    problems = []
    for schema in schemas:
        problem = _mismatch(batch, schema)
        if problem is None:
            return
        problems.append(f"as {schema.__name__}: {problem}")
    raise TypeError("batch does not fit the data -> tracker contract; " + "; ".join(problems))
