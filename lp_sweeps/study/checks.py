"""Checks of a study's config side against the Lightning Pose schema and ``validate_config``.

Keys and value types come from the config schema (:mod:`lightning_pose.config.introspect`); the
names a value may take (model types, losses, backbones, augmentation presets) come from the
registries through ``validate_config``, so a newly registered model type or loss is accepted by
studies with no other edit. :func:`check_candidates` sets every ``choice`` / ``grid`` value and
both ends of every range *alone* on the base config and validates it, so a value Lightning Pose
would reject is reported before any trial starts.
"""

import copy
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig

from lightning_pose.config.introspect import (
    IntOrWord, allowed_keys, describe_type, field_type, is_group, unwrap_optional,
)
from lightning_pose.config.schema import LightningPoseConfig
from lightning_pose.data.utils import split_sizes_from_probabilities
from lp_sweeps.study.compose import apply_budget, apply_value, validate_trial_config
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.space import Parameter, check_groups, fits_type, render_value, sample_space

__all__ = [
    "BUDGET_KEYS", "MAX_COMBINATIONS", "check_candidates", "check_clashes", "check_combinations", "check_parameter",
    "check_precision_devices", "check_train_frames", "flatten_overrides", "leaf_type",
]

MAX_COMBINATIONS = 4096  # choice/grid combinations checked together at load (beyond: each value alone)

BUDGET_KEYS = ("training.max_epochs", "training.min_epochs")


def leaf_type(key: str, where: str) -> Any:
    """Schema type of a dotted key that holds a value; unknown keys and groups raise."""
    tp = field_type(key) if key and "[" not in key else None
    if tp is not None and is_group(tp):
        keys = allowed_keys(unwrap_optional(tp)[0])
        raise StudyError(where, f"is a group, not a value; use one of its keys: {keys}")
    parts = key.split(".")
    while tp is None:  # report the deepest known group above the key (at worst the top level)
        parts.pop()
        group = field_type(".".join(parts)) if parts else LightningPoseConfig
        if group is not None and is_group(group):
            level = f"'{'.'.join(parts)}'" if parts else "the top level"
            keys = allowed_keys(unwrap_optional(group)[0])
            raise StudyError(where, f"not a Lightning Pose config key; allowed keys at {level}: {keys}")
    return tp


def flatten_overrides(raw: Any, prefix: str = "") -> dict:
    """``{training: {max_epochs: 6}}`` or ``{training.max_epochs: 6}`` -> dotted leaf keys."""
    if not isinstance(raw, Mapping):
        raise StudyError(f"overrides{prefix}", f"expected a mapping, got {raw!r}")
    flat: dict = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}".lstrip(".")
        if is_group(field_type(dotted)) and isinstance(value, Mapping):
            flat.update(flatten_overrides(value, f".{dotted}"))
            continue
        tp = leaf_type(dotted, f"overrides.{dotted}")
        if not fits_type(tp, value):
            raise StudyError(f"overrides.{dotted}", f"expected {describe_type(tp)}, got {value!r}")
        flat[dotted] = value
    return flat


def check_parameter(p: Parameter, num_keypoints: int, overrides: Mapping[str, Any]) -> None:
    """The key exists and holds a value, is not fixed elsewhere, and every value fits its type."""
    where = f"parameters.{p.key}"
    tp = leaf_type(p.key, where)
    if p.key in BUDGET_KEYS:
        raise StudyError(where, "is set by budget.max_epochs (the schedulers' time axis); not searchable")
    if p.key in overrides:
        raise StudyError(where, "is also fixed in overrides; keep one of the two")
    examples = p.candidates()
    if p.groups is not None:
        check_groups(p.groups, num_keypoints, f"{where}.per_keypoint_groups")
        examples = [[e] * num_keypoints for e in examples]
    bad = [e for e in examples if not fits_type(tp, e)]
    if bad:
        per = " (one value per keypoint)" if p.groups else ""
        inner = unwrap_optional(tp)[0]
        hint = "; use {int: [low, high]} or {choice: [...]}" if inner is int or isinstance(inner, IntOrWord) else ""
        raise StudyError(f"{where}.{p.kind}", f"gives {render_value(bad[0])}, but the field takes "
                         f"{describe_type(tp)}{per}{hint}")


