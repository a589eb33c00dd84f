"""Semantic checks of a loaded config (LP's ``ModelConfig.validate`` and a few more).

:func:`load_config` already rejects unknown keys and wrongly typed values; the checks here are
about values that are well typed but unusable together (resize dims not multiples of 128, split
probabilities above 1, step and epoch fields mixed, ...). Each failure raises a
:class:`ConfigError` naming the dotted key.

Names that a family owns (model types, backbones, losses, augmentation presets) are checked by
that family: each registers a check in :data:`CONFIG_CHECKS` that asks its own registry, so a
newly registered model type or loss is accepted here with no other edit. Importing
:mod:`lightning_pose` imports every family, so the checks are always registered.
"""

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lightning_pose.config.errors import ConfigError
from lightning_pose.config.schema_ranges import VALUE_RANGES
from lightning_pose.config.schema_training import PRECISIONS
from lightning_pose.registry import Registry

__all__ = ["CONFIG_CHECKS", "check_if_semi_supervised", "is_multiview", "validate_config"]

# name -> check(cfg) raising ConfigError; filled by the families (models, losses, augmentations)
CONFIG_CHECKS: Registry[Callable[[DictConfig], None]] = Registry("config check")
_EPOCH_KEYS = (
    "training.min_epochs",
    "training.max_epochs",
    "training.unfreezing_epoch",
    "training.lr_scheduler_params.multisteplr.milestones",
)
_STEP_KEYS = (
    "training.min_steps",
    "training.max_steps",
    "training.unfreezing_step",
    "training.lr_scheduler_params.multisteplr.milestone_steps",
)


# ------------------------------------------------------------------------------------------
# value-kind helpers
# ------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_str_list(value: Any) -> bool:
    return _is_list(value) and len(value) > 0 and all(isinstance(v, str) for v in value)


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, throw_on_missing=True)


# ------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------



def check_if_semi_supervised(losses_to_use: Sequence[str] | None = None) -> bool:
    """False for None, ``[]`` or ``[""]``; True for any other content (names are not validated here)."""
    if losses_to_use is None:
        return False
    losses = list(losses_to_use)
    return not (len(losses) == 0 or losses == [""])

def is_multiview(cfg: DictConfig) -> bool:
    """True when ``data.view_names`` lists two or more views; a single view name is an error."""
    view_names = cfg.data.view_names
    if view_names is None:
        return False
    if len(view_names) == 1:
        raise ConfigError(
            "data.view_names", "give two or more views, or leave it null for single-view data"
        )
    return True


def validate_config(cfg: DictConfig) -> None:
    """Run every check on a config returned by :func:`load_config`; raise on the first failure.
    The families' checks (:data:`CONFIG_CHECKS`) run after the schema-level ones."""
    for check in _CHECKS:
        check(cfg)
    for name in CONFIG_CHECKS:
        CONFIG_CHECKS.get(name)(cfg)


# ------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------


def _check_required(cfg: DictConfig) -> None:
    for key in ("data.data_dir", "data.image_resize_dims.height", "data.image_resize_dims.width"):
        if _get(cfg, key) is None:
            raise ConfigError(key, "must be set (it is null)")


def _check_ranges(cfg: DictConfig) -> None:
    """Every numeric key within its declared range (``schema_ranges.VALUE_RANGES``); lists element-wise."""
    for key, valid in VALUE_RANGES.items():
        value = _get(cfg, key)
        listed = _is_list(value)
        for i, item in enumerate(value if listed else [value]):
            if _is_number(item) and not valid.contains(item):
                where = f"{key}[{i}]" if listed else key
                raise ConfigError(where, f"must be {valid.describe()}, got {item!r}")


def _check_keypoints(cfg: DictConfig) -> None:
    num = cfg.data.num_keypoints
    if num is None or num <= 0:
        raise ConfigError("data.num_keypoints", f"must be set to a positive int, got {num!r}")
    names = cfg.data.keypoint_names
    if names is not None and len(names) != num:
        raise ConfigError(
            "data.keypoint_names",
            f"{len(names)} names given but data.num_keypoints is {num}",
        )


