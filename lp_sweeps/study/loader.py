"""Reading a study: the file is read once, command-line overrides are applied to the parsed
data, and :func:`build_study` checks all of it before anything expensive starts.

    study = load_study("search_spaces/quickstart.yaml", ["budget.num_samples=4"])

Every failure is a :class:`~lp_sweeps.study.errors.StudyError` naming the file the user wrote, the
key and what is allowed; YAML syntax errors and keys given twice name the line and column. A
sweep keeps ``study.data`` and ``study.base``, and :func:`study_from_record` rebuilds the same
study from them (resume, ``best``) without reading any file.
"""

import copy
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import DictConfig, ListConfig, OmegaConf

from lightning_pose.config.yaml_file import YamlFileError, parse_yaml, read_yaml
from lp_sweeps.search import space_check_of
from lp_sweeps.study.checks import (
    check_candidates, check_combinations, check_parameter, check_precision_devices, flatten_overrides, leaf_type,
)
from lp_sweeps.study.search_checks import check_search
from lp_sweeps.study.compose import DEMO_BASES, base_with_overrides
from lp_sweeps.study.errors import StudyError, study_source
from lp_sweeps.study.sections import (
    Study, VideoStage, check_results_sections, parse_named_section, parse_objectives, parse_section,
)
from lp_sweeps.study.space import check_conditions, dependency_order, parse_parameter

__all__ = ["STUDY_SECTIONS", "TOP_LEVEL_KEYS", "apply_overrides", "build_study", "load_study", "study_from_record"]

TOP_LEVEL_KEYS = ("name", "description", "base_config", "overrides", "objective", "searcher",
                  "scheduler", "budget", "resources", "video", "replicates", "parameters")
# command-line overrides of these keys change the study; any other dotted key is a config override
STUDY_SECTIONS = ("name", "description", "base_config", "objective", "searcher", "scheduler", "budget", "resources",
                  "video", "replicates")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_RELATIVE_DATA_KEYS = ("data_dir", "video_dir")  # taken from the base config's folder, as `litpose train` does


def _read_mapping(path: Path) -> dict:
    try:
        raw = read_yaml(path)
    except YamlFileError as err:
        raise StudyError("", err.detail) from None
    if not isinstance(raw, Mapping):
        raise StudyError("", f"a study is a mapping with keys {list(TOP_LEVEL_KEYS)}, got {raw!r}")
    return raw


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise StudyError(item, "a command-line override is key=value, e.g. budget.num_samples=4")
    try:
        return key, parse_yaml(text, f"override {item!r}")
    except YamlFileError as err:
        raise StudyError(key, f"cannot read the value of {item!r}: {err.detail}") from None


def apply_overrides(raw: Mapping, overrides: Sequence[str]) -> dict:
    """``raw`` with ``key=value`` overrides applied: keys of a study section (``budget.num_samples=4``,
    ``scheduler={name: fifo}``) change the study, any other dotted key is a fixed config override
    (``training.train_batch_size=4``). Values are YAML."""
    data = copy.deepcopy(dict(raw))
    for item in overrides:
        key, value = _parse_override(item)
        section, _, field = key.partition(".")
        if section not in STUDY_SECTIONS:
            section, field = "overrides", key
        elif not field:
            data[section] = value
            continue
        target = data.get(section)
        if target is None:
            target = data[section] = {}
        if not isinstance(target, Mapping):
            raise StudyError(key, f"cannot set {item!r}: '{section}' in the file is {target!r}, not a mapping")
        data[section] = {**target, field: value}
    return data


def _relative_to(folder: Path, contents: dict) -> dict:
    """Relative ``data.data_dir`` / ``data.video_dir`` of a base config made absolute."""
    data = contents.get("data")
    if not isinstance(data, Mapping):
        return contents
    fixed = {k: str((folder / v).resolve()) if isinstance(v, str) and k in _RELATIVE_DATA_KEYS
             and not os.path.isabs(v) and "${" not in v else v for k, v in data.items()}
    return {**contents, "data": fixed}


def _read_base(value: Any, study_dir: Path) -> tuple[str, Optional[dict]]:
    """(the base config's label: a demo name or the absolute file path, its contents or None)."""
    if isinstance(value, str) and value in DEMO_BASES:
        return value, None
    path = (study_dir / value).resolve() if isinstance(value, str) else None
    if path is None or not path.is_file():
        raise StudyError("base_config", f"{value!r} is neither one of {list(DEMO_BASES)} nor a config file "
                         "(paths are relative to the study file)")
    try:
        contents = read_yaml(path)
    except YamlFileError as err:
        raise StudyError("base_config", str(err)) from None
    if not isinstance(contents, Mapping):
        raise StudyError("base_config", f"{path}: the top level of a config must be a mapping, got {contents!r}")
    return str(path), _relative_to(path.parent, dict(contents))