def check_clashes(cfg: DictConfig, max_epochs: int, what: str) -> None:
    """Values that would make a sweep trial silently wrong under the epoch budget."""
    every = cfg.training.check_val_every_n_epoch or 1
    if every > max_epochs:
        raise StudyError("training.check_val_every_n_epoch", f"{what}: validates every {every} epochs but a trial "
                         f"trains budget.max_epochs={max_epochs}: no validation epoch, so no objective to report")
    if cfg.training.val_check_interval not in (None, 1, 1.0):
        raise StudyError("training.val_check_interval", f"{what}: {cfg.training.val_check_interval}; sweep trials "
                         "report once per validation epoch: use training.check_val_every_n_epoch, and null here")
    anneal = cfg.callbacks.anneal_weight
    delayed = anneal.freeze_until_epoch > 0  # 0 is the earliest: a 1-epoch trial trains with init_val then
    if cfg.model.losses_to_use and anneal.init_val == 0 and delayed and anneal.freeze_until_epoch >= max_epochs - 1:
        raise StudyError("callbacks.anneal_weight.freeze_until_epoch", f"{what}: {anneal.freeze_until_epoch} >= "
                         f"budget.max_epochs - 1 ({max_epochs - 1}), so the unsupervised losses "
                         f"{list(cfg.model.losses_to_use)} would keep weight init_val=0 in every epoch; set it "
                         "below budget.max_epochs - 1 in overrides (e.g. 0)")


def _check(cfg: DictConfig, max_epochs: int, what: str) -> None:
    apply_budget(cfg, max_epochs)
    validate_trial_config(cfg, what)
    check_clashes(cfg, max_epochs, what)


def check_candidates(reference: DictConfig, parameters: tuple, num_keypoints: int, max_epochs: int) -> None:
    """The base config, then each option / range end of each parameter alone on it, must validate
    and fit the epoch budget."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(copy.deepcopy(reference), max_epochs, "the base config with overrides")
        for p in parameters:
            for value in p.candidates():
                value = value if p.groups is None else [value] * num_keypoints
                cfg = copy.deepcopy(reference)
                apply_value(cfg, p.key, value, f"parameters.{p.key}")
                _check(cfg, max_epochs, f"parameters.{p.key}={render_value(value)}")


class _LowEnds:
    """A suggester that takes the low end of every range (choices are fixed by the caller)."""

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[0]

    def uniform(self, name: str, low: float, high: float) -> float:
        return low

    def loguniform(self, name: str, low: float, high: float) -> float:
        return low

    def integer(self, name: str, low: int, high: int, step: int) -> int:
        return low


def check_combinations(reference: DictConfig, parameters: tuple, base_values: Mapping[str, Any],
                       max_epochs: int) -> int:
    """Every combination of the choice / grid values a trial can get (conditions applied), set
    together on the base config, must validate: a pair such as ``heatmap_mhcrnn`` with
    ``downsample_factor: 3`` is refused now, naming the combination, rather than in a trial.
    Returns the number of configs checked (0 when there are more than :data:`MAX_COMBINATIONS`)."""
    categorical = [p for p in parameters if p.kind in ("choice", "grid") and p.groups is None]
    if len(categorical) < 2 or math.prod(len(p.values) for p in categorical) > MAX_COMBINATIONS:
        return 0
    seen: list[dict] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for combo in itertools.product(*(p.values for p in categorical)):
            sampled = sample_space(parameters, _LowEnds(), base_values, dict(zip((p.key for p in categorical), combo)))
            if sampled in seen:
                continue
            seen.append(sampled)
            cfg = copy.deepcopy(reference)
            for key, value in sampled.items():
                apply_value(cfg, key, value, f"parameters.{key}")
            chosen = {p.key: sampled[p.key] for p in categorical if p.key in sampled}
            _check(cfg, max_epochs, f"the combination {render_value(chosen)} (add a `when:` condition to "
                   "leave it out)")
    return len(seen)


def check_train_frames(reference: DictConfig, parameters: tuple, num_frames: int) -> None:
    """Every ``training.train_frames`` count a trial can get fits the training split of the
    ``num_frames`` labeled frames (checked once the data is known, before Ray starts)."""
    searched = [p for p in parameters if p.key == "training.train_frames"]
    values = searched[0].candidates() if searched else [reference.training.train_frames]
    training = reference.training
    num_train = split_sizes_from_probabilities(num_frames, training.train_prob, training.val_prob)[0]
    for value in values:
        if isinstance(value, (int, float)) and value > 1 and value > num_train:
            where = "parameters.training.train_frames" if searched else "training.train_frames"
            raise StudyError(where, f"{value} frames asked for, but the training split of the {num_frames} "
                             f"labeled frames has {num_train} (training.train_prob={training.train_prob})")


def check_precision_devices(reference: DictConfig, parameters: tuple, gpus: float) -> None:
    """``training.precision: 16-mixed`` (base config or any searched value) needs a GPU per trial:
    the training pipeline refuses it on CPU, so a CPU study is refused now instead of trial by trial."""
    if gpus > 0:
        return
    searched = [p for p in parameters if p.key == "training.precision"]
    values = searched[0].candidates() if searched else [reference.training.precision]
    if "16-mixed" in values:
        where = "parameters.training.precision" if searched else "training.precision"
        raise StudyError(where, "16-mixed needs a CUDA GPU per trial, but resources.gpus is 0; use 'bf16-mixed' "
                         "or '32' on CPU, or give the trials GPUs")
