"""A trial's config: the base config, then the study's ``overrides``, then the sampled values,
then the epoch budget (``training.max_epochs`` / ``min_epochs`` = ``budget.max_epochs``,
milestones beyond it clamped, ``unfreezing_epoch`` at most ``max_epochs - 1``), validated.

The base config is never read from a file here: a study holds its contents
(:attr:`~lp_sweeps.study.sections.Study.base`), and the demo projects' configs are built in memory
exactly as :func:`lightning_pose.data.demo.generate_demo_data` writes them.
"""

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lightning_pose.config import ConfigError, load_config, validate_config
from lightning_pose.data.demo import demo_project_config, generate_demo_data
from lp_sweeps.study.errors import StudyError, study_source
from lp_sweeps.study.sections import Study
from lp_sweeps.study.space import check_groups, render_value

__all__ = [
    "DEMO_BASES", "apply_budget", "apply_value", "base_config", "base_with_overrides", "compose_trial_config",
    "prepare_demo_project", "validate_trial_config",
]

# demo base -> the config file lightning_pose.data.demo.generate_demo_data writes
DEMO_BASES = {"demo": "config.yaml", "demo_two_views": "config_multiview.yaml"}
_PLACEHOLDER_DEMO_DIR = Path("<demo_dir>")


def apply_value(cfg: DictConfig, key: str, value: Any, where: str) -> None:
    try:
        OmegaConf.update(cfg, key, copy.deepcopy(value), merge=False)
    except OmegaConfBaseException as err:
        raise StudyError(where, f"cannot set {key}={render_value(value)}: {err.msg}") from None


def apply_budget(cfg: DictConfig, max_epochs: int) -> None:
    """min/max_epochs = max_epochs; milestones beyond it and ``unfreezing_epoch`` clamped."""
    training = cfg.training
    training.max_epochs = training.min_epochs = max_epochs
    if training.unfreezing_epoch is not None:
        training.unfreezing_epoch = min(training.unfreezing_epoch, max(max_epochs - 1, 0))
    schedule = training.lr_scheduler_params.multisteplr
    if schedule.milestones is not None:
        kept = [m for m in schedule.milestones if m < max_epochs]
        schedule.milestones = kept + [max_epochs] if len(kept) < len(schedule.milestones) else kept


def validate_trial_config(cfg: DictConfig, what: str) -> None:
    try:
        validate_config(cfg)
    except ConfigError as err:
        raise StudyError(err.key, f"{what} gives an invalid config: {err.detail}") from None


def _base_source(base_config: str, base: Optional[Mapping], demo_dir: Optional[str]) -> tuple[Mapping, str]:
    """The base config's contents and the name errors give it."""
    if base_config in DEMO_BASES:
        folder = _PLACEHOLDER_DEMO_DIR if demo_dir is None else Path(demo_dir)
        if demo_dir is not None and not (folder / DEMO_BASES[base_config]).is_file():
            raise StudyError("base_config", f"{folder / DEMO_BASES[base_config]} not found "
                             "(prepare_demo_project writes the demo project)")
        return demo_project_config(folder, base_config == "demo_two_views"), f"{base_config} ({DEMO_BASES[base_config]})"
    if base is None:
        raise StudyError("base_config", f"{base_config}: the study holds no contents for this base config")
    return base, base_config


def base_with_overrides(base_config: str, base: Optional[Mapping], overrides: Mapping[str, Any],
                        demo_dir: Optional[str]) -> DictConfig:
    """The base config with the overrides applied. A demo without ``demo_dir`` gets placeholder
    paths (what study validation checks against)."""
    contents, name = _base_source(base_config, base, demo_dir)
    try:
        cfg = load_config(contents, source_name=name)
    except ConfigError as err:
        raise StudyError("base_config", str(err)) from None
    for key, value in overrides.items():
        apply_value(cfg, key, value, f"overrides.{key}")
    if cfg.training.max_steps is not None or cfg.training.min_steps is not None:
        raise StudyError("training.max_steps", "sweeps count epochs; set min_steps, max_steps, unfreezing_step "
                         "and multisteplr.milestone_steps to null in overrides")
    return cfg


def prepare_demo_project(study: Study, demo_dir: Union[str, os.PathLike]) -> Path:
    """Write the demo project of a ``demo`` / ``demo_two_views`` study into ``demo_dir`` unless its
    config file is there already; returns that config file."""
    if study.base_config not in DEMO_BASES:
        raise StudyError("base_config", f"is a file, not one of {list(DEMO_BASES)}", study.path)
    config = Path(demo_dir) / DEMO_BASES[study.base_config]
    if not config.is_file():
        generate_demo_data(demo_dir, two_views=study.base_config == "demo_two_views")
    return config


def base_config(study: Study, demo_dir: Optional[Union[str, os.PathLike]] = None) -> DictConfig:
    """The base config with the study's overrides; demo bases point at ``demo_dir``."""
    with study_source(study.path):
        if study.base_config in DEMO_BASES and demo_dir is None:
            raise StudyError("base_config", f"{study.base_config!r} needs demo_dir (see prepare_demo_project)")
        return base_with_overrides(study.base_config, study.base, study.overrides,
                                   None if demo_dir is None else str(demo_dir))


def compose_trial_config(
    study: Study, sampled: dict[str, Any], demo_dir: Optional[Union[str, os.PathLike]] = None
) -> DictConfig:
    """Base config + overrides + ``sampled`` + the epoch budget (clamping as documented), validated."""
    cfg = base_config(study, demo_dir)
    by_key = {p.key: p for p in study.parameters}
    num_keypoints = int(cfg.data.num_keypoints)
    with study_source(study.path):
        for key, value in sampled.items():
            if key not in by_key:
                raise StudyError(key, f"is not a parameter of this study; parameters: {list(by_key)}")
            groups = by_key[key].groups
            if groups is not None:
                check_groups(groups, num_keypoints, f"parameters.{key}.per_keypoint_groups")
                if not isinstance(value, list) or len(value) != num_keypoints:
                    raise StudyError(key, f"expected a list of {num_keypoints} values, got {value!r}")
            apply_value(cfg, key, value, f"parameters.{key}")
        apply_budget(cfg, study.budget.max_epochs)
        validate_trial_config(cfg, f"the trial {render_value(sampled)}")
    return cfg
