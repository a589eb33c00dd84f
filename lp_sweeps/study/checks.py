"""Checks of a study's config side against the Lightning Pose schema and ``validate_config``.

Keys and value types come from the config schema (:mod:`lightning_pose.config.introspect`); the
names a value may take (model types, losses, backbones, augmentation presets) come from the
registries through ``validate_config``, so a newly registered model type or loss is accepted by
studies with no other edit. :func:`check_candidates` sets every ``choice`` / ``grid`` value and
both ends of every range *alone* on the base config and validates it, so a value Lightning Pose
would reject is reported before any trial starts.
"""

import copy
import warnings
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from lightning_pose.config.introspect import allowed_keys, describe_type, field_type, is_group, unwrap_optional
from lightning_pose.config.schema import LightningPoseConfig
from lp_sweeps.study.compose import apply_budget, apply_value, validate_trial_config
from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.space import Parameter, check_groups, fits_type, render_value

__all__ = ["BUDGET_KEYS", "check_candidates", "check_parameter", "flatten_overrides", "leaf_type"]

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
        hint = "; use {int: [low, high]} or {choice: [...]}" if unwrap_optional(tp)[0] is int else ""
        raise StudyError(f"{where}.{p.kind}", f"gives {render_value(bad[0])}, but the field takes "
                         f"{describe_type(tp)}{per}{hint}")


def check_candidates(reference: DictConfig, parameters: tuple, num_keypoints: int, max_epochs: int) -> None:
    """The base config, then each option / range end of each parameter alone on it, must validate."""
    budgeted = copy.deepcopy(reference)
    apply_budget(budgeted, max_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate_trial_config(budgeted, "the base config with overrides")
        for p in parameters:
            for value in p.candidates():
                value = value if p.groups is None else [value] * num_keypoints
                cfg = copy.deepcopy(budgeted)
                apply_value(cfg, p.key, value, f"parameters.{p.key}")
                apply_budget(cfg, max_epochs)
                validate_trial_config(cfg, f"parameters.{p.key}={render_value(value)}")