def _check_resize_dims(cfg: DictConfig) -> None:
    for side in ("height", "width"):
        value = cfg.data.image_resize_dims[side]
        if value <= 0 or value % 128 != 0:
            raise ConfigError(
                f"data.image_resize_dims.{side}",
                f"must be a positive multiple of 128, got {value}",
            )


def _check_csv_and_views(cfg: DictConfig) -> None:
    csv_file = cfg.data.csv_file
    if not (isinstance(csv_file, str) or _is_str_list(csv_file)):
        raise ConfigError(
            "data.csv_file", f"expected a file name or a list of file names, got {csv_file!r}"
        )
    if not is_multiview(cfg):
        if _is_list(csv_file) and len(csv_file) > 1:
            raise ConfigError("data.csv_file", "several files given but data.view_names is null")
        if cfg.model.model_type == "heatmap_multiview_transformer":
            raise ConfigError(
                "model.model_type", "heatmap_multiview_transformer needs data.view_names"
            )
        return
    views = list(cfg.data.view_names)
    if not _is_list(csv_file) or len(csv_file) != len(views):
        raise ConfigError(
            "data.csv_file", f"expected one file per view {views}, got {csv_file!r}"
        )
    if cfg.training.imgaug_hflip:
        raise ConfigError(
            "training.imgaug_hflip", "horizontal flips are not supported for multiview data"
        )
    if cfg.model.model_type != "heatmap_multiview_transformer":
        warnings.warn(
            f"multiview data with model.model_type={cfg.model.model_type!r}; "
            "'heatmap_multiview_transformer' is the model made for several views",
            stacklevel=3,
        )


def _check_optional_files(cfg: DictConfig) -> None:
    bbox = cfg.data.bbox_file
    if bbox is not None and not (isinstance(bbox, str) or _is_str_list(bbox)):
        raise ConfigError("data.bbox_file", f"expected null, a file name or a list, got {bbox!r}")
    matches = cfg.data.mirrored_column_matches
    if matches is None:
        return
    flat = _is_list(matches) and all(_is_int(v) for v in matches)
    nested = _is_list(matches) and all(
        _is_list(row) and all(_is_int(v) for v in row) for row in matches
    )
    if not (flat or nested) or len(matches) == 0:
        raise ConfigError(
            "data.mirrored_column_matches",
            "expected a list of keypoint-index lists (one per view) or one flat list, "
            f"got {matches!r}",
        )


def _check_split(cfg: DictConfig) -> None:
    train, val = cfg.training.train_prob, cfg.training.val_prob
    if val is not None and train + val > 1.0 + 1e-9:
        raise ConfigError("training.val_prob", f"train_prob + val_prob = {train + val} exceeds 1")
    frames = cfg.training.train_frames
    if not _is_number(frames) or frames <= 0:
        raise ConfigError(
            "training.train_frames", f"expected a positive int or float, got {frames!r}"
        )


def _check_trainer_numbers(cfg: DictConfig) -> None:
    for key in ("training.val_check_interval", "training.limit_train_batches"):
        value = _get(cfg, key)
        if value is not None and (not _is_number(value) or value <= 0):
            raise ConfigError(key, f"expected null or a positive int/float, got {value!r}")
    ckpt, every = cfg.training.ckpt_every_n_epochs, cfg.training.check_val_every_n_epoch
    if ckpt is not None and every is not None and ckpt % every != 0:
        raise ConfigError(
            "training.ckpt_every_n_epochs",
            f"{ckpt} is not divisible by training.check_val_every_n_epoch={every}",
        )


def _check_speed_options(cfg: DictConfig) -> None:
    """``train_batch_size`` is an int >= 1 (its range) or ``auto``; ``precision`` one of
    :data:`PRECISIONS` (whether the device supports it is checked by the training pipeline)."""
    batch = cfg.training.train_batch_size
    if not (_is_int(batch) or batch == "auto"):
        raise ConfigError("training.train_batch_size", f"expected an int >= 1 or 'auto', got {batch!r}")
    if cfg.training.precision not in PRECISIONS:
        raise ConfigError(
            "training.precision", f"expected one of {list(PRECISIONS)}, got {cfg.training.precision!r}"
        )


