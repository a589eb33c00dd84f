"""Running a sweep: launch, resume and sync, on top of the adapters.

A project folder (default ``./lp_sweeps_runs``) holds everything a sweep writes:

    mlruns.db, mlartifacts/   MLflow tracking store and artifacts (unless --tracking-uri is given)
    ray_results/<sweep>/      Ray Tune experiment: trial results and checkpoints (storage_path, unless
                              --storage-path puts them elsewhere, e.g. s3://bucket/prefix)
    sweeps/<sweep>/           sweep.json: the parsed study, where everything is, how the trials ended
    optuna.db                 the searchers' Optuna studies (optuna-dashboard sqlite:///.../optuna.db)
    spool/                    what trials could not send to MLflow yet (sent by the trials or at the end)
    demo/                     the demo project, generated when a study asks for it
    cache/                    decoded video frames shared by the trials on this machine

The Ray cluster is joined (or started) before anything is recorded, and the study's per-trial
resources are checked against its nodes, so a trial that can never be placed fails at launch.
"""

import contextlib
import dataclasses
import datetime
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Optional

import yaml

from lightning_pose.config import to_plain
from lightning_pose.data.image_check import check_config_images
from lp_sweeps.adapters.optuna import WarmTrial, default_storage_url
from lp_sweeps.adapters.outcomes import TrialOutcome
from lp_sweeps.adapters.ray_train import DRIVER_CPUS
from lp_sweeps.adapters.ray_tune import cluster_nodes, connect, disconnect, fit_sweep
from lp_sweeps.adapters.storage import check_storage
from lp_sweeps.study import (
    DEMO_BASES, Study, base_config, compose_trial_config, load_study, num_trials, prepare_demo_project,
    sample_parameters,
)
from lp_sweeps.study.checks import check_train_frames
from lp_sweeps.study.errors import study_source
from lp_sweeps.progress import print_line
from lp_sweeps.study.space import RandomSuggester, render_value
from lp_sweeps.study.trials import max_reports
from lp_sweeps.sweep.finish import TrackingUnreachable, finish_sweep
from lp_sweeps.sweep.pareto import report_pareto_front
from lp_sweeps.sweep.placement import NodeResources, PlacementError, placement_problem
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.sweep.replicates import run_replicates
from lp_sweeps.sweep.results import results_plan
from lp_sweeps.sweep.session_folder import PREFIX, Keep, SessionFolder, reap_dead_sessions
from lp_sweeps.sweep.warm_start import load_warm_start
from lp_sweeps.tracking import TRACKING_PATIENCE_S, SweepTracker, default_tracking_uri
from lp_sweeps.trial import TrialContext

__all__ = ["DEFAULT_PROJECT_DIR", "TRACKING_TIMEOUT_S", "demo_folder", "dry_run", "launch", "resume", "sync"]

DEFAULT_PROJECT_DIR = "lp_sweeps_runs"
TRACKING_TIMEOUT_S = TRACKING_PATIENCE_S  # the --tracking-timeout default
_PLACEMENT_POLL_S = 2.0


def _schedule(study: Study, demo_dir: Optional[str]) -> tuple[int, int]:
    """(reports of a trial that runs to the end, the epoch of its last report)."""
    every = int(base_config(study, demo_dir).training.check_val_every_n_epoch or 1)
    reports = max_reports(study.budget.max_epochs, every)
    return reports, reports * every - 1


def _max_t(study: Study, demo_dir: Optional[str]) -> int:
    return _schedule(study, demo_dir)[0]


def dry_run(study: Study, demo_dir: Optional[str], printer: Callable[[str], None] = print_line) -> None:
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
    objectives = ", ".join(f"{mode} {metric}" for metric, mode in zip(study.metrics, study.modes))
    printer(f"objective: {objectives}; up to {_max_t(study, demo_dir)} reports per trial")
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
        "objectives": ", ".join(study.metrics),
        "base_config": study.base_config,
        "resources": f"{study.resources.cpus} cpu, {study.resources.gpus} gpu, {study.resources.workers} workers",
    }


def _check_placement(study: Study, printer: Callable[[str], None]) -> None:
    """Fail unless some node(s) of the connected cluster can hold a trial; on an autoscaling
    cluster wait up to ``resources.wait_for_nodes_s`` for them."""
    deadline = time.monotonic() + study.resources.wait_for_nodes_s
    while True:
        nodes = [NodeResources(n["address"], n["cpus"], n["gpus"]) for n in cluster_nodes()]
        problem = placement_problem(study.resources, nodes, DRIVER_CPUS)
        if problem is None:
            return
        if time.monotonic() >= deadline:
            waited = study.resources.wait_for_nodes_s
            suffix = f" (waited {waited:g} s for nodes, resources.wait_for_nodes_s)" if waited else ""
            raise PlacementError(f"{study.path}: resources: {problem}{suffix}")
        printer(f"waiting for nodes that can hold a trial: {problem}")
        time.sleep(_PLACEMENT_POLL_S)


