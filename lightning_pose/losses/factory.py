"""Loss factories: build the configured losses and combine them into one weighted total.

A :class:`LossFactory` holds one loss per name (registry :data:`LOSSES`) and returns
``sum(anneal * weight * loss)``, where ``anneal`` is the annealing weight for unsupervised
losses and 1 for supervised ones. :func:`get_loss_factories` builds the supervised and the
unsupervised factory of a model from the ``model``, ``data`` and ``losses`` config sections.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from jaxtyping import Float
from omegaconf import DictConfig
from torch import Tensor, nn

# the family modules register their losses in LOSSES on import
from lightning_pose.losses import heatmap, multiview_3d, pca, regression, temporal  # noqa: F401
from lightning_pose.config import CONFIG_CHECKS, ConfigError, to_plain
from lightning_pose.losses.base import LOSSES, Loss, Stage

__all__ = [
    "LossFactory",
    "build_supervised_loss_params",
    "build_unsupervised_loss_params",
    "expand_column_matches",
    "per_view_epsilon",
    "check_loss_config",
    "get_loss_classes",
    "get_loss_factories",
    "losses_of_kind",
]


def get_loss_classes() -> dict[str, type[Loss]]:
    """Mapping ``loss name -> loss class`` of every registered loss."""
    return {name: LOSSES.get(name) for name in LOSSES}


def losses_of_kind(kind: str) -> list[str]:
    """Registered losses of one kind: ``unsupervised`` (for ``model.losses_to_use``) or ``heatmap``
    (``heatmap_<model.heatmap_loss_type>``)."""
    return [name for name in LOSSES if LOSSES.metadata(name).get("kind") == kind]


@CONFIG_CHECKS.register("losses")
def check_loss_config(cfg: DictConfig) -> None:
    """``model.losses_to_use`` names registered unsupervised losses; ``model.heatmap_loss_type``
    names a registered heatmap loss."""
    allowed = losses_of_kind("unsupervised")
    for i, name in enumerate(cfg.model.losses_to_use or []):
        if name not in allowed:
            raise ConfigError(f"model.losses_to_use[{i}]", f"unknown loss {name!r}; allowed: {allowed}")
    heatmap_types = [name.removeprefix("heatmap_") for name in losses_of_kind("heatmap")]
    if cfg.model.heatmap_loss_type not in heatmap_types:
        raise ConfigError("model.heatmap_loss_type", f"unknown {cfg.model.heatmap_loss_type!r}; allowed: {heatmap_types}")


class LossFactory(pl.LightningModule):
    """One instance per configured loss; calling it returns the weighted total and log entries.

    Args:
        losses_params_dict: ``{loss name: constructor kwargs}``; each loss is built as
            ``LOSSES.get(name)(data_module=data_module, loss_name=name, **kwargs)``.
        data_module: passed to every loss (the PCA losses fit on its training labels).
    """

    def __init__(
        self, losses_params_dict: Mapping[str, Mapping[str, Any]], data_module: object | None
    ) -> None:
        super().__init__()
        self.losses_params_dict = {
            name: dict(params) for name, params in losses_params_dict.items()
        }
        self.data_module = data_module
        self.loss_instance_dict = nn.ModuleDict(
            {
                name: LOSSES.get(name)(data_module=data_module, **{"loss_name": name, **params})
                for name, params in self.losses_params_dict.items()
            }
        )

    def __call__(
        self,
        stage: Stage | None = None,
        anneal_weight: float | int | Tensor | None = 1.0,
        **kwargs,
    ) -> tuple[Float[Tensor, ""], list[dict]]:
        """Total ``sum(anneal * weight * loss)``; ``anneal`` is 1 for supervised losses or None.

        ``kwargs`` are the model's loss inputs; each loss takes the ones it needs. Logs are every
        loss's own entries plus ``{stage}_{name}_loss_weighted`` (= weight * loss).
        """
        total = None
        logs: list[dict] = []
        for name, loss in self.loss_instance_dict.items():
            value, loss_logs = loss(stage=stage, **kwargs)
            weighted = loss.weight * value
            anneal = 1.0 if anneal_weight is None or loss.supervised else anneal_weight
            scaled = anneal * weighted
            total = scaled if total is None else total + scaled
            logs += loss_logs + [{"name": f"{stage}_{name}_loss_weighted", "value": weighted}]
        return (torch.zeros(()) if total is None else total), logs


def expand_column_matches(
    mirrored_column_matches: Sequence | None, num_views: int, num_keypoints: int | None
) -> Sequence | None:
    """A flat per-view match list of a ``num_views > 1`` dataset -> one index list per view.

    View ``v`` gets ``[v * num_keypoints + i for i in matches]`` (``num_keypoints`` per view);
    nested lists, single-view data and None are returned unchanged.
    """
    if num_views <= 1 or not mirrored_column_matches:
        return mirrored_column_matches
    if not all(isinstance(i, int) for i in mirrored_column_matches):
        return mirrored_column_matches
    if num_keypoints is None:
        raise ValueError("data.num_keypoints is needed to expand data.mirrored_column_matches")
    return [[v * num_keypoints + i for i in mirrored_column_matches] for v in range(num_views)]


def per_view_epsilon(epsilon: Any, num_views: int, num_keypoints: int | None) -> Any:
    """A per-keypoint epsilon list of one view (``num_keypoints`` values) on ``num_views > 1``
    data, whose trackers predict ``num_views * num_keypoints`` keypoints: the list repeated per
    view. Scalars, single-view data and full-length lists are returned unchanged."""
    if num_views <= 1 or not isinstance(epsilon, (list, tuple)) or len(epsilon) != num_keypoints:
        return epsilon
    return list(epsilon) * num_views


def build_multiview_3d_loss_params(data_cfg: DictConfig, losses_cfg: DictConfig) -> dict[str, dict]:
    """The supervised 3-D losses whose ``log_weight`` is set (multiview with camera params)."""
    params: dict[str, dict] = {}
    pairwise_log_weight = losses_cfg.supervised_pairwise_projections.log_weight
    if pairwise_log_weight is not None:
        params["supervised_pairwise_projections"] = {"log_weight": pairwise_log_weight}
    reprojection_log_weight = losses_cfg.supervised_reprojection_heatmap_mse.log_weight
    if reprojection_log_weight is not None:
        height, width = data_cfg.image_resize_dims.height, data_cfg.image_resize_dims.width
        scale = 2**data_cfg.downsample_factor
        params["supervised_reprojection_heatmap_mse"] = {
            "log_weight": reprojection_log_weight,
            "original_image_height": int(height),
            "original_image_width": int(width),
            "downsampled_image_height": int(height // scale),
            "downsampled_image_width": int(width // scale),
        }
    return params


def build_supervised_loss_params(
    model_cfg: DictConfig, data_cfg: DictConfig, losses_cfg: DictConfig
) -> dict[str, dict]:
    """``heatmap_<heatmap_loss_type>`` (+ 3-D losses) for heatmap models, else ``regression``."""
    model_type = model_cfg.model_type
    if "heatmap" not in model_type:
        return {model_type: {"log_weight": 0.0}}
    params = {f"heatmap_{model_cfg.heatmap_loss_type}": {"log_weight": 0.0}}
    if "multiview" in model_type and data_cfg.camera_params_file:
        params.update(build_multiview_3d_loss_params(data_cfg, losses_cfg))
    return params


def build_unsupervised_loss_params(
    model_cfg: DictConfig, data_cfg: DictConfig, losses_cfg: DictConfig
) -> dict[str, dict]:
    """One entry per ``model.losses_to_use``: ``losses.<name>`` plus data-derived arguments.

    Raises:
        ValueError: unknown loss name (lists the registered names).
        KeyError: a listed loss without a ``losses.<name>`` section.
        NotImplementedError: ``pca_singleview`` with several views; heatmap-temporal losses
            with a regression model.
    """
    view_names = data_cfg.view_names
    num_views = len(view_names) if view_names else 1
    params: dict[str, dict] = {}
    for name in model_cfg.losses_to_use or []:
        LOSSES.get(name)  # unknown names raise, listing the allowed ones
        if name not in losses_cfg:
            raise KeyError(
                f"loss {name!r} is in model.losses_to_use but cfg.losses has no {name!r} section "
                f"(sections: {sorted(losses_cfg)})"
            )
        loss_params = dict(to_plain(losses_cfg[name]) or {})
        loss_params["loss_name"] = name
        if name == "pca_multiview":
            loss_params["mirrored_column_matches"] = expand_column_matches(
                to_plain(data_cfg.mirrored_column_matches), num_views, data_cfg.num_keypoints
            )
        elif name == "pca_singleview":
            if num_views > 1:
                raise NotImplementedError(
                    "the pca_singleview loss is not implemented for multiview data "
                    f"(data.view_names={list(view_names)})"
                )
            loss_params["columns_for_singleview_pca"] = to_plain(data_cfg.columns_for_singleview_pca)
        elif name.startswith("temporal"):
            loss_params["epsilon"] = per_view_epsilon(loss_params.get("epsilon", 0.0), num_views, data_cfg.num_keypoints)
        if name.startswith("temporal_heatmap") and model_cfg.model_type == "regression":
            raise NotImplementedError(f"{name} needs heatmaps; the regression model has none")
        params[name] = loss_params
    return params


def get_loss_factories(cfg: DictConfig, data_module: object | None) -> dict[str, LossFactory]:
    """``{"supervised": LossFactory, "unsupervised": LossFactory}`` for the configured model."""
    supervised = build_supervised_loss_params(cfg.model, cfg.data, cfg.losses)
    unsupervised = build_unsupervised_loss_params(cfg.model, cfg.data, cfg.losses)
    return {
        "supervised": LossFactory(supervised, data_module),
        "unsupervised": LossFactory(unsupervised, data_module),
    }