def _check_training_mode(cfg: DictConfig) -> None:
    """Step mode (min/max_steps) and epoch mode (min/max_epochs) exclude each other."""
    step_mode = cfg.training.min_steps is not None or cfg.training.max_steps is not None
    required, forbidden = (_STEP_KEYS, _EPOCH_KEYS) if step_mode else (_EPOCH_KEYS, _STEP_KEYS)
    mode = "step" if step_mode else "epoch"
    for key in required:
        if _get(cfg, key) is None:
            raise ConfigError(key, f"must be set in {mode} mode (required: {list(required)})")
    for key in forbidden:
        if _get(cfg, key) is not None:
            raise ConfigError(
                key, f"must be null in {mode} mode (the other mode's keys: {list(forbidden)})"
            )
    last_key = "training.max_steps" if step_mode else "training.max_epochs"
    marks_key = required[3]
    last = _get(cfg, last_key)
    late = [m for m in _get(cfg, marks_key) if m > last]
    if late:
        raise ConfigError(marks_key, f"{late} exceed {last_key}={last}")


def _check_losses(cfg: DictConfig) -> None:
    for name, params in cfg.losses.items():
        weight = params.log_weight
        if not (_is_number(weight) or (weight is None and name.startswith("supervised_"))):
            raise ConfigError(f"losses.{name}.log_weight", f"expected a number, got {weight!r}")
        if "epsilon" in params and name.startswith("temporal"):
            _check_epsilon(f"losses.{name}.epsilon", params.epsilon)
        if "components_to_keep" in params:
            _check_components(f"losses.{name}.components_to_keep", params.components_to_keep)


def _check_epsilon(key: str, value: Any) -> None:
    numbers = _is_list(value) and len(value) > 0 and all(_is_number(v) for v in value)
    if not (_is_number(value) or numbers):
        raise ConfigError(
            key, f"expected a number or a list of numbers (one per keypoint), got {value!r}"
        )


def _check_components(key: str, value: Any) -> None:
    count = _is_int(value) and value >= 1
    fraction = isinstance(value, float) and 0.0 < value <= 1.0
    if not (count or fraction):
        raise ConfigError(
            key,
            f"expected an int >= 1 (components) or a float in (0, 1] (variance), got {value!r}",
        )


def _check_reprojection(cfg: DictConfig) -> None:
    """The 3-D reprojection loss runs only with 3-D augmentation of the ``dlc`` pipeline."""
    used = (
        cfg.losses.supervised_reprojection_heatmap_mse.log_weight is not None
        and "multiview" in cfg.model.model_type
        and cfg.data.camera_params_file is not None
    )
    if not used:
        return
    if cfg.training.imgaug not in ("dlc", "dlc-mv"):
        raise ConfigError(
            "training.imgaug",
            f"supervised_reprojection_heatmap_mse needs 'dlc', got {cfg.training.imgaug!r}",
        )
    if cfg.training.imgaug_3d is False:
        raise ConfigError("training.imgaug_3d", "supervised_reprojection_heatmap_mse needs true")


def _check_video_dirs(cfg: DictConfig) -> None:
    if check_if_semi_supervised(cfg.model.losses_to_use) and cfg.data.video_dir is None:
        raise ConfigError("data.video_dir", "must be set when model.losses_to_use is not empty")
    if cfg.eval.predict_vids_after_training and cfg.eval.test_videos_directory is None:
        raise ConfigError(
            "eval.test_videos_directory",
            "must be set when eval.predict_vids_after_training is true",
        )


_CHECKS = (
    _check_required,
    _check_ranges,
    _check_keypoints,
    _check_resize_dims,
    _check_csv_and_views,
    _check_optional_files,
    _check_split,
    _check_trainer_numbers,
    _check_speed_options,
    _check_training_mode,
    _check_losses,
    _check_reprojection,
    _check_video_dirs,
)
