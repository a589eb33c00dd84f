"""Reading finished or running sweeps: ``status`` and ``best``."""

import os
from pathlib import Path
from typing import Optional

import yaml

from lightning_pose.config import to_plain
from lp_sweeps.study import compose_trial_config
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.run import DEFAULT_PROJECT_DIR, demo_folder
from lp_sweeps.tracking import search_children

__all__ = ["best", "status"]


def status(project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR, sweep_name: Optional[str] = None) -> list[dict]:
    """One row per sweep (no name), or one row per trial of ``sweep_name``."""
    project = Path(project_dir).resolve()
    if sweep_name is None:
        rows = []
        for path in sorted((project / "sweeps").glob("*/sweep.json")):
            record = SweepRecord.load(project, path.parent.name)
            rows.append({"sweep": record.sweep_name, "state": record.state, "created": record.created, "best": record.best})
        return rows
    record = SweepRecord.load(project, sweep_name)
    return search_children(record.tracking_uri, record.parent_run_id)


def best(sweep_name: str, project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
         output: Optional[str | os.PathLike] = None) -> tuple[dict, Path]:
    """The best trial of a finished sweep and its config written as YAML (default ``best_config.yaml``);
    for a multi-objective sweep the best by the first objective, with ``pareto_front`` (the
    non-dominated trials) and ``metrics``."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    if not record.best:
        raise ValueError(f"sweep {sweep_name!r} has no best trial yet (state: {record.state}); run or resume it first")
    study = record.load_study()
    cfg = compose_trial_config(study, record.best["params"], demo_folder(study, Path(record.project_dir)))
    out = Path(output or "best_config.yaml")
    out.write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
    front = {"pareto_front": record.pareto_front, "metrics": study.metrics} if record.pareto_front is not None else {}
    return {**record.best, **front}, out
