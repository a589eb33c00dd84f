"""Tracker factory: model class lookup, build-time loss compatibility check, ``get_model``, checkpoints."""

import dataclasses
import glob
import logging
import os
import typing
from typing import Any, Literal

import torch
from omegaconf import DictConfig

from lightning_pose.config import CONFIG_CHECKS, ConfigError, check_if_semi_supervised, to_plain
from lightning_pose.losses.base import loss_required_keys
from lightning_pose.losses.factory import LossFactory
from lightning_pose.models.backbones import BACKBONES
from lightning_pose.models.backbones.base import allow_unsafe_checkpoints, load_weights_file
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS

__all__ = [
    "ALLOWED_MODEL_TYPES",
    "CheckpointLoadReport",
    "check_if_semi_supervised",
    "check_model_config",
    "get_model",
    "get_model_class",
    "load_checkpoint",
    "tracker_output_keys",
    "validate_loss_model_compatibility",
]

logger = logging.getLogger(__name__)



def __getattr__(name: str) -> Any:
    """``ALLOWED_MODEL_TYPES`` (Lightning Pose's public name): a ``Literal`` of the registered model
    types, built from the registry when asked for, so it always lists every registered type."""
    if name == "ALLOWED_MODEL_TYPES":
        return Literal[tuple(SUPERVISED_TRACKERS.names())]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@CONFIG_CHECKS.register("models")
def check_model_config(cfg: DictConfig) -> None:
    """``model.model_type`` is a registered tracker (semi-supervised when ``losses_to_use`` is not
    empty), ``model.backbone`` a registered backbone, and the downsample factor one the tracker
    takes (its registry metadata ``downsample_factors``, when it declares them)."""
    semi = check_if_semi_supervised(cfg.model.losses_to_use)
    registry = SEMI_SUPERVISED_TRACKERS if semi else SUPERVISED_TRACKERS
    model_type = cfg.model.model_type
    if model_type not in registry:
        kind = "semi-supervised " if semi else ""
        raise ConfigError("model.model_type", f"unknown {kind}model type {model_type!r}; allowed: {registry.names()}")
    if cfg.model.backbone not in BACKBONES:
        raise ConfigError("model.backbone", f"unknown backbone {cfg.model.backbone!r}; allowed: {BACKBONES.names()}")
    factors = registry.metadata(model_type).get("downsample_factors")
    if factors is not None and cfg.data.downsample_factor not in factors:
        raise ConfigError("data.downsample_factor", f"model.model_type {model_type} needs downsample_factor "
                          f"{' or '.join(map(str, factors))}, got {cfg.data.downsample_factor}")


def get_model_class(model_type: str, semi_supervised: bool) -> type:
    registry = SEMI_SUPERVISED_TRACKERS if semi_supervised else SUPERVISED_TRACKERS
    if model_type not in registry:
        kind = "semi-supervised" if semi_supervised else "fully supervised"
        raise NotImplementedError(
            f"{model_type} is an invalid model_type for a {kind} model; allowed: {registry.names()}"
        )
    return registry.get(model_type)


def tracker_output_keys(model_class: type, method: str) -> set[str]:
    """Keys of the TypedDict that ``model_class.<method>`` is annotated to return."""
    returned = typing.get_type_hints(getattr(model_class, method))["return"]
    return set(returned.__required_keys__) | set(returned.__optional_keys__)


def validate_loss_model_compatibility(
    model_class: type,
    loss_factory_supervised: LossFactory | None,
    loss_factory_unsupervised: LossFactory | None,
) -> None:
    """Raise ValueError when a configured loss needs an input the tracker does not produce."""
    checks = [(loss_factory_supervised, "get_loss_inputs_labeled")]
    if loss_factory_unsupervised is not None and hasattr(model_class, "get_loss_inputs_unlabeled"):
        checks.append((loss_factory_unsupervised, "get_loss_inputs_unlabeled"))
    elif loss_factory_unsupervised is not None and len(loss_factory_unsupervised.loss_instance_dict):
        raise ValueError(f"{model_class.__name__} is fully supervised but unsupervised losses were configured")
    for factory, method in checks:
        if factory is None:
            continue
        produced = tracker_output_keys(model_class, method)
        for name, loss in factory.loss_instance_dict.items():
            missing = loss_required_keys(type(loss)) - produced
            if missing:
                raise ValueError(
                    f"loss '{name}' requires {sorted(missing)}, but {model_class.__name__}.{method}() "
                    f"produces {sorted(produced)}"
                )


def _optimizer_kwargs(training_cfg: DictConfig) -> dict:
    scheduler = training_cfg.lr_scheduler
    scheduler_params = training_cfg.lr_scheduler_params.get(scheduler) if training_cfg.lr_scheduler_params else None
    return {
        "optimizer": training_cfg.optimizer,
        "optimizer_params": to_plain(training_cfg.optimizer_params),
        "lr_scheduler": scheduler,
        "lr_scheduler_params": to_plain(scheduler_params),
        "torch_seed": int(training_cfg.rng_seed_model_pt),
    }


