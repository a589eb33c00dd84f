"""Reading finished or running sweeps: ``status``, ``best`` and ``report``."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import yaml

from lightning_pose.config import to_plain
from lp_sweeps.report import build_report
from lp_sweeps.study import METRICS
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.replicates import trial_config
from lp_sweeps.sweep.results import report_path
from lp_sweeps.sweep.run import DEFAULT_PROJECT_DIR, demo_folder
from lp_sweeps.tracking import search_children

__all__ = ["best", "experiments", "report", "status"]


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


def experiments(project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR) -> list[tuple[str, str]]:
    """(sweep name, MLflow experiment id) of each sweep in the project, oldest first."""
    project = Path(project_dir).resolve()
    records = [SweepRecord.load(project, path.parent.name) for path in (project / "sweeps").glob("*/sweep.json")]
    return [(r.sweep_name, r.experiment_id) for r in sorted(records, key=lambda r: r.created)]


def best(sweep_name: str, project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
         output: Optional[str | os.PathLike] = None) -> tuple[dict, Path]:
    """The best trial of a finished sweep and its config written as YAML (default ``best_config.yaml``);
    for a multi-objective sweep the best by the first objective, with ``pareto_front`` (the
    non-dominated trials) and ``metrics``."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    if not record.best:
        raise ValueError(f"sweep {sweep_name!r} has no best trial yet (state: {record.state}); run or resume it first")
    study = record.load_study()
    cfg = trial_config(study, record.best["params"], record.best.get("replicate"),
                       demo_folder(study, Path(record.project_dir)))
    out = Path(output or "best_config.yaml")
    out.write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
    front = {"pareto_front": record.pareto_front, "metrics": study.metrics} if record.pareto_front is not None else {}
    return {**record.best, **front}, out


def report(sweep_name: str, project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
           output: Optional[str | os.PathLike] = None, objectives: Sequence[str] = ()) -> Path:
    """Write the sweep's HTML report (default ``sweeps/<sweep>/report.html``); ``objectives``
    compares metrics (two or more: a Pareto front); default the study's objective."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    study = record.load_study()
    unknown = [m for m in objectives if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown objective metric(s) {unknown}; known: {list(METRICS)}")
    target = Path(output) if output else report_path(record)
    return build_report(record, study, demo_folder(study, Path(record.project_dir)), target, objectives)
