"""Sweep orchestration: launch, resume, status and best, on top of the adapters.

A project folder (default ``./lp_sweeps_runs``) holds everything a sweep writes:

    mlruns.db, mlartifacts/   MLflow tracking store and artifacts (unless --tracking-uri is given)
    ray_results/<sweep>/      Ray Tune experiment: trial results and checkpoints (storage_path, unless
                              --storage-path puts them elsewhere, e.g. s3://bucket/prefix)
    sweeps/<sweep>/           the resolved study file and sweep.json (what resume/status/best read)
    demo/                     the demo project, generated when a study asks for it
    cache/                    decoded video frames shared by the trials on this machine
"""

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf

from lp_sweeps.space import RandomSuggester, StudyError, render_value
from lp_sweeps.study import DEMO_BASES, Study, base_config, compose_trial_config, load_study, num_trials, prepare_demo_project, sample_parameters
from lp_sweeps.tracking import SweepTracker, default_tracking_uri, deliver_spooled, search_children
from lp_sweeps.trial import CHECKPOINT_FILE, TrialContext
from lp_sweeps.train_adapter import DRIVER_CPUS
from lp_sweeps.tune_adapter import (
    SweepOutcome, check_storage, connect, disconnect, fetch_checkpoint, fit_sweep, max_reports,
)

__all__ = ["SweepRecord", "apply_study_overrides", "best", "demo_folder", "dry_run", "launch", "resume", "status"]

DEFAULT_PROJECT_DIR = "lp_sweeps_runs"
STUDY_SECTIONS = ("name", "description", "objective", "searcher", "scheduler", "budget", "resources")
KEEP_BEST_CHECKPOINTS = 2


@dataclasses.dataclass
class SweepRecord:
    """``sweeps/<sweep>/sweep.json``: where a sweep's pieces live."""

    sweep_name: str
    study_file: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    storage_dir: str
    project_dir: str
    created: str
    state: str = "running"
    best: dict | None = None

    @classmethod
    def load(cls, project_dir: Path, sweep_name: str) -> "SweepRecord":
        path = project_dir / "sweeps" / sweep_name / "sweep.json"
        if not path.is_file():
            known = sorted(p.name for p in (project_dir / "sweeps").glob("*") if p.is_dir())
            raise FileNotFoundError(f"no sweep {sweep_name!r} in {project_dir}; sweeps there: {known}")
        return cls(**json.loads(path.read_text()))

    def save(self) -> None:
        folder = Path(self.project_dir) / "sweeps" / self.sweep_name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep.json").write_text(json.dumps(dataclasses.asdict(self), indent=2))


