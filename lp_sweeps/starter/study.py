"""The starter study ``lp-sweep init`` writes: the mission's dimensions (model type, downsample
factor, temporal epsilon per keypoint group, loss log-weights), sized for the data and machine.

Every function here is pure: the project, the machine and the base config go in, a study mapping
(as ``docs/studies.md`` describes it) comes out.
"""

import math
import os
import re
from pathlib import Path

import yaml
from omegaconf import DictConfig

from lightning_pose.losses.factory import losses_of_kind
from lightning_pose.models.backbones.base import is_offline
from lightning_pose.models.registry import SEMI_SUPERVISED_TRACKERS, SUPERVISED_TRACKERS
from lp_sweeps.starter.config_file import resize_dims
from lp_sweeps.starter.machine import MachineInfo
from lp_sweeps.starter.project import ProjectInfo

__all__ = ["budget_for", "epsilon_range", "keypoint_groups", "model_types", "starter_study", "study_text"]

CPU_MAX_SIDE = 128  # model input on a machine without a GPU: 128 pixels a side (as the quickstart)
CPU_BACKBONE = "resnet18"
TARGET_STEPS = {"cpu": 150, "gpu": 2000}  # optimizer steps a full-length trial takes
EPOCH_LIMITS = {"cpu": (3, 40), "gpu": (10, 300)}
FRAMES_PER_VIDEO = {"cpu": 50, "gpu": 200}
MAX_GROUPS = 8  # more keypoint groups than this: one epsilon for all keypoints
MIN_HEATMAP_SIDE = 16  # a downsample factor is offered when the heatmaps keep this many pixels a side
LOG_WEIGHT_RANGE = [2.0, 8.0]
_STEM = re.compile(r"[a-z]+|[A-Z][a-z]*|[A-Z]+")


def keypoint_groups(names: list[str]) -> list[list[int]]:
    """Keypoint indices grouped by the first word of their name (``paw1LH_top`` and ``paw2LF_bot``
    are both ``paw``; ``tailBase`` and ``tail_tip`` are ``tail``), in order of first appearance."""
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        match = _STEM.search(name)
        groups.setdefault(match.group().lower() if match else name, []).append(index)
    return list(groups.values())


def epsilon_range(image_size: tuple[int, int]) -> list[float]:
    """Temporal-loss epsilon range in pixels of the original frames: 1% to 10% of the longer side."""
    side = max(image_size)
    return [float(max(1, round(0.01 * side))), float(max(2, round(0.1 * side)))]


def model_types(semi_supervised: bool) -> list[str]:
    """The registered convolutional heatmap trackers (the multiview transformer needs a ViT
    backbone, too costly for a first sweep); they track every view of a multiview project."""
    registry = SEMI_SUPERVISED_TRACKERS if semi_supervised else SUPERVISED_TRACKERS
    return [name for name in registry.names() if name.startswith("heatmap") and "transformer" not in name]


def _downsample_parameter(types: list[str], registry, resize: tuple[int, int]) -> dict | None:
    factors = [f for f in (2, 3) if min(resize) / 2**f >= MIN_HEATMAP_SIDE]
    free = [t for t in types if registry.metadata(t).get("downsample_factors") is None]
    if len(factors) < 2 or not free:
        return None
    parameter = {"choice": factors}
    if len(free) < len(types):  # e.g. heatmap_mhcrnn takes factor 2 only
        parameter["when"] = {"model.model_type": free[0] if len(free) == 1 else {"in": free}}
    return parameter


