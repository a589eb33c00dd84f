"""Study files: one YAML file describes a whole sweep, and :func:`load_study` checks all of it.

    name: quickstart          # sweep, MLflow experiment and registered-model name
    base_config: demo         # demo | demo_two_views | a config.yaml (relative to the study file)
    overrides: {training.check_val_every_n_epoch: 1}              # fixed for every trial
    objective: {metric: val_pixel_error, mode: min}
    searcher: {name: optuna, seed: 0}                             # optuna (TPE) | random | grid
    scheduler: {name: asha, grace_period: 1, reduction_factor: 2} # asha | fifo
    budget: {num_samples: 8, time_budget_s: null, max_concurrent_trials: 2, max_epochs: 6}
    resources: {cpus: 1, gpus: 0, workers: 1}                     # per trial
    parameters:
      data.downsample_factor: {grid: [2, 3]}
      training.optimizer_params.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}
      losses.temporal.epsilon: {uniform: [2.0, 20.0], per_keypoint_groups: [[0, 1], [2, 3, 4, 5, 6, 7]],
                                when: {model.losses_to_use: {contains: temporal}}}

Everything is checked before a trial starts (schema keys, value types, ranges, conditions, keypoint
groups, and each option / range end set alone on the base config and run through
``validate_config``); failures raise :class:`StudyError` naming the file, the key and what is
allowed. A trial's config is the base config, then ``overrides``, then the sampled values, then the
budget: ``training.max_epochs`` and ``min_epochs`` become ``budget.max_epochs``, milestones beyond
it are clamped to it and ``unfreezing_epoch`` to ``max_epochs - 1`` at most. See docs/studies.md.
"""

import copy
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lightning_pose.config import ConfigError, load_config, validate_config
from lightning_pose.config.introspect import allowed_keys, describe_type, field_type, is_group, unwrap_optional
from lightning_pose.config.schema import LightningPoseConfig
from lightning_pose.data.demo import demo_config, generate_demo_data
from lightning_pose.data.demo_scene import VIEW_NAMES
from lp_sweeps.space import (Parameter, StudyError, Suggester, check_conditions, check_groups, dependency_order,
                             fits_type, grid_space, parse_parameter, render_value, sample_space, study_source)

__all__ = [
    "ALLOWED_METRICS", "Budget", "DEMO_BASES", "Objective", "Resources", "SCHEDULERS", "SEARCHERS",
    "SchedulerSpec", "SearcherSpec", "Study", "StudyError", "base_config", "compose_trial_config",
    "grid_points", "load_study", "num_trials", "prepare_demo_project", "sample_parameters",
]

# all three are errors (lower is better), so the only mode is "min"
ALLOWED_METRICS = ("val_pixel_error", "val_supervised_loss", "val_supervised_rmse")
SEARCHERS = ("optuna", "random", "grid")
SCHEDULERS = ("asha", "fifo")
# demo base -> the config file lightning_pose.data.demo.generate_demo_data writes
DEMO_BASES = {"demo": "config.yaml", "demo_two_views": "config_multiview.yaml"}
TOP_LEVEL_KEYS = ("name", "description", "base_config", "overrides", "objective", "searcher",
                  "scheduler", "budget", "resources", "parameters")
BUDGET_KEYS = ("training.max_epochs", "training.min_epochs")
_DEMO_IMAGE_SIZE = (160, 192)  # generate_demo_data's default (height, width)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Objective:
    metric: str = "val_pixel_error"
    mode: str = "min"


@dataclass(frozen=True)
class SearcherSpec:
    name: str = "optuna"
    seed: Optional[int] = None


@dataclass(frozen=True)
class SchedulerSpec:
    """``asha``: trials may stop at ``grace_period * reduction_factor**k`` epochs (up to
    ``budget.max_epochs``); ``fifo``: every trial runs to the end."""

    name: str = "asha"
    grace_period: int = 1
    reduction_factor: float = 2.0


@dataclass(frozen=True)
class Budget:
    num_samples: int = 8
    time_budget_s: Optional[float] = None
    max_concurrent_trials: Optional[int] = None
    max_epochs: Optional[int] = None  # None in a file: the base config's (after overrides)


@dataclass(frozen=True)
class Resources:
    cpus: float = 1.0
    gpus: float = 0.0
    workers: int = 1