@contextlib.contextmanager
def _ray_session(study: Study, address: Optional[str], num_cpus: Optional[int],
                 printer: Callable[[str], None]) -> Iterator[SessionFolder]:
    """Joins (or starts) the Ray cluster and checks placement; yields Ray's session folder, whose
    keep policy is applied once Ray has shut down. First frees what killed sweeps left in the
    temp dir."""
    reaped = reap_dead_sessions()
    if reaped:
        printer(f"removed the trials' working folders left by {len(reaped)} killed sweep(s) "
                f"(their Ray logs stay): {', '.join(str(folder) for folder in reaped)}")
    session = SessionFolder(tempfile.mkdtemp(prefix=PREFIX))
    try:
        connect(address, num_cpus, session.path, runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}},
                dashboard=study.resources.workers > 1,
                fork_server=study.resources.fork_server and study.resources.workers == 1)
        _check_placement(study, printer)
        yield session
    finally:
        disconnect()
        session.settle()


def launch(
    study_file: str | os.PathLike,
    overrides: Sequence[str] = (),
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    tracking_uri: Optional[str] = None,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    printer: Callable[[str], None] = print_line,
    storage_path: Optional[str] = None,
    tracking_timeout_s: float = TRACKING_TIMEOUT_S,
    warm_start: Optional[str] = None,
) -> SweepRecord:
    """Check the study, set up tracking, run every trial, record the best. Returns the record
    (its ``exit_code()`` says how the sweep ended). ``storage_path``: where Ray keeps trial results
    and checkpoints (default ``<project>/ray_results``); a folder every node mounts, or a URI such
    as ``s3://bucket/prefix``. ``tracking_timeout_s``: how long the end-of-sweep bookkeeping
    retries an unreachable tracking server. ``warm_start``: an earlier sweep of the project whose
    finished trials the searcher starts from."""
    study = load_study(study_file, overrides)  # read once and checked here, before anything starts
    project = Path(project_dir).resolve()
    warm = load_warm_start(project, warm_start, study) if warm_start else []
    demo_dir = _checked_data(study, project)
    storage = check_storage(storage_path or str(project / "ray_results"))
    with _ray_session(study, address, num_cpus, printer) as session:
        record = _new_record(study, study_file, project, storage, tracking_uri, demo_dir, warm_start, warm)
        printer(f"sweep {record.sweep_name}: {num_trials(study)} trials; MLflow {record.tracking_uri}; "
                f"results in {record.storage_dir}")
        if warm_start:
            printer(f"warm start: the searcher starts from {len(warm)} finished trials of sweep {warm_start}")
        return _run(record, study, address, session, False, printer, tracking_timeout_s, warm)


def _checked_data(study: Study, project: Path) -> Optional[str]:
    """The demo project (written on first use) of a demo study; every labeled image of the base
    config decodes and holds its labels (cached per file, so cheap on later sweeps)."""
    demo_dir = demo_folder(study, project)
    reference = base_config(study, demo_dir)
    with study_source(study.path):
        check_train_frames(reference, study.parameters, check_config_images(reference.data))
    return demo_dir


def _new_record(study: Study, study_file: str | os.PathLike, project: Path, storage: str,
                tracking_uri: Optional[str], demo_dir: Optional[str], warm_start: Optional[str] = None,
                warm: Sequence[WarmTrial] = ()) -> SweepRecord:
    sweep_name = f"{study.name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    uri = tracking_uri or default_tracking_uri(project)
    tracker = SweepTracker(uri, study.name)
    warm_summary = {"warm_start_from": warm_start, "warm_start_trials": len(warm)} if warm_start else {}
    parent = tracker.start_sweep(sweep_name, params={**_study_summary(study), **warm_summary},
                                 tags={"lp_sweeps.study_file": str(Path(study_file).resolve())})
    record = SweepRecord(
        sweep_name=sweep_name, study_file=str(Path(study_file).resolve()), tracking_uri=uri,
        experiment_id=tracker.experiment_id, parent_run_id=parent, storage_dir=storage, project_dir=str(project),
        created=datetime.datetime.now().isoformat(timespec="seconds"), study=dict(study.data),
        base=None if study.base is None else dict(study.base), demo_dir=demo_dir,
        optuna_storage=default_storage_url(project),
        warm_start={"sweep": warm_start, "trials": len(warm)} if warm_start else None,
    )
    record.save()
    return record


