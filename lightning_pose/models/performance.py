"""Speed options of a built model: channels_last memory format and ``torch.compile``.

Neither changes what the model computes (up to floating-point reordering): channels_last stores
conv weights and the backbone's input images as NHWC, which oneDNN / cuDNN convolutions prefer;
``compile`` compiles the backbone's forward in place (``nn.Module.compile``), so parameter names,
checkpoints and ``state_dict`` keys stay those of the eager model. Lightning Pose has neither.
"""

import logging

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["apply_speed_options", "is_channels_last", "to_channels_last"]

logger = logging.getLogger(__name__)


def to_channels_last(images: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """4-D image batches in channels_last layout; other tensors (5-D context stacks are
    reshaped to 4-D by the trackers before the backbone) unchanged."""
    if images.ndim == 4:
        return images.contiguous(memory_format=torch.channels_last)
    return images


def _inputs_to_channels_last(module: nn.Module, args: tuple) -> tuple:
    if args and isinstance(args[0], Tensor):
        return (to_channels_last(args[0]),) + tuple(args[1:])
    return args


def is_channels_last(module: nn.Module) -> bool:
    """True when every 4-D weight (conv kernels) of ``module`` is stored channels_last."""
    weights = [p for p in module.parameters() if p.ndim == 4]
    return bool(weights) and all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)


def apply_speed_options(model: nn.Module, channels_last: bool = False, compile: bool = False) -> nn.Module:
    """Apply ``training.channels_last`` / ``training.compile`` to a tracker (in place; returned).

    Both act on the modules through which the forward pass runs the backbone (the tracker's
    ``backbone_entry_modules``: the backbone itself, or for the multiview transformer the ViT's
    patch embedding and blocks, which it calls directly). channels_last converts every 4-D weight
    and, through forward pre-hooks on those modules, every 4-D image batch entering them (labeled
    frames, unlabeled clips, context frames, views). compile compiles them, where nearly all the
    compute is; the heads stay eager (their shapes vary between labeled and unlabeled batches,
    which would recompile)."""
    entry_modules = getattr(model, "backbone_entry_modules", None)
    if entry_modules is None:
        raise TypeError(f"{type(model).__name__} has no backbone; speed options apply to trackers")
    modules = entry_modules()
    if channels_last:
        model.to(memory_format=torch.channels_last)
        for module in modules:
            module.register_forward_pre_hook(_inputs_to_channels_last)
        logger.info("channels_last memory format for the model and the backbone's input images")
    if compile:
        for module in modules:
            module.compile()
        logger.info("backbone compiled with torch.compile (the first steps include compilation)")
    return model