@dataclass(frozen=True)
class Study:
    """A checked study. ``parameters`` are in dependency order; ``base_values`` holds, for every
    key a condition reads, its value in the base config with overrides; ``path`` is the file."""

    name: str
    path: str
    base_config: str
    overrides: dict
    objective: Objective
    searcher: SearcherSpec
    scheduler: SchedulerSpec
    budget: Budget
    resources: Resources
    parameters: tuple[Parameter, ...]
    num_keypoints: int
    base_values: dict
    description: str = ""


# section -> (dataclass, {field: allowed values | (type, minimum, strict)}); None-default fields may be null
_SECTIONS = {
    "objective": (Objective, {"metric": ALLOWED_METRICS, "mode": ("min",)}),
    "searcher": (SearcherSpec, {"name": SEARCHERS, "seed": (int, 0, False)}),
    "scheduler": (SchedulerSpec, {"name": SCHEDULERS, "grace_period": (int, 1, False),
                                  "reduction_factor": (float, 1, True)}),
    "budget": (Budget, {"num_samples": (int, 1, False), "time_budget_s": (float, 0, True),
                        "max_concurrent_trials": (int, 1, False), "max_epochs": (int, 1, False)}),
    "resources": (Resources, {"cpus": (float, 0, True), "gpus": (float, 0, False), "workers": (int, 1, False)}),
}


def _read_yaml(path: Path) -> dict:
    try:  # OmegaConf's YAML reader: 1e-4 is a float, a key given twice is an error
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as err:  # YAML syntax errors come in several types
        raise StudyError("", f"cannot parse YAML: {err}") from None
    if not isinstance(raw, dict):
        raise StudyError("", f"a study is a mapping with keys {list(TOP_LEVEL_KEYS)}")
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            raise StudyError(str(key), f"unknown key; allowed keys: {list(TOP_LEVEL_KEYS)}")
    return raw


def _section(raw: dict, name: str) -> Any:
    """The dataclass of section ``name``, checked against ``_SECTIONS``; absent keys get defaults."""
    cls, rules = _SECTIONS[name]
    given, defaults = raw.get(name) or {}, vars(cls())
    if not isinstance(given, Mapping):
        raise StudyError(name, f"expected a mapping with keys {list(rules)}, got {given!r}")
    for key in given:
        if key not in rules:
            raise StudyError(f"{name}.{key}", f"unknown key; allowed keys: {list(rules)}")
    values = {**defaults, **given}
    for key, rule in rules.items():
        value, where = values[key], f"{name}.{key}"
        if rule[0] not in (int, float) and value not in rule:
            raise StudyError(where, f"unknown {value!r}; allowed: {list(rule)}")
        if rule[0] in (int, float) and (value is not None or defaults[key] is not None):
            tp, minimum, strict = rule
            ok = isinstance(value, (int, tp)) and not isinstance(value, bool)
            if not (ok and (value > minimum if strict else value >= minimum)):
                kind = "an int" if tp is int else "a number"
                raise StudyError(where, f"expected {kind} {'>' if strict else '>='} {minimum}, got {value!r}")
            values[key] = tp(value)
    return cls(**values)


def _leaf_type(key: str, where: str) -> Any:
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


def _flatten_overrides(raw: Any, prefix: str = "") -> dict:
    """``{training: {max_epochs: 6}}`` or ``{training.max_epochs: 6}`` -> dotted leaf keys."""
    if not isinstance(raw, Mapping):
        raise StudyError(f"overrides{prefix}", f"expected a mapping, got {raw!r}")
    flat: dict = {}
    for key, value in raw.items():
        dotted = f"{prefix}.{key}".lstrip(".")
        if is_group(field_type(dotted)) and isinstance(value, Mapping):
            flat.update(_flatten_overrides(value, f".{dotted}"))
            continue
        tp = _leaf_type(dotted, f"overrides.{dotted}")
        if not fits_type(tp, value):
            raise StudyError(f"overrides.{dotted}", f"expected {describe_type(tp)}, got {value!r}")
        flat[dotted] = value
    return flat


def _resolve_base(raw: Any, study_path: Path) -> str:
    if isinstance(raw, str) and raw in DEMO_BASES:
        return raw
    path = study_path.parent / raw if isinstance(raw, str) else None
    if path is None or not path.is_file():
        raise StudyError("base_config", f"{raw!r} is neither one of {list(DEMO_BASES)} nor a config file "
                         "(paths are relative to the study file)")
    return str(path.resolve())