def resume(
    sweep_name: str,
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    address: Optional[str] = None,
    num_cpus: Optional[int] = None,
    printer: Callable[[str], None] = print_line,
    tracking_timeout_s: float = TRACKING_TIMEOUT_S,
) -> SweepRecord:
    """Continue an interrupted sweep: finished trials are kept, unfinished ones continue from
    their checkpoints, and each keeps its one MLflow child run. A sweep whose trials all ended
    only finishes its bookkeeping (as :func:`sync`)."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    if record.state in ("unsynced", "finished"):
        return sync(sweep_name, project_dir, printer, tracking_timeout_s)
    study = record.load_study()
    record.demo_dir = _checked_data(study, Path(record.project_dir))
    with _ray_session(study, address, num_cpus, printer) as session:
        SweepTracker(record.tracking_uri, study.name).start_sweep(sweep_name)
        printer(f"resuming sweep {sweep_name}")
        return _run(record, study, address, session, True, printer, tracking_timeout_s)


def sync(
    sweep_name: str,
    project_dir: str | os.PathLike = DEFAULT_PROJECT_DIR,
    printer: Callable[[str], None] = print_line,
    tracking_timeout_s: float = TRACKING_TIMEOUT_S,
) -> SweepRecord:
    """Finish the end-of-sweep bookkeeping of a sweep whose trials all ended (the tracking server
    was unreachable at its end): delivers every spooled record, closes the runs, records the best
    trial. Safe to run again; nothing is sent twice."""
    record = SweepRecord.load(Path(project_dir).resolve(), sweep_name)
    if record.trials is None:
        raise ValueError(f"sweep {sweep_name!r} has trials that did not end (state: {record.state}); "
                         f"continue it with: lp-sweep resume {sweep_name} --project-dir {record.project_dir}")
    study = record.load_study()
    trials = [TrialOutcome(**t) for t in record.trials]
    return _finish(record, study, trials, printer, tracking_timeout_s)


def _run(record: SweepRecord, study: Study, address: Optional[str], session: SessionFolder, resume: bool,
         printer: Callable[[str], None], tracking_timeout_s: float, warm: Sequence[WarmTrial] = ()) -> SweepRecord:
    context = TrialContext(
        demo_dir=record.demo_dir, tracking_uri=record.tracking_uri,
        experiment_id=record.experiment_id, parent_run_id=record.parent_run_id, sweep_name=record.sweep_name,
        cache_dir=str(Path(record.project_dir) / "cache"), spool_dir=str(Path(record.project_dir) / "spool"),
        storage_dir=record.storage_dir,
        # on a cluster, each node copies the data to its own scratch space once
        stage_data=bool(address or os.environ.get("RAY_ADDRESS")),
        tracking_patience_s=tracking_timeout_s,
    )
    ended_file = str(Path(record.project_dir) / "sweeps" / record.sweep_name / "ended_trials.txt")
    max_t, last_epoch = _schedule(study, record.demo_dir)
    outcome = fit_sweep(study, context, record.storage_dir, max_t, last_epoch, ended_file, resume=resume,
                        printer=printer, optuna_storage=record.optuna_storage, warm=warm)
    outcome.trials += run_replicates(record, study, context, outcome, max_t, last_epoch, printer)
    if any(t.status == "ERROR" for t in outcome.trials):
        session.keep_logs()
    if session.keep is not Keep.NOTHING:
        printer(f"Ray session logs: {session.path}")
    printer(f"tuner wall {outcome.wall_time_s:.1f} s")
    if outcome.interrupted:
        record.state = "interrupted"
        record.save()
        printer(f"sweep interrupted; continue it with: lp-sweep resume {record.sweep_name} "
                f"--project-dir {record.project_dir}")
        return record
    record.trials = [dataclasses.asdict(t) for t in outcome.trials]
    record.state = "unsynced"  # until the bookkeeping below is done
    record.save()
    return _finish(record, study, outcome.trials, printer, tracking_timeout_s)


def _finish(record: SweepRecord, study: Study, trials: Sequence[TrialOutcome], printer: Callable[[str], None],
            tracking_timeout_s: float) -> SweepRecord:
    try:
        record.best = finish_sweep(record, study, record.demo_dir, trials, tracking_timeout_s, printer)
        record.pareto_front = report_pareto_front(record, study, trials, printer)
    except TrackingUnreachable as err:
        printer(f"{err}. Every trial ended; their metrics are kept in {record.project_dir}/spool and their results "
                f"in {record.storage_dir}. Once the server is back, finish with: "
                f"lp-sweep sync {record.sweep_name} --project-dir {record.project_dir}")
        return record
    record.state = "finished"
    record.save()
    failed = [t.trial_id for t in trials if t.status == "ERROR"]
    if failed:
        printer(f"{len(failed)} trial(s) failed: {failed}")
    printer(f"open the MLflow UI: lp-sweep ui --project-dir {record.project_dir}")
    return record