def _tracker_kwargs(model_cfg: DictConfig, data_cfg: DictConfig, num_targets: int | None) -> dict:
    """Constructor arguments that depend on the model type (data_cfg: ``cfg.data``)."""
    model_type = model_cfg.model_type
    kwargs: dict = {
        "num_keypoints": int(data_cfg.num_keypoints),
        "backbone": model_cfg.backbone,
        "pretrained": bool(model_cfg.backbone_pretrained),
        "image_size": int(data_cfg.image_resize_dims.height),
    }
    if model_type == "regression":
        return kwargs
    kwargs["downsample_factor"] = int(data_cfg.downsample_factor)
    kwargs["backbone_checkpoint"] = model_cfg.backbone_checkpoint
    if model_type == "heatmap":
        kwargs["num_targets"] = num_targets
    if model_type == "heatmap_multiview_transformer":
        kwargs["num_views"] = len(data_cfg.view_names)
        kwargs["head"] = model_cfg.head
    return kwargs


def _check_vit_resize(model_cfg: DictConfig, data_cfg: DictConfig) -> None:
    if BACKBONES.metadata(model_cfg.backbone)["family"] == "transformer":
        dims = data_cfg.image_resize_dims
        if dims.height != dims.width:
            raise RuntimeError(
                f"ViT model requires resized height and width to be equal, got "
                f"data.image_resize_dims {dims.height}x{dims.width}"
            )


def get_model(cfg: DictConfig, data_module=None, loss_factories: dict | None = None):
    """Build the tracker that ``cfg.model.model_type`` and ``cfg.model.losses_to_use`` ask for."""
    loss_factories = loss_factories or {"supervised": None, "unsupervised": None}
    semi = check_if_semi_supervised(cfg.model.losses_to_use)
    _check_vit_resize(cfg.model, cfg.data)
    model_class = get_model_class(cfg.model.model_type, semi)
    validate_loss_model_compatibility(
        model_class, loss_factories["supervised"], loss_factories["unsupervised"] if semi else None
    )
    num_targets = data_module.dataset.num_targets if data_module is not None else None
    kwargs = {
        **_tracker_kwargs(cfg.model, cfg.data, num_targets),
        **_optimizer_kwargs(cfg.training),
        "loss_factory": loss_factories["supervised"],
    }
    if semi:
        kwargs["loss_factory_unsupervised"] = loss_factories["unsupervised"]
    with allow_unsafe_checkpoints(bool(cfg.model.allow_unsafe_checkpoints)):
        model = model_class(**kwargs)
        if cfg.model.checkpoint:
            load_checkpoint(model, cfg.model.checkpoint, strict=bool(cfg.model.checkpoint_strict))
    return model


@dataclasses.dataclass
class CheckpointLoadReport:
    """What a checkpoint load did: the file, and the keys that were not loaded."""

    path: str
    missing_keys: list[str]
    unexpected_keys: list[str]
    mismatched_keys: list[str]

    @property
    def complete(self) -> bool:
        return not (self.missing_keys or self.unexpected_keys or self.mismatched_keys)


def resolve_checkpoint_path(path: str) -> str:
    """A ``.ckpt`` file, or the best/newest ``.ckpt`` below a directory (raises if none)."""
    if path.endswith(".ckpt"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"checkpoint file not found: {path}")
        return path
    found = sorted(glob.glob(os.path.join(path, "**", "*.ckpt"), recursive=True))
    if not found:
        raise FileNotFoundError(f"no .ckpt file found under {path}")
    best = [p for p in found if p.endswith("-best.ckpt")]
    return max(best or found, key=os.path.getmtime)


def _read_state_dict(path: str) -> dict:
    checkpoint = load_weights_file(path)  # weights_only unless model.allow_unsafe_checkpoints
    state_dict = checkpoint.get("state_dict", checkpoint)
    # checkpoints from old Lightning Pose releases keep the head layers at the top level
    return {(f"head.{k}" if k.startswith("upsampling_layers.") else k): v for k, v in state_dict.items()}


def load_checkpoint(model: torch.nn.Module, path: str, strict: bool = True) -> CheckpointLoadReport:
    """Load weights into ``model``. Strict by default: any missing, unexpected or mis-shaped key raises.

    With ``strict=False`` every key whose name and shape match is loaded and the report (also
    logged) lists the keys that were skipped.
    """
    path = resolve_checkpoint_path(path)
    state_dict = _read_state_dict(path)
    own = model.state_dict()
    mismatched = sorted(k for k, v in state_dict.items() if k in own and own[k].shape != v.shape)
    report = CheckpointLoadReport(
        path=path,
        missing_keys=sorted(set(own) - set(state_dict)),
        unexpected_keys=sorted(set(state_dict) - set(own)),
        mismatched_keys=mismatched,
    )
    if strict and not report.complete:
        raise RuntimeError(
            f"checkpoint {path} does not match {type(model).__name__}: "
            f"missing {report.missing_keys[:10]}, unexpected {report.unexpected_keys[:10]}, "
            f"shape mismatch {report.mismatched_keys[:10]} (set model.checkpoint_strict=false "
            f"to load the matching keys only)"
        )
    loadable = {k: v for k, v in state_dict.items() if k in own and k not in mismatched}
    model.load_state_dict(loadable, strict=strict)
    if not report.complete:
        logger.warning(
            f"partial checkpoint load from {path}: skipped missing={report.missing_keys}, "
            f"unexpected={report.unexpected_keys}, shape-mismatched={report.mismatched_keys}"
        )
    return report