def _command_line_hint(err: StudyError, overrides: Sequence[str]) -> StudyError:
    """The error, saying so when the offending key was set on the command line."""
    for item in reversed(overrides):
        key = item.partition("=")[0].strip()
        if err.key and (err.key in (key, f"overrides.{key}") or err.key.startswith(f"{key}.")):
            return StudyError(err.key, f"{err.detail} (set on the command line: {item!r})", err.source)
    return err


def load_study(path: Union[str, os.PathLike], overrides: Sequence[str] = ()) -> Study:
    """Read, override and check a study file. Raises :class:`StudyError` (or FileNotFoundError)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"study file not found: {path}")
    try:
        with study_source(str(path)):
            data = apply_overrides(_read_mapping(path), overrides)
            label, base = _read_base(data.get("base_config", "demo"), path.parent)
            return build_study({**data, "base_config": label}, str(path), base)
    except StudyError as err:
        raise _command_line_hint(err, overrides) from None


def study_from_record(data: Mapping[str, Any], source: str, base: Optional[Mapping[str, Any]]) -> Study:
    """The study a sweep recorded (``study.data``, ``study.base``), checked again; reads no file."""
    with study_source(source):
        return build_study(dict(data), source, None if base is None else dict(base))


def _plain_values(reference: DictConfig, keys: set) -> dict:
    values = {key: OmegaConf.select(reference, key) for key in keys}
    return {k: OmegaConf.to_container(v) if isinstance(v, (DictConfig, ListConfig)) else v for k, v in values.items()}


def _parameters(data: Mapping, searcher: str, num_keypoints: int, overrides: dict) -> tuple:
    specs = data.get("parameters")
    if not isinstance(specs, Mapping) or not specs:
        raise StudyError("parameters", "give at least one parameter, e.g. KEY: {choice: [a, b]}")
    parameters = dependency_order([parse_parameter(str(k), v) for k, v in specs.items()])
    for p in parameters:
        check_parameter(p, num_keypoints, overrides)
    check = space_check_of(searcher)
    problem = check(parameters) if check is not None else None
    if problem is not None:
        raise StudyError(f"parameters.{problem[0]}", problem[1])
    check_conditions(parameters, leaf_type)
    return parameters


def _check_top_level(data: Mapping) -> str:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise StudyError(str(key), f"unknown key; allowed keys: {list(TOP_LEVEL_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise StudyError("name", f"use letters, digits, '_', '.' and '-', got {name!r}")
    return name


def build_study(data: dict, source: str, base: Optional[dict]) -> Study:
    """Check the parsed study ``data`` (``base_config`` already a demo name or an absolute path,
    ``base`` that file's contents) and return the :class:`Study`."""
    data = {"name": Path(source).stem, **data}
    name = _check_top_level(data)
    objectives = parse_objectives(data)
    budget, resources = (parse_section(data, n) for n in ("budget", "resources"))
    searcher, scheduler = (parse_named_section(data, n) for n in ("searcher", "scheduler"))
    video, replicates = _video_stage(parse_section(data, "video"), source), parse_section(data, "replicates")
    objectives = check_results_sections(objectives, scheduler, video, replicates)
    if resources.workers > 1 and 0 < resources.gpus < 1:
        raise StudyError("resources.gpus", f"{resources.gpus}: DDP workers need whole GPUs (NCCL cannot run two "
                         "ranks of one trial on the same GPU); use gpus: 1, or workers: 1 to share GPUs between trials")
    overrides = flatten_overrides(data.get("overrides") or {})
    reference = base_with_overrides(data["base_config"], base, overrides, None)
    if budget.max_epochs is None:
        if reference.training.max_epochs is None:
            raise StudyError("budget.max_epochs", "must be set (the base config has no max_epochs)")
        budget = replace(budget, max_epochs=int(reference.training.max_epochs))
    grace = scheduler.options.get("grace_period")
    if grace is not None and grace > budget.max_epochs:
        raise StudyError("scheduler.grace_period", f"must be <= budget.max_epochs ({budget.max_epochs})")
    num_keypoints = int(reference.data.num_keypoints)
    parameters = _parameters(data, searcher.name, num_keypoints, overrides)
    check_search(objectives, searcher, scheduler, parameters, resources, budget)
    check_candidates(reference, parameters, num_keypoints, budget.max_epochs)
    check_precision_devices(reference, parameters, resources.gpus)
    base_values = _plain_values(reference, {c.key for p in parameters for c in p.when})
    check_combinations(reference, parameters, base_values, budget.max_epochs)
    return Study(name, source, data, data["base_config"], base, overrides, objectives[0], searcher, scheduler, budget,
                 resources, parameters, num_keypoints, base_values, str(data.get("description") or ""),
                 video=video, replicates=replicates, objectives=objectives)


def _video_stage(video: VideoStage, source: str) -> VideoStage:
    """``video.directory`` made absolute (relative to the study file) and checked."""
    if video.directory is None:
        return video
    folder = (Path(source).parent / video.directory).resolve()
    if not folder.is_dir():
        raise StudyError("video.directory", f"{video.directory!r}: no such folder ({folder})")
    return replace(video, directory=str(folder))