def budget_for(project: ProjectInfo, machine: MachineInfo, base: DictConfig) -> tuple[dict, dict]:
    """(budget, resources): one trial per GPU (two on a GPU of 32 GiB or more); without a GPU one
    trial per CPU up to 8 CPUs; epochs so that a trial takes about TARGET_STEPS optimizer steps."""
    kind = "gpu" if machine.gpus else "cpu"
    if machine.gpus:
        share = 0.5 if min(g.memory_gib for g in machine.gpus) >= 32 else 1
        concurrent = int(len(machine.gpus) / share)
        resources = {"cpus": max(1, min(4, machine.cpus // concurrent)), "gpus": share, "workers": 1}
    else:
        cpus = max(1, machine.cpus // 8)
        concurrent = max(1, machine.cpus // cpus)
        resources = {"cpus": cpus, "gpus": 0, "workers": 1}
    train_frames = max(1, math.floor(base.training.train_prob * project.num_labeled))
    batches = math.ceil(train_frames / base.training.train_batch_size)
    low, high = EPOCH_LIMITS[kind]
    epochs = min(high, max(low, round(TARGET_STEPS[kind] / batches)))
    samples = max(8, 4 * concurrent) if kind == "cpu" else min(64, max(16, 8 * concurrent))
    budget = {"num_samples": samples, "max_concurrent_trials": concurrent, "max_epochs": epochs}
    return budget, resources


def _loss_parameters(project: ProjectInfo, base: DictConfig) -> tuple[dict, dict]:
    """(overrides, parameters) of the unsupervised losses: the temporal loss (weight and epsilon
    per keypoint group) where there are videos, with a PCA loss as a choice where the config
    defines its keypoints; none without videos."""
    if not project.videos:
        return {"model.losses_to_use": []}, {}
    pca = []
    if base.data.columns_for_singleview_pca and not project.multiview:
        pca.append("pca_singleview")
    if base.data.mirrored_column_matches and project.multiview:
        pca.append("pca_multiview")
    pca = [name for name in pca if name in losses_of_kind("unsupervised")]
    epsilon = {"uniform": epsilon_range(project.image_size)}
    groups = keypoint_groups(project.keypoint_names)
    if 1 < len(groups) <= MAX_GROUPS:
        epsilon["per_keypoint_groups"] = groups
    parameters = {"losses.temporal.log_weight": {"uniform": LOG_WEIGHT_RANGE}, "losses.temporal.epsilon": epsilon}
    # the unsupervised losses weigh in from the first epoch (LP waits 60), so short trials use them
    overrides = {"callbacks.anneal_weight.freeze_until_epoch": 0}
    if not pca:
        return {**overrides, "model.losses_to_use": ["temporal"]}, parameters
    choices = [["temporal"]] + [sorted([name, "temporal"]) for name in pca]
    parameters = {"model.losses_to_use": {"choice": choices}, **parameters}
    for name in pca:
        parameters[f"losses.{name}.log_weight"] = {"uniform": LOG_WEIGHT_RANGE,
                                                   "when": {"model.losses_to_use": {"contains": name}}}
    return overrides, parameters


def _overrides(project: ProjectInfo, machine: MachineInfo, base: DictConfig) -> dict:
    overrides = {"training.check_val_every_n_epoch": 1, "eval.predict_vids_after_training": False}
    if not machine.gpus:
        height, width = resize_dims(*project.image_size, CPU_MAX_SIDE)
        resize = base.data.image_resize_dims
        if resize.height * resize.width > height * width:
            overrides["data.image_resize_dims"] = {"height": height, "width": width}
        overrides.update({"model.backbone": CPU_BACKBONE, "dali.base.train.sequence_length": 8,
                          "dali.context.train.batch_size": 8})
    if is_offline():
        overrides["model.backbone_pretrained"] = False
    return overrides


def starter_study(project: ProjectInfo, machine: MachineInfo, base: DictConfig, study_path: Path) -> dict:
    """The study mapping for ``project`` on ``machine``; ``base`` is its config.yaml (loaded)."""
    overrides = _overrides(project, machine, base)
    loss_overrides, loss_parameters = _loss_parameters(project, base)
    overrides.update(loss_overrides)
    semi = bool(project.videos)
    types = model_types(semi)
    resize = overrides.get("data.image_resize_dims", base.data.image_resize_dims)
    parameters: dict = {"model.model_type": {"choice": types}}
    downsample = _downsample_parameter(types, SEMI_SUPERVISED_TRACKERS if semi else SUPERVISED_TRACKERS,
                                       (resize["height"], resize["width"]))
    if downsample is not None:
        parameters["data.downsample_factor"] = downsample
    parameters.update(loss_parameters)
    budget, resources = budget_for(project, machine, base)
    config_path = project.data_dir / "config.yaml"
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", project.data_dir.name).lstrip("_.-") or "project"
    return {
        "name": f"{name}_starter",
        "description": f"starter study of {project.data_dir} on {machine.describe()}",
        "base_config": os.path.relpath(config_path, study_path.parent),
        "overrides": overrides,
        "objective": {"metric": "val_pixel_error", "mode": "min"},
        "searcher": {"name": "optuna", "seed": 0},
        # grace_period 1: the study still runs with budget.max_epochs=1 (a smoke test)
        "scheduler": {"name": "asha", "grace_period": 1, "reduction_factor": 2},
        "budget": budget,
        "resources": resources,
        "video": {"frames_per_video": FRAMES_PER_VIDEO["gpu" if machine.gpus else "cpu"] if project.videos else 0},
        "parameters": parameters,
    }


def study_text(study: dict, project: ProjectInfo, machine: MachineInfo) -> str:
    """The study as YAML, with a header saying what it was sized for."""
    views = ", ".join(v.name for v in project.views) if project.multiview else "one view"
    videos = ", ".join(f"{name} ({frames} frames)" for name, frames in project.videos.items()) or "none"
    header = [
        "# Starter study written by `lp-sweep init` (edit freely; format: docs/studies.md).",
        f"# project: {len(project.keypoint_names)} keypoints, {views}, {project.num_labeled} labeled frames, "
        f"images {project.image_size[1]}x{project.image_size[0]} (width x height)",
        f"# videos: {videos}",
        f"# machine: {machine.describe()}",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(study, sort_keys=False, default_flow_style=None)
