"""Shared machinery of every loss: weighting, epsilon rectification, reduction and log entries.

Each loss is a parameter-free :class:`lightning.pytorch.LightningModule`. Its scalar settings
(``epsilon``, ``log_weight``, ...) are non-persistent buffers: they follow ``.to(device)`` but
never appear in a state dict, so a Lightning Pose checkpoint loads with ``strict=True``.

A loss is called with keyword tensors and returns ``(unweighted scalar loss, log entries)``;
the :class:`~lightning_pose.losses.factory.LossFactory` applies ``weight`` (and annealing).
"""

import inspect
from collections.abc import Sequence
from typing import ClassVar, Literal

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lightning_pose.registry import Registry

__all__ = ["LOSSES", "Loss", "Number", "Stage", "loss_required_keys", "mean_or_graph_zero"]

Stage = Literal["train", "val", "test"]
Number = float | int


def _as_float_tensor(value: Number | Sequence[Number], name: str) -> Tensor:
    """A float32 tensor from a scalar or a (possibly OmegaConf) sequence of scalars."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=torch.float)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return torch.tensor([float(v) for v in value], dtype=torch.float)
    raise ValueError(f"{name} must be a number or a list of numbers, got {value!r}")


def mean_or_graph_zero(loss: Float[Tensor, "..."]) -> Float[Tensor, ""]:
    """Mean of ``loss``; an empty tensor gives a zero still attached to the autograd graph."""
    return loss.mean() if loss.numel() > 0 else loss.sum()


class Loss(pl.LightningModule):
    """Base loss: holds ``epsilon`` and ``log_weight``; subclasses implement the computation.

    Args:
        data_module: data access for losses that fit parameters on training data (PCA).
        epsilon: loss values below epsilon are zeroed (scalar, or one value per keypoint).
        log_weight: the term's weight in the objective is ``1 / (2 * exp(log_weight))``.
    """

    loss_name: ClassVar[str] = "base"
    supervised: ClassVar[bool] = False

    def __init__(
        self,
        data_module: object | None = None,
        epsilon: Number | Sequence[Number] = 0.0,
        log_weight: Number = 0.0,
        **kwargs,
    ) -> None:
        super().__init__()
        self.data_module = data_module
        self.register_buffer("epsilon", _as_float_tensor(epsilon, "epsilon"), persistent=False)
        self.register_buffer(
            "log_weight", _as_float_tensor(log_weight, "log_weight"), persistent=False
        )

    @property
    def weight(self) -> Float[Tensor, ""]:
        """Multiplier of this term in the total loss: ``1 / (2 * exp(log_weight))``."""
        return 1.0 / (2.0 * torch.exp(self.log_weight))

    def remove_nans(self, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement remove_nans")

    def compute_loss(self, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_loss")

    def rectify_epsilon(self, loss: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
        """``relu(loss - epsilon)``: values within epsilon of zero cost nothing."""
        return F.relu(loss - self.epsilon)

    def reduce_loss(
        self, loss: Float[Tensor, "..."], method: Literal["mean", "sum"] = "mean"
    ) -> Float[Tensor, ""]:
        if method == "mean":
            return torch.mean(loss)
        if method == "sum":
            return torch.sum(loss)
        raise ValueError(f"reduce method must be 'mean' or 'sum', got {method!r}")

    def log_loss(self, loss: Float[Tensor, ""], stage: Stage | None) -> list[dict]:
        """Log entries ``{stage}_{loss_name}_loss`` (progress bar) and ``{loss_name}_weight``."""
        return [
            {"name": f"{stage}_{self.loss_name}_loss", "value": loss, "prog_bar": True},
            {"name": f"{self.loss_name}_weight", "value": self.weight},
        ]

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")


LOSSES: Registry[type[Loss]] = Registry("loss")


def loss_required_keys(loss_cls: type[Loss]) -> set[str]:
    """Keyword inputs a loss needs: ``__call__`` parameters without a default.

    ``self``, ``stage`` and ``*args`` / ``**kwargs`` are not counted.
    """
    skipped_kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name
        for name, param in inspect.signature(loss_cls.__call__).parameters.items()
        if name not in ("self", "stage")
        and param.kind not in skipped_kinds
        and param.default is inspect.Parameter.empty
    }
