"""Running a sweep: launch and resume, on top of the adapters.

A project folder (default ``./lp_sweeps_runs``) holds everything a sweep writes:

    mlruns.db, mlartifacts/   MLflow tracking store and artifacts (unless --tracking-uri is given)
    ray_results/<sweep>/      Ray Tune experiment: trial results and checkpoints (storage_path, unless
                              --storage-path puts them elsewhere, e.g. s3://bucket/prefix)
    sweeps/<sweep>/           sweep.json: the parsed study and where everything is (what resume/status/best read)
    demo/                     the demo project, generated when a study asks for it
    cache/                    decoded video frames shared by the trials on this machine
"""

import datetime
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import yaml

from lightning_pose.config import to_plain
from lp_sweeps.adapters.ray_train import DRIVER_CPUS
from lp_sweeps.adapters.ray_tune import SweepOutcome, connect, disconnect, fit_sweep, max_reports
from lp_sweeps.adapters.storage import check_storage, fetch_checkpoint_file
from lp_sweeps.study import (
    DEMO_BASES, Study, base_config, compose_trial_config, load_study, num_trials, prepare_demo_project,
    sample_parameters,
)
from lp_sweeps.study.space import RandomSuggester, render_value
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.replicates import rank_outcomes, run_replicates, trial_config
from lp_sweeps.sweep.results import publish_results, results_plan
from lp_sweeps.tracking import CHECKPOINT_DIR, SweepTracker, default_tracking_uri, deliver_spooled
from lp_sweeps.trial import CHECKPOINT_FILE, TrialContext

__all__ = ["DEFAULT_PROJECT_DIR", "demo_folder", "dry_run", "launch", "resume"]

DEFAULT_PROJECT_DIR = "lp_sweeps_runs"
KEEP_BEST_CHECKPOINTS = 2


def _max_t(study: Study, demo_dir: Optional[str]) -> int:
    cfg = base_config(study, demo_dir)
    epochs = study.budget.max_epochs or int(cfg.training.max_epochs)
    return max_reports(epochs, int(cfg.training.check_val_every_n_epoch or 1))


def dry_run(study: Study, demo_dir: Optional[str], printer: Callable[[str], None] = print) -> None:
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
    printer(results_plan(study))
    for i in range(2):
        sampled = sample_parameters(study, RandomSuggester(seed=i))
        cfg = compose_trial_config(study, sampled, demo_dir)
        printer(f"--- example trial {i + 1}: {render_value(sampled)}")
        printer(yaml.safe_dump(to_plain(cfg), sort_keys=False).rstrip())


def demo_folder(study: Study, project_dir: Path) -> Optional[str]:
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
    tracking_uri: Optional[str] = None,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    printer: Callable[[str], None] = print,
    storage_path: Optional[str] = None,
) -> SweepRecord:
    """Check the study, set up tracking, run every trial, record the best. Returns the record.
    ``storage_path``: where Ray keeps trial results and checkpoints (default
    ``<project>/ray_results``); a folder every node mounts, or a URI such as ``s3://bucket/prefix``."""
    study = load_study(study_file, overrides)  # read once and checked here, before anything starts
    project = Path(project_dir).resolve()
    sweep_name = f"{study.name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    storage = check_storage(storage_path or str(project / "ray_results"))
    demo_dir = demo_folder(study, project)
    uri = tracking_uri or default_tracking_uri(project)
    tracker = SweepTracker(uri, study.name)
    parent = tracker.start_sweep(sweep_name, params=_study_summary(study),
                                 tags={"lp_sweeps.study_file": str(Path(study_file).resolve())})
    record = SweepRecord(
        sweep_name=sweep_name, study_file=str(Path(study_file).resolve()), tracking_uri=uri,
        experiment_id=tracker.experiment_id, parent_run_id=parent, storage_dir=storage, project_dir=str(project),
        created=datetime.datetime.now().isoformat(timespec="seconds"), study=dict(study.data),
        base=None if study.base is None else dict(study.base),
    )
    record.save()
    printer(f"sweep {sweep_name}: {num_trials(study)} trials; MLflow {uri}; results in {record.storage_dir}")
    return _run(record, study, demo_dir, address, num_cpus, resume=False, printer=printer)


def resume(
    sweep_name: str,
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    printer: Callable[[str], None] = print,
) -> SweepRecord:
    """Continue an interrupted sweep: finished trials are kept, unfinished ones continue from
    their checkpoints, and each keeps its one MLflow child run."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    study = record.load_study()
    demo_dir = demo_folder(study, Path(record.project_dir))
    SweepTracker(record.tracking_uri, study.name).start_sweep(sweep_name)
    printer(f"resuming sweep {sweep_name}")
    return _run(record, study, demo_dir, address, num_cpus, resume=True, printer=printer)


def _run(record: SweepRecord, study: Study, demo_dir: Optional[str], address: Optional[str], num_cpus: Optional[int],
         resume: bool, printer: Callable[[str], None]) -> SweepRecord:
    context = TrialContext(
        demo_dir=demo_dir, tracking_uri=record.tracking_uri,
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
        outcome = fit_sweep(study, context, record.storage_dir, _max_t(study, demo_dir), ended_file,
                            resume=resume, printer=printer)
        outcome.trials += run_replicates(record, study, context, outcome, _max_t(study, demo_dir), printer)
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


def _finish(record: SweepRecord, study: Study, demo_dir: Optional[str], outcome: SweepOutcome,
            printer: Callable[[str], None]) -> Optional[dict]:
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
                                {"lp_sweeps.stopped_early": str(trial.stopped_early).lower()}, ended_at=trial.end_time)
    ranked = rank_outcomes(study, [t for t in outcome.trials if t.trial_id in children])  # by configuration
    if not ranked:
        printer("no trial reported the objective; see the Ray results folder for errors")
        return None
    with tempfile.TemporaryDirectory(prefix="lp-best-ckpt-") as downloads:  # used when storage is remote
        for trial in ranked[:KEEP_BEST_CHECKPOINTS]:
            if trial.checkpoint_dir:
                checkpoint = fetch_checkpoint_file(trial.checkpoint_dir, CHECKPOINT_FILE, downloads)
                tracker.log_artifact(children[trial.trial_id], checkpoint, CHECKPOINT_DIR)
    tracker.apply_retention(record.parent_run_id, study.objective.metric, study.objective.mode,
                            keep_best_k=KEEP_BEST_CHECKPOINTS, scope="all",
                            keep=[children[t.trial_id] for t in ranked[:KEEP_BEST_CHECKPOINTS]])
    top = ranked[0]
    config = to_plain(trial_config(study, top.params, top.replicate, demo_dir))
    best = {"trial_id": top.trial_id, "run_id": children[top.trial_id], "metric": study.objective.metric,
            "value": top.metric, "params": top.params, "config": config, "replicate": top.replicate}
    if top.checkpoint_dir:
        best["model_version"] = tracker.register_best_model(children[top.trial_id], f"{CHECKPOINT_DIR}/{CHECKPOINT_FILE}",
                                                            study.name)
    tracker.finish_sweep(record.parent_run_id, best)
    publish_results(record, study, demo_dir, printer)  # ensembles, pictures, description, report
    printer(f"best trial {top.trial_id}: {study.objective.metric} = {top.metric:.4f} ({render_value(top.params)})")
    printer(f"open the MLflow UI: lp-sweep ui --project-dir {record.project_dir}")
    return {k: v for k, v in best.items() if k != "config"}
