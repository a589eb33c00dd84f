"""What a trial's run records about its inputs: the config values that differ from Lightning
Pose's defaults (params), the labeled data (an MLflow dataset with a digest of the label files),
and the model and data seeds of a replicate."""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from lightning_pose.config import default_config
from lp_sweeps.study.space import render_value, same_value
from lp_sweeps.tracking import DatasetRecord, flatten_params
from lp_sweeps.trial.context import Replicate

__all__ = ["apply_seed", "labeled_dataset", "non_default_values"]

_SEED_KEYS = ("training.rng_seed_model_pt", "training.rng_seed_data_pt")
_DIGEST_CHARS = 12


def _plain(cfg: DictConfig) -> dict[str, Any]:
    return flatten_params(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False))


def non_default_values(cfg: DictConfig) -> dict[str, Any]:
    """``{dotted key: value}`` of the config values that differ from the schema's defaults
    (:func:`lightning_pose.config.default_config`); lists and null as text, numbers as numbers."""
    defaults = _plain(default_config())
    values = {}
    for key, value in _plain(cfg).items():
        if key in defaults and same_value(defaults[key], value):
            continue
        values[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else render_value(value)
    return values


def apply_seed(cfg: DictConfig, replicate: Optional[Replicate]) -> None:
    """A replicate trains with its own model and data seeds: the base config's plus its seed."""
    if replicate is None:
        return
    for key in _SEED_KEYS:
        OmegaConf.update(cfg, key, int(OmegaConf.select(cfg, key) or 0) + replicate.seed)


def apply_loader_workers(cfg: DictConfig, cpus_per_worker: float) -> None:
    """Data-loader processes from the CPUs the scheduler gave the trial (one stays with training),
    unless the config sets ``training.num_workers``: Lightning Pose's default counts the machine's
    CPUs, so two 1-CPU trials on a 2-core machine would each fork loader processes for CPUs that
    the other trial holds."""
    if cfg.training.num_workers is None:
        cfg.training.num_workers = max(int(cpus_per_worker) - 1, 0)


def _label_files(cfg: DictConfig) -> list[Path]:
    csv = cfg.data.csv_file
    return [Path(cfg.data.data_dir, f) for f in ([csv] if isinstance(csv, str) else list(csv))]


def labeled_dataset(cfg: DictConfig) -> DatasetRecord:
    """The labeled frames as an MLflow dataset: named after the data folder and label files, with
    a digest of the label files' bytes (a changed label changes it)."""
    files = _label_files(cfg)
    digest = hashlib.sha256()
    rows = 0
    for path in files:
        content = path.read_bytes()
        digest.update(content)
        rows += max(len(content.splitlines()) - 3, 0)  # three header rows (scorer, bodyparts, coords)
    profile: Mapping[str, Any] = {"frames": rows // len(files), "keypoints": int(cfg.data.num_keypoints),
                                  "label_files": [p.name for p in files]}
    name = f"{Path(cfg.data.data_dir).name}/{'+'.join(p.name for p in files)}"
    return DatasetRecord(name=name, digest=digest.hexdigest()[:_DIGEST_CHARS], source=str(Path(cfg.data.data_dir)),
                         profile=json.dumps(profile))
