"""Labeled-frame augmentation pipelines (Lightning Pose's imgaug presets on torchvision v2).

A pipeline is described like Lightning Pose's ``training.imgaug``: either a preset name
(``default``/``none``: resize only; ``dlc``, ``dlc-lr``, ``dlc-top-down``, ``dlc-mv``) or a dict
``{OpName: {"p": 0.5, "args": [...], "kwargs": {...}}}``. ``OpName`` is one of the imgaug-named
ops of :mod:`lightning_pose.data.augmentation_ops` (``Rot90``, ``Affine``, ``MotionBlur``, ...) or
any ``torchvision.transforms.v2`` transform class name. ``p`` is the probability of applying the
op (default 0.5; 0 drops it, >= 1 always applies it). List kwargs of length 1 become the single
element and of length 2 a ``(low, high)`` range tuple, as in Lightning Pose.

:func:`build_augmentation` returns an :class:`AugmentationPipeline` that ends with a bicubic
resize to the model input size.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from jaxtyping import Float, UInt8
from omegaconf import DictConfig
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2

from lightning_pose.config import CONFIG_CHECKS, ConfigError
from lightning_pose.data import augmentation_warps  # noqa: F401  (registers Affine, ElasticTransformation)
from lightning_pose.data.augmentation_ops import AUGMENTATION_OPS, Resize
from lightning_pose.registry import Registry

__all__ = [
    "check_augmentation_config",
    "AUGMENTATION_PRESETS",
    "AugmentationPipeline",
    "expand_imgaug_str_to_dict",
    "imgaug_transform",
    "build_augmentation",
]

AUGMENTATION_PRESETS: Registry[Callable[[], dict]] = Registry("augmentation preset")


class AugmentationPipeline:
    """Augmentations followed by an optional resize, applied jointly to images and keypoints.

    Call with uint8 images ``(3, H0, W0)`` or a context stack ``(T, 3, H0, W0)`` (one set of
    random parameters for the whole stack) and keypoints ``(K, 2)`` in image pixels. NaN
    keypoints stay NaN; keypoints pushed outside the image are returned as they are (the heatmap
    dataset turns them into NaN).
    """

    def __init__(
        self,
        transforms: Sequence[Callable[..., Any]] = (),
        resize_dims: tuple[int, int] | None = None,
    ) -> None:
        self.transforms = list(transforms)
        self.resize_dims = None if resize_dims is None else (int(resize_dims[0]), int(resize_dims[1]))
        final = [] if self.resize_dims is None else [Resize(self.resize_dims)]
        steps = self.transforms + final
        self._compose = v2.Compose(steps) if steps else None

    def __len__(self) -> int:
        """Number of steps including the final resize (Lightning Pose's ``len(Sequential)``)."""
        return len(self.transforms) + (self.resize_dims is not None)

    def __repr__(self) -> str:
        return f"AugmentationPipeline(transforms={self.transforms}, resize_dims={self.resize_dims})"

    @property
    def is_resize_only(self) -> bool:
        """True when the pipeline does nothing but (optionally) resize."""
        return not self.transforms

    def with_resize(self, height: int, width: int) -> "AugmentationPipeline":
        """The same augmentations ending with a resize to ``(height, width)`` (a new object)."""
        return AugmentationPipeline(self.transforms, (height, width))

    def resize_only(self) -> "AugmentationPipeline":
        """A pipeline with the augmentations dropped and the same final resize."""
        return AugmentationPipeline((), self.resize_dims)

    def __call__(
        self,
        images: UInt8[Tensor, "*frames 3 in_height in_width"],
        keypoints: Float[Tensor, "num_keypoints 2"],
    ) -> tuple[UInt8[Tensor, "*frames 3 out_height out_width"], Float[Tensor, "num_keypoints 2"]]:
        if self._compose is None:
            return images.clone(), keypoints.clone()
        missing = keypoints.isnan().any(dim=-1)
        filled = torch.where(missing[:, None], torch.zeros_like(keypoints), keypoints)
        image_in = tv_tensors.Image(images)
        kps_in = tv_tensors.KeyPoints(filled, canvas_size=tuple(images.shape[-2:]))
        image_out, kps_out = self._compose(image_in, kps_in)
        kps = kps_out.as_subclass(Tensor).to(keypoints.dtype)
        kps = torch.where(missing[:, None], torch.full_like(kps, float("nan")), kps)
        return image_out.as_subclass(Tensor).contiguous(), kps


def _to_python(value: Any) -> Any:
    """Plain Python containers from OmegaConf ones (lists, dicts); other values unchanged."""
    if isinstance(value, Mapping):
        return {str(k): _to_python(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_to_python(v) for v in value]
    return value


def _convert_kwarg(value: Any) -> Any:
    """Lightning Pose's rule: a list of 1 -> its element, a list of 2 -> a (low, high) tuple."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    if isinstance(value, list) and len(value) == 2:
        return tuple(value)
    return value


def _v2_transform_names() -> list[str]:
    return sorted(
        name for name in dir(v2)
        if isinstance(getattr(v2, name), type) and issubclass(getattr(v2, name), v2.Transform)
    )


def _resolve_op(name: str) -> Callable[..., Any]:
    if name in AUGMENTATION_OPS:
        return AUGMENTATION_OPS.get(name)
    candidate = getattr(v2, name, None)
    if isinstance(candidate, type) and issubclass(candidate, v2.Transform):
        return candidate
    raise ValueError(
        f"unknown augmentation {name!r}; allowed: {sorted(AUGMENTATION_OPS.names())} or a "
        f"torchvision.transforms.v2 transform: {_v2_transform_names()}"
    )


def _build_op(name: str, spec: Mapping[str, Any]) -> Callable[..., Any] | None:
    unknown = set(spec) - {"p", "args", "kwargs"}
    if unknown:
        raise ValueError(f"augmentation {name!r}: unknown keys {sorted(unknown)}; allowed: p, args, kwargs")
    p = float(spec.get("p", 0.5))
    if p == 0:
        return None
    op_cls = _resolve_op(name)
    args = list(spec.get("args") or [])
    kwargs = {k: _convert_kwarg(v) for k, v in (spec.get("kwargs") or {}).items()}
    try:
        op = op_cls(*args, **kwargs)
    except TypeError as err:
        raise ValueError(f"augmentation {name!r}: bad args {args} / kwargs {kwargs}: {err}") from err
    return op if p >= 1 else v2.RandomApply([op], p=p)


def imgaug_transform(params: Mapping[str, Any]) -> AugmentationPipeline:
    """A pipeline (without resize) from ``{OpName: {p, args, kwargs}}``, in dict order."""
    params = _to_python(params)
    ops = []
    for name, spec in params.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"augmentation {name!r}: expected a dict with p/args/kwargs, got {spec!r}")
        op = _build_op(name, spec)
        if op is not None:
            ops.append(op)
    return AugmentationPipeline(ops)


def _dlc_params(rot90_k: list[int] | None, geometric: bool) -> dict:
    """The DeepLabCut-style preset family (see Lightning Pose's ``dlc*`` presets)."""
    params: dict = {}
    if rot90_k is not None:
        params["Rot90"] = {"p": 1.0, "kwargs": {"k": [rot90_k]}}
    if geometric:
        params["Affine"] = {"p": 0.4, "kwargs": {"rotate": [-25, 25]}}
    params["MotionBlur"] = {"p": 0.5, "kwargs": {"k": 5, "angle": [-90, 90]}}
    params["CoarseDropout"] = {"p": 0.5, "kwargs": {"p": 0.02, "size_percent": 0.3, "per_channel": 0.5}}
    params["CoarseSalt"] = {"p": 0.5, "kwargs": {"p": 0.01, "size_percent": [0.05, 0.1]}}
    params["CoarsePepper"] = {"p": 0.5, "kwargs": {"p": 0.01, "size_percent": [0.05, 0.1]}}
    if geometric:
        params["ElasticTransformation"] = {"p": 0.5, "kwargs": {"alpha": [0, 10], "sigma": 5}}
    params["AllChannelsHistogramEqualization"] = {"p": 0.1}
    params["AllChannelsCLAHE"] = {"p": 0.1}
    params["Emboss"] = {"p": 0.1, "kwargs": {"alpha": [0, 0.5], "strength": [0.5, 1.5]}}
    if geometric:
        params["CropAndPad"] = {"p": 0.4, "kwargs": {"percent": [-0.15, 0.15], "keep_size": False}}
    return params


AUGMENTATION_PRESETS.add("default", lambda: {})
AUGMENTATION_PRESETS.add("none", lambda: {})
AUGMENTATION_PRESETS.add("dlc", lambda: _dlc_params(None, geometric=True))
AUGMENTATION_PRESETS.add("dlc-lr", lambda: _dlc_params([0, 2], geometric=True))
AUGMENTATION_PRESETS.add("dlc-top-down", lambda: _dlc_params([0, 1, 2, 3], geometric=True))
AUGMENTATION_PRESETS.add("dlc-mv", lambda: _dlc_params(None, geometric=False))


@CONFIG_CHECKS.register("augmentation")
def check_augmentation_config(cfg: DictConfig) -> None:
    """``training.imgaug`` is a registered preset or a mapping of transforms."""
    imgaug = cfg.training.imgaug
    if isinstance(imgaug, Mapping):
        return
    if not isinstance(imgaug, str) or imgaug not in AUGMENTATION_PRESETS:
        raise ConfigError("training.imgaug", f"expected one of {AUGMENTATION_PRESETS.names()} or a mapping of "
                          f"imgaug transforms, got {imgaug!r}")


def expand_imgaug_str_to_dict(name: str) -> dict:
    """The ``{OpName: {p, args, kwargs}}`` dict of a preset; unknown name -> ValueError."""
    return AUGMENTATION_PRESETS.get(name)()


def build_augmentation(
    imgaug: str | Mapping[str, Any],
    image_height: int,
    image_width: int,
    resize: bool = True,
) -> AugmentationPipeline:
    """Pipeline for a preset name or custom dict, ending with a resize to the model input size."""
    params = expand_imgaug_str_to_dict(imgaug) if isinstance(imgaug, str) else imgaug
    pipeline = imgaug_transform(params)
    return pipeline.with_resize(image_height, image_width) if resize else pipeline