def _apply(cfg: DictConfig, key: str, value: Any, where: str) -> None:
    try:
        OmegaConf.update(cfg, key, copy.deepcopy(value), merge=False)
    except OmegaConfBaseException as err:
        raise StudyError(where, f"cannot set {key}={render_value(value)}: {err.msg}") from None


def _apply_budget(cfg: DictConfig, max_epochs: int) -> None:
    """min/max_epochs = max_epochs; milestones beyond it and ``unfreezing_epoch`` clamped."""
    training = cfg.training
    training.max_epochs = training.min_epochs = max_epochs
    if training.unfreezing_epoch is not None:
        training.unfreezing_epoch = min(training.unfreezing_epoch, max(max_epochs - 1, 0))
    schedule = training.lr_scheduler_params.multisteplr
    if schedule.milestones is not None:
        kept = [m for m in schedule.milestones if m < max_epochs]
        schedule.milestones = kept + [max_epochs] if len(kept) < len(schedule.milestones) else kept


def _validate(cfg: DictConfig, what: str) -> None:
    try:
        validate_config(cfg)
    except ConfigError as err:
        raise StudyError(err.key, f"{what} gives an invalid config: {err.detail}") from None


def _base_with_overrides(base: str, overrides: dict, demo_dir: Optional[str]) -> DictConfig:
    """Load the base config and apply the overrides. A demo without ``demo_dir`` is the demo's
    config held in memory with placeholder paths (what :func:`load_study` checks against)."""
    if base in DEMO_BASES and demo_dir is None:
        views = list(VIEW_NAMES) if base == "demo_two_views" else None
        csv = [f"CollectedData_{v}.csv" for v in views] if views else "CollectedData.csv"
        user: Any = demo_config(Path("<demo_dir>"), Path("<demo_dir>/videos"), _DEMO_IMAGE_SIZE, csv, views)
    else:
        user = Path(demo_dir) / DEMO_BASES[base] if base in DEMO_BASES else Path(base)
        if not user.is_file():
            raise StudyError("base_config", f"{user} not found (prepare_demo_project writes demos)")
    try:
        cfg = load_config(user)
    except ConfigError as err:
        raise StudyError("base_config", f"{base}: {err}") from None
    for key, value in overrides.items():
        _apply(cfg, key, value, f"overrides.{key}")
    if cfg.training.max_steps is not None or cfg.training.min_steps is not None:
        raise StudyError("training.max_steps", "sweeps count epochs; set min_steps, max_steps, unfreezing_step "
                         "and multisteplr.milestone_steps to null in overrides")
    return cfg


def _check_parameter(p: Parameter, num_keypoints: int, overrides: dict) -> None:
    where = f"parameters.{p.key}"
    tp = _leaf_type(p.key, where)
    if p.key in BUDGET_KEYS:
        raise StudyError(where, "is set by budget.max_epochs (ASHA's time axis); not searchable")
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


