"""Shared pieces of the backbone family: the registry, the builder contract and weight files.

Every backbone is a *builder*: a callable registered in :data:`BACKBONES` under the public
backbone name, called with keyword arguments only::

    builder(pretrained=True, model_type="heatmap", image_size=256, backbone_checkpoint=None)
    -> (module, number_of_output_channels)

Registration metadata (required for every entry): ``stride`` (input pixels per feature-map
pixel, 32 or 16), ``family`` (``"convnet"`` or ``"transformer"``), ``multiview_transformer``
(whether the multiview transformer tracker may use it) and ``out_channels``.

Pretrained weights are never silently replaced by a random initialisation: a missing weights
file raises :class:`PretrainedWeightsNotFoundError`, whose message says which file is missing,
where it must be put and where it can be downloaded from. Downloads are only attempted when
neither ``LP_OFFLINE`` nor ``HF_HUB_OFFLINE`` is switched on.
"""

import contextlib
import contextvars
import logging
import os
import pathlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

import safetensors.torch
import torch
from torch import Tensor, nn

from lightning_pose.registry import Registry

logger = logging.getLogger(__name__)

__all__ = [
    "BACKBONES",
    "BackboneBuilder",
    "MODEL_TYPES",
    "PretrainedWeightsNotFoundError",
    "UnsafeCheckpointError",
    "allow_unsafe_checkpoints",
    "is_offline",
    "torch_hub_checkpoint_path",
    "fetch_url_weights",
    "load_weights_file",
    "unwrap_state_dict",
]

MODEL_TYPES: tuple[str, ...] = ("heatmap", "regression")
FAMILIES: tuple[str, ...] = ("convnet", "transformer")

_TRUE_STRINGS = {"1", "true", "yes", "on"}
_HASH_IN_FILE_NAME = re.compile(r"-([a-f0-9]+)\.")


class BackboneBuilder(Protocol):
    """Call signature shared by every registered backbone builder."""

    def __call__(
        self,
        *,
        pretrained: bool,
        model_type: Literal["heatmap", "regression"],
        image_size: int,
        backbone_checkpoint: str | os.PathLike | None,
    ) -> tuple[nn.Module, int]: ...


BACKBONES: Registry[BackboneBuilder] = Registry("backbone")


class PretrainedWeightsNotFoundError(FileNotFoundError):
    """Pretrained weights were requested but no weights file could be found or downloaded."""


def is_offline() -> bool:
    """True when ``LP_OFFLINE`` or ``HF_HUB_OFFLINE`` is ``1`` (or ``true``/``yes``/``on``)."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE_STRINGS
        for var in ("LP_OFFLINE", "HF_HUB_OFFLINE")
    )


def torch_hub_checkpoint_path(url: str) -> pathlib.Path:
    """Where torch.hub (and therefore torchvision) caches the file downloaded from ``url``.

    The location is ``<torch.hub.get_dir()>/checkpoints/<file name of the URL>``; ``get_dir``
    honours ``TORCH_HOME`` at call time.
    """
    file_name = os.path.basename(urlparse(url).path)
    return pathlib.Path(torch.hub.get_dir()) / "checkpoints" / file_name


def _missing_weights_message(backbone: str, path: pathlib.Path, url: str, reason: str) -> str:
    return (
        f"pretrained weights for backbone {backbone!r} not found: {reason}. "
        f"Download {url} and save it as {path} "
        f"(or pass backbone_checkpoint=<path to that file>, or use pretrained=False)."
    )


def fetch_url_weights(backbone: str, url: str, check_hash: bool) -> pathlib.Path:
    """Return the local path of the weights file published at ``url``, downloading if allowed.

    The torch.hub cache (:func:`torch_hub_checkpoint_path`) is looked up first. When the file is
    absent it is downloaded there, unless :func:`is_offline`; ``check_hash`` verifies the hash
    prefix embedded in the file name (``name-<hex>.pth``) as torchvision does.

    Raises:
        PretrainedWeightsNotFoundError: the file is not cached and could not be downloaded.
    """
    path = torch_hub_checkpoint_path(url)
    if path.is_file():
        return path
    if is_offline():
        reason = f"{path} does not exist and downloads are disabled (LP_OFFLINE/HF_HUB_OFFLINE)"
        raise PretrainedWeightsNotFoundError(_missing_weights_message(backbone, path, url, reason))
    match = _HASH_IN_FILE_NAME.search(path.name) if check_hash else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        logger.info("downloading %s to %s", url, path)
        torch.hub.download_url_to_file(url, str(path), match.group(1) if match else None)
    except Exception as err:  # network errors, hash mismatch, unwritable cache
        reason = f"{path} does not exist and downloading it failed ({type(err).__name__}: {err})"
        raise PretrainedWeightsNotFoundError(
            _missing_weights_message(backbone, path, url, reason)
        ) from err
    return path


class UnsafeCheckpointError(RuntimeError):
    """A torch file that only loads with arbitrary unpickling, which was not allowed."""


_UNSAFE_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar("lp_unsafe_checkpoints", default=False)


@contextlib.contextmanager
def allow_unsafe_checkpoints(allowed: bool) -> Iterator[None]:
    """Inside the block, :func:`load_weights_file` may fall back to ``weights_only=False`` (the
    config key ``model.allow_unsafe_checkpoints``); outside it, it never does."""
    token = _UNSAFE_ALLOWED.set(bool(allowed))
    try:
        yield
    finally:
        _UNSAFE_ALLOWED.reset(token)


def load_weights_file(path: str | os.PathLike) -> Any:
    """Load a ``.safetensors`` file or a torch checkpoint onto the CPU.

    Torch files are read with ``weights_only=True``, which cannot run code stored in the file. A
    file that needs arbitrary unpickling raises :class:`UnsafeCheckpointError`, unless the caller
    allowed it (:func:`allow_unsafe_checkpoints`, i.e. ``model.allow_unsafe_checkpoints: true``):
    then it is loaded with ``weights_only=False`` after a warning.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        return safetensors.torch.load_file(str(path), device="cpu")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        if not _UNSAFE_ALLOWED.get():
            raise UnsafeCheckpointError(
                f"{path} cannot be read with torch.load(weights_only=True) ({type(err).__name__}: "
                f"{str(err).splitlines()[0]}); loading it needs arbitrary unpickling, which runs code "
                "stored in the file. If you trust this file, set model.allow_unsafe_checkpoints: true"
            ) from None
        logger.warning("loading %s with weights_only=False (model.allow_unsafe_checkpoints is true): "
                       "this runs code stored in the file", path)
        return torch.load(path, map_location="cpu", weights_only=False)


def unwrap_state_dict(obj: Any, source: str) -> dict[str, Tensor]:
    """Return the state dict inside a checkpoint object (``obj["state_dict"]`` if present)."""
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{source} does not contain a state dict (got {type(obj).__name__})")
    return dict(obj)