def apply_study_overrides(study_file: Path, overrides: Sequence[str], out_file: Path) -> Path:
    """Write ``study_file`` with ``key=value`` overrides applied: keys under a study section
    (``budget.num_samples=4``) change the study, any other dotted key becomes a fixed config
    override (``training.train_batch_size=4``). ``base_config`` is made absolute."""
    raw = yaml.safe_load(study_file.read_text()) or {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise StudyError(item, "overrides are key=value", str(study_file))
        value = yaml.safe_load(text)
        section, _, field = key.partition(".")
        if section in STUDY_SECTIONS:
            target = raw.setdefault(section, {}) if field else raw
            target[field or section] = value
        else:
            raw.setdefault("overrides", {})[key] = value
    base = raw.get("base_config", "demo")
    if base not in DEMO_BASES:
        raw["base_config"] = str((study_file.parent / base).resolve())
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    return out_file


def _max_t(study: Study, demo_dir: str | None) -> int:
    cfg = base_config(study, demo_dir)
    epochs = study.budget.max_epochs or int(cfg.training.max_epochs)
    return max_reports(epochs, int(cfg.training.check_val_every_n_epoch or 1))


def dry_run(study: Study, demo_dir: str | None, printer: Callable[[str], None] = print) -> None:
    """Print the number of trials, resources and two composed example configs; start nothing."""
    resources = study.resources
    printer(f"study {study.name} ({study.path})")
    printer(f"trials: {num_trials(study)} (searcher {study.searcher.name}, scheduler {study.scheduler.name}, "
            f"at most {study.budget.max_concurrent_trials or 'unlimited'} at once)")
    if resources.workers == 1:
        printer(f"resources per trial: {resources.cpus} CPU, {resources.gpus} GPU, 1 worker(s)")
    else:
        printer(f"resources per trial: {resources.workers} DDP workers x ({resources.cpus} CPU, {resources.gpus} GPU) "
                f"+ a {DRIVER_CPUS}-CPU driver; batch sizes are split across the workers")
    printer(f"objective: {study.objective.mode} {study.objective.metric}; up to {_max_t(study, demo_dir)} reports per trial")
    for i in range(2):
        sampled = sample_parameters(study, RandomSuggester(seed=i))
        cfg = compose_trial_config(study, sampled, demo_dir)
        printer(f"--- example trial {i + 1}: {render_value(sampled)}")
        printer(yaml.safe_dump(_plain(cfg), sort_keys=False).rstrip())


def _plain(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg, resolve=True)


def demo_folder(study: Study, project_dir: Path) -> str | None:
    """The demo project a ``demo`` study trains on (generated on first use), else None."""
    if study.base_config not in DEMO_BASES:
        return None
    folder = project_dir / "demo" / study.base_config
    prepare_demo_project(study, folder)
    return str(folder)


def _study_summary(study: Study) -> dict:
    return {
        "study": Path(study.path).name,
        "searcher": study.searcher.name,
        "scheduler": study.scheduler.name,
        "num_trials": num_trials(study),
        "metric": study.objective.metric,
        "mode": study.objective.mode,
        "base_config": study.base_config,
        "resources": f"{study.resources.cpus} cpu, {study.resources.gpus} gpu, {study.resources.workers} workers",
    }


def launch(
    study_file: str | os.PathLike,
    overrides: Sequence[str] = (),
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    tracking_uri: str | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    printer: Callable[[str], None] = print,
    storage_path: str | None = None,
) -> SweepRecord:
    """Check the study, set up tracking, run every trial, record the best. Returns the record.
    ``storage_path``: where Ray keeps trial results and checkpoints (default
    ``<project>/ray_results``); a folder every node mounts, or a URI such as ``s3://bucket/prefix``."""
    project = Path(project_dir).resolve()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    raw_name = (yaml.safe_load(Path(study_file).read_text()) or {}).get("name", Path(study_file).stem)
    sweep_name = f"{raw_name}-{stamp}"
    resolved = apply_study_overrides(Path(study_file), overrides, project / "sweeps" / sweep_name / "study.yaml")
    study = load_study(resolved)  # everything is validated here, before Ray starts
    storage = check_storage(storage_path or str(project / "ray_results"))
    demo_dir = demo_folder(study, project)
    uri = tracking_uri or default_tracking_uri(project)
    tracker = SweepTracker(uri, study.name)
    parent = tracker.start_sweep(sweep_name, params=_study_summary(study), tags={"lp_sweeps.study_file": str(Path(study_file).resolve())})
    record = SweepRecord(
        sweep_name=sweep_name, study_file=str(resolved), tracking_uri=uri, experiment_id=tracker.experiment_id,
        parent_run_id=parent, storage_dir=storage, project_dir=str(project),
        created=datetime.datetime.now().isoformat(timespec="seconds"),
    )
    record.save()
    printer(f"sweep {sweep_name}: {num_trials(study)} trials; MLflow {uri}; results in {record.storage_dir}")
    return _run(record, study, demo_dir, address, num_cpus, resume=False, printer=printer)


def resume(
    sweep_name: str,
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    address: str | None = None,
    num_cpus: int | None = None,
    printer: Callable[[str], None] = print,
) -> SweepRecord:
    """Continue an interrupted sweep: finished trials are kept, unfinished ones continue from
    their checkpoints, and each keeps its one MLflow child run."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    study = load_study(record.study_file)
    demo_dir = demo_folder(study, Path(record.project_dir))
    SweepTracker(record.tracking_uri, study.name).start_sweep(sweep_name)
    printer(f"resuming sweep {sweep_name}")
    return _run(record, study, demo_dir, address, num_cpus, resume=True, printer=printer)


def _run(record: SweepRecord, study: Study, demo_dir: str | None, address: str | None, num_cpus: int | None,
         resume: bool, printer: Callable[[str], None]) -> SweepRecord:
    context = TrialContext(
        study_path=record.study_file, demo_dir=demo_dir, tracking_uri=record.tracking_uri,
        experiment_id=record.experiment_id, parent_run_id=record.parent_run_id, sweep_name=record.sweep_name,
        cache_dir=str(Path(record.project_dir) / "cache"), spool_dir=str(Path(record.project_dir) / "spool"),
        storage_dir=record.storage_dir,
        # on a cluster, each node copies the data to its own scratch space once
        stage_data=bool(address or os.environ.get("RAY_ADDRESS")),
    )
    temp_dir = tempfile.mkdtemp(prefix="lpray-")
    connect(address, num_cpus, temp_dir, runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}},
            dashboard=study.resources.workers > 1)
    try:
        ended_file = str(Path(record.project_dir) / "sweeps" / record.sweep_name / "ended_trials.txt")
        outcome = fit_sweep(study, context, record.storage_dir, _max_t(study, demo_dir), resume=resume,
                            printer=printer, ended_file=ended_file)
    finally:
        disconnect()
    if all(trial.status != "ERROR" for trial in outcome.trials):
        shutil.rmtree(temp_dir, ignore_errors=True)  # Ray session logs; kept when a trial failed
    else:
        printer(f"Ray session logs of the failed trials: {temp_dir}")
    printer(f"tuner wall {outcome.wall_time_s:.1f} s")
    if outcome.interrupted:
        record.state = "interrupted"
        record.save()
        printer(f"sweep interrupted; continue it with: lp-sweep --project-dir {record.project_dir} resume {record.sweep_name}")
        return record
    record.best = _finish(record, study, demo_dir, outcome, printer)
    record.state = "finished"
    record.save()
    return record


def _finish(record: SweepRecord, study: Study, demo_dir: str | None, outcome: SweepOutcome,
            printer: Callable[[str], None]) -> dict | None:
    """Final child statuses, the best trials' checkpoints, retention, registry, parent summary."""
    tracker = SweepTracker(record.tracking_uri, study.name)
    states = {t.trial_id: "FAILED" if t.status == "ERROR" else ("KILLED" if t.stopped_early else "FINISHED")
              for t in outcome.trials}
    late = deliver_spooled(record.tracking_uri, record.parent_run_id, record.experiment_id, record.sweep_name,
                           states, Path(record.project_dir) / "spool")
    if late:
        printer(f"delivered the metrics that trials {late} had left unsent to MLflow")
    children = tracker.child_runs(record.parent_run_id)
    for trial in outcome.trials:
        if trial.trial_id in children:
            tracker.close_trial(children[trial.trial_id], states[trial.trial_id],
                                {"lp_sweeps.stopped_early": str(trial.stopped_early).lower()})
    sign = 1 if study.objective.mode == "min" else -1
    ranked = sorted((t for t in outcome.trials if t.metric is not None and t.trial_id in children), key=lambda t: sign * t.metric)
    if not ranked:
        printer("no trial reported the objective; see the Ray results folder for errors")
        return None
    with tempfile.TemporaryDirectory(prefix="lp-best-ckpt-") as downloads:  # used when storage is remote
        for trial in ranked[:KEEP_BEST_CHECKPOINTS]:
            if trial.checkpoint_dir:
                checkpoint = fetch_checkpoint(trial.checkpoint_dir, downloads)
                tracker.log_artifact(children[trial.trial_id], checkpoint, "checkpoints")
    tracker.apply_retention(record.parent_run_id, study.objective.metric, study.objective.mode,
                            keep_best_k=KEEP_BEST_CHECKPOINTS, scope="all")
    top = ranked[0]
    config = _plain(compose_trial_config(study, top.params, demo_dir))
    best = {"trial_id": top.trial_id, "run_id": children[top.trial_id], "metric": study.objective.metric,
            "value": top.metric, "params": top.params, "config": config}
    if top.checkpoint_dir:
        best["model_version"] = tracker.register_best_model(children[top.trial_id], f"checkpoints/{CHECKPOINT_FILE}", study.name)
    tracker.finish_sweep(record.parent_run_id, best)
    printer(f"best trial {top.trial_id}: {study.objective.metric} = {top.metric:.4f} ({render_value(top.params)})")
    printer(f"open the MLflow UI: lp-sweep ui --project-dir {record.project_dir}")
    return {k: v for k, v in best.items() if k != "config"}


def status(project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR, sweep_name: str | None = None) -> list[dict]:
    """One row per sweep (no name), or one row per trial of ``sweep_name``."""
    project = Path(project_dir).resolve()
    if sweep_name is None:
        rows = []
        for path in sorted((project / "sweeps").glob("*/sweep.json")):
            record = SweepRecord(**json.loads(path.read_text()))
            rows.append({"sweep": record.sweep_name, "state": record.state, "created": record.created, "best": record.best})
        return rows
    record = SweepRecord.load(project, sweep_name)
    return search_children(record.tracking_uri, record.parent_run_id)


def best(sweep_name: str, project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
         output: str | os.PathLike | None = None) -> tuple[dict, Path]:
    """The best trial of a finished sweep and its config written as YAML (default ``best_config.yaml``)."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    if not record.best:
        raise ValueError(f"sweep {sweep_name!r} has no best trial yet (state: {record.state}); run or resume it first")
    study = load_study(record.study_file)
    cfg = compose_trial_config(study, record.best["params"], demo_folder(study, Path(record.project_dir)))
    out = Path(output or "best_config.yaml")
    out.write_text(yaml.safe_dump(_plain(cfg), sort_keys=False))
    return record.best, out