def _dry_run(reference: DictConfig, parameters: tuple, num_keypoints: int, max_epochs: int) -> None:
    """The base config, then each option / range end of each parameter alone on it, must validate."""
    budgeted = copy.deepcopy(reference)
    _apply_budget(budgeted, max_epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _validate(budgeted, "the base config with overrides")
        for p in parameters:
            for value in p.candidates():
                value = value if p.groups is None else [value] * num_keypoints
                cfg = copy.deepcopy(budgeted)
                _apply(cfg, p.key, value, f"parameters.{p.key}")
                _apply_budget(cfg, max_epochs)
                _validate(cfg, f"parameters.{p.key}={render_value(value)}")


def _load(path: Path) -> Study:
    raw = _read_yaml(path)
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise StudyError("name", f"use letters, digits, '_', '.' and '-', got {name!r}")
    objective, searcher, scheduler, budget, resources = (_section(raw, n) for n in _SECTIONS)
    if scheduler.name == "fifo" and set(raw.get("scheduler") or {}) - {"name"}:
        raise StudyError("scheduler", "fifo takes no options (only name)")
    if resources.workers > 1 and 0 < resources.gpus < 1:
        raise StudyError("resources.gpus", f"{resources.gpus}: DDP workers need whole GPUs (NCCL cannot run two "
                         "ranks of one trial on the same GPU); use gpus: 1, or workers: 1 to share GPUs between trials")
    base = _resolve_base(raw.get("base_config", "demo"), path)
    overrides = _flatten_overrides(raw.get("overrides") or {})
    reference = _base_with_overrides(base, overrides, None)
    if budget.max_epochs is None:
        if reference.training.max_epochs is None:
            raise StudyError("budget.max_epochs", "must be set (the base config has no max_epochs)")
        budget = replace(budget, max_epochs=int(reference.training.max_epochs))
    if scheduler.grace_period > budget.max_epochs:
        raise StudyError("scheduler.grace_period", f"must be <= budget.max_epochs ({budget.max_epochs})")
    specs = raw.get("parameters")
    if not isinstance(specs, Mapping) or not specs:
        raise StudyError("parameters", "give at least one parameter, e.g. KEY: {choice: [a, b]}")
    parameters = dependency_order([parse_parameter(str(k), v) for k, v in specs.items()])
    num_keypoints = int(reference.data.num_keypoints)
    for p in parameters:
        _check_parameter(p, num_keypoints, overrides)
        if searcher.name == "grid" and p.kind != "grid":
            raise StudyError(f"parameters.{p.key}", "searcher 'grid' needs grid parameters only")
    check_conditions(parameters, _leaf_type)
    _dry_run(reference, parameters, num_keypoints, budget.max_epochs)
    base_values = {c.key: OmegaConf.select(reference, c.key) for p in parameters for c in p.when}
    base_values = {k: OmegaConf.to_container(v) if isinstance(v, (DictConfig, ListConfig)) else v
                   for k, v in base_values.items()}
    return Study(name, str(path), base, overrides, objective, searcher, scheduler, budget, resources,
                 parameters, num_keypoints, base_values, str(raw.get("description") or ""))


def load_study(path: Union[str, Path]) -> Study:
    """Read and check a study file. Raises :class:`StudyError` (or FileNotFoundError)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"study file not found: {path}")
    with study_source(str(path)):
        return _load(Path(path))


def sample_parameters(study: Study, suggester: Suggester, fixed: Optional[dict] = None) -> dict[str, Any]:
    """One trial's values ``{dotted_key: value}``; ``fixed`` holds values chosen already (grid).
    Parameters whose ``when`` is false are left out; per-keypoint ones are expanded lists."""
    keys = [p.key for p in study.parameters]
    for key in fixed or {}:
        if key not in keys:
            raise StudyError(key, f"is not a parameter of this study; parameters: {keys}", study.path)
    return sample_space(study.parameters, suggester, study.base_values, fixed)


def grid_points(study: Study) -> list[dict[str, Any]]:
    """Every combination of the grid parameters' values; ``[{}]`` when there are none."""
    return grid_space(study.parameters)


def num_trials(study: Study) -> int:
    """``budget.num_samples`` trials per grid combination (Ray Tune's ``grid_search`` rule)."""
    return study.budget.num_samples * len(grid_points(study))


def prepare_demo_project(study: Study, demo_dir: Union[str, Path]) -> Path:
    """Write the demo project of a ``demo`` / ``demo_two_views`` study into ``demo_dir`` unless its
    config file is there already; returns that config file."""
    if study.base_config not in DEMO_BASES:
        raise StudyError("base_config", f"is a file, not one of {list(DEMO_BASES)}", study.path)
    config = Path(demo_dir) / DEMO_BASES[study.base_config]
    if not config.is_file():
        generate_demo_data(demo_dir, two_views=study.base_config == "demo_two_views")
    return config


def base_config(study: Study, demo_dir: Optional[Union[str, Path]] = None) -> DictConfig:
    """The base config with the study's overrides; demo bases are read from ``demo_dir``."""
    with study_source(study.path):
        if study.base_config in DEMO_BASES and demo_dir is None:
            raise StudyError("base_config", f"{study.base_config!r} needs demo_dir (see prepare_demo_project)")
        return _base_with_overrides(study.base_config, study.overrides, None if demo_dir is None else str(demo_dir))


def compose_trial_config(
    study: Study, sampled: dict[str, Any], demo_dir: Optional[Union[str, Path]] = None
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
            _apply(cfg, key, value, f"parameters.{key}")
        _apply_budget(cfg, study.budget.max_epochs)
        _validate(cfg, f"the trial {render_value(sampled)}")
    return cfg
