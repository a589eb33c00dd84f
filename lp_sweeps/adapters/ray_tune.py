"""The driver's side of the Ray Tune adapter: the cluster connection (and a local sweep's fork
server), search and scheduling, and the sweep's run.

A trial is a Tune function trainable (:mod:`lp_sweeps.adapters.ray_tune_trial`). On a Ray this
module started, it runs in a process forked from a fork server (:mod:`lp_sweeps.forkserver`) that
imported the trial code while Ray started, and its Tune actor only relays
(:mod:`lp_sweeps.adapters.ray_tune_relay`); on a cluster, and for data-parallel trials, it runs in
its Tune actor. These three modules are the only ones that import Ray Tune; only the driver imports
this one. The searcher is a :class:`GridSearcher`: every grid combination ``budget.num_samples``
times, and within each combination one ``OptunaSearch`` with the sampler of the study's searcher
(:mod:`lp_sweeps.search.searchers`), whose Optuna study is kept in the project's Optuna storage
(:mod:`lp_sweeps.adapters.optuna`). The scheduler comes from its registered plan
(:mod:`lp_sweeps.search.schedulers`). A multi-objective study hands Optuna every metric (Ray's
``OptunaSearch`` takes metric and mode lists) and runs under a scheduler that needs none.
"""

import json
import logging
import os
import pickle
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional, Union

import ray
from ray import tune
from ray.tune.schedulers import TrialScheduler, create_scheduler
from ray.tune.search import Searcher
from ray.tune.execution import class_cache
from ray.tune.search.optuna import OptunaSearch

from lp_sweeps.adapters.optuna import (
    DefineByRun, WarmTrial, add_warm_trials, create_sweep_studies, make_sampler, open_storage,
)
from lp_sweeps.adapters.ray_train import CHECKPOINT_PATH_KEY, DRIVER_CPUS, concurrent_trials_that_fit
from lp_sweeps.adapters.outcomes import SweepOutcome, TrialOutcome
from lp_sweeps.adapters import ray_tune_relay, ray_tune_trial
from lp_sweeps.adapters.ray_tune_trial import TRIAL_NUMBER_KEY
from lp_sweeps.adapters.storage import checkpoint_ref
from lp_sweeps.forkserver import ForkServer
from lp_sweeps.search import SCHEDULERS, SEARCHERS, GridPlan, SchedulerPlan, runs_without_searcher
from lp_sweeps.study import Study, grid_points, num_trials
from lp_sweeps.study.trials import random_population
from lp_sweeps.progress import ProgressBoard, print_line, read_ended
from lp_sweeps.study.metrics import EPOCH, METRICS
from lp_sweeps.trial import SAMPLED_PARAMS_FILE, TrialContext
from lp_sweeps.trial.runner import epoch_objective

__all__ = ["GridSearcher", "SweepOutcome", "TrialOutcome", "cluster_nodes", "connect", "disconnect",
           "fit_replicates", "fit_sweep", "make_scheduler"]

logger = logging.getLogger(__name__)

_STARTED_LOCAL = {"value": False}
_FORK_SERVER: dict[str, ForkServer] = {}  # the local Ray's fork server, while it runs
FORK_SERVER_PRELOAD = [ray_tune_trial.__name__]  # what the fork server imports: all a trial needs
# Ray Tune copies these credentials from the driver into every trial's runtime_env, and Ray's
# runtime-env agent writes runtime_envs to its log in clear text. Trials do not need the copy: on a
# local Ray they inherit the driver's environment, and on a cluster every node reads its own
# (docs/scaling_out.md), so they are left out.
SECRET_ENV_VARS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"})
class_cache.ENV_VARS_TO_PROPAGATE.difference_update(SECRET_ENV_VARS)
TRIAL_ENV_VARS = {"TUNE_FUNCTION_THREAD_TIMEOUT_S": "600"}  # see connect()


def connect(address: Optional[str], num_cpus: Optional[int], temp_dir: Optional[str],
            runtime_env: Optional[dict] = None, dashboard: bool = False, fork_server: bool = False) -> None:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``), else start a local one. Data-parallel
    trials need the local one's dashboard (Ray Train cleans up stopped runs through its state API).
    ``fork_server``: with a local Ray, first start the fork server its trials run from."""
    if ray.is_initialized():
        return
    # a stopped trial trains on to its next report; Tune waits 2 s for that before reusing its actor
    # and then aborts the next trial (which never runs): wait as long as an epoch may take
    runtime_env = dict(runtime_env or {})
    runtime_env["env_vars"] = {**TRIAL_ENV_VARS, **runtime_env.get("env_vars", {})}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        return
    if fork_server:  # before Ray: its imports overlap Ray's start-up
        _FORK_SERVER["server"] = ForkServer.start(FORK_SERVER_PRELOAD)
    ray.init(
        address="local",  # a new local instance, never a cluster some other `ray start` left behind
        num_cpus=num_cpus, include_dashboard=dashboard, dashboard_host="127.0.0.1",
        log_to_driver=False,  # trial logs stay in the Ray session folder; the driver prints progress
        _temp_dir=temp_dir, runtime_env=runtime_env, configure_logging=False,
    )
    _STARTED_LOCAL["value"] = True


def cluster_nodes() -> list[dict]:
    """The alive nodes of the connected cluster: ``{"address", "cpus", "gpus"}`` each."""
    return [{"address": str(node.get("NodeManagerAddress", "?")), "cpus": float(node["Resources"].get("CPU", 0.0)),
             "gpus": float(node["Resources"].get("GPU", 0.0))} for node in ray.nodes() if node.get("Alive")]


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()
    if "server" in _FORK_SERVER:  # after Ray: the trials' forked processes end with their actors
        _FORK_SERVER.pop("server").stop()
    if _STARTED_LOCAL["value"]:
        # never hand the address of the cluster that is gone now to a later sweep or child process
        os.environ.pop("RAY_ADDRESS", None)
        _STARTED_LOCAL["value"] = False


def _make_trainable(study: Study, context: TrialContext):
    """The trials' Tune trainable: relayed to a forked process while a fork server runs, else the
    trial in its actor. Both functions are named ``_trainable``: Tune checks that name when it
    resumes a sweep, and earlier versions named the trainable so."""
    server = _FORK_SERVER.get("server")
    if server is not None and study.resources.workers == 1:
        trainable = tune.with_parameters(ray_tune_relay._trainable, payload=pickle.dumps((context, study)),
                                         server=server.address)
    else:
        trainable = tune.with_parameters(ray_tune_trial._trainable, context=context, study=study)
    return tune.with_resources(trainable, _trial_resources(study))


def _trial_resources(study: Study) -> dict[str, float]:
    """What Tune reserves per trial: all of it for one process, only the driver for a Train run."""
    if study.resources.workers > 1:
        return {"cpu": DRIVER_CPUS}
    return {"cpu": study.resources.cpus, "gpu": study.resources.gpus}


def _concurrency(study: Study) -> Optional[int]:
    """At most ``budget.max_concurrent_trials`` at once; data-parallel trials, by default, as many
    as the cluster's CPUs and GPUs hold."""
    if study.budget.max_concurrent_trials or study.resources.workers == 1:
        return study.budget.max_concurrent_trials
    return concurrent_trials_that_fit(study.resources.workers, study.resources.cpus, study.resources.gpus)


class GridSearcher(Searcher):
    """Every grid combination ``plan.num_samples`` times (:class:`lp_sweeps.search.GridPlan`),
    the rest proposed by the inner searcher of the trial's combination."""

    def __init__(self, plan: GridPlan, inner: list[Searcher], metric: Union[str, list[str]],
                 mode: Union[str, list[str]]) -> None:
        super().__init__(metric=metric, mode=mode)
        self.plan, self.inner = plan, inner
        self.suggested = 0  # trials proposed so far: each trial's number in the sweep (t01, t02, ...)

    def set_search_properties(self, metric: Optional[str], mode: Optional[str], config: dict, **spec) -> bool:
        return True  # the inner searchers were built with the study's metric and mode

    def suggest(self, trial_id: str):
        index = self.plan.assign(trial_id)
        if index is None:
            return Searcher.FINISHED
        config = self.inner[index].suggest(trial_id)
        if isinstance(config, dict):
            self.suggested += 1
            config = {**config, TRIAL_NUMBER_KEY: self.suggested}
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        index = self.plan.point_of(trial_id)
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        # an objective measured after training (the video stage) is in the last report only
        if index is not None and all(metric in result for metric in metrics):
            self.inner[index].on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        index = self.plan.point_of(trial_id)
        if index is not None:
            self.inner[index].on_trial_complete(trial_id, result=result, error=error)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as stream:
            pickle.dump(self.__dict__, stream)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as stream:
            self.__dict__.update(pickle.load(stream))


def _objective(study: Study) -> tuple[Union[str, list[str]], Union[str, list[str]]]:
    """Metric and mode for the searchers: lists for a multi-objective study."""
    if study.multi_objective:
        return study.metrics, study.modes
    return study.objective.metric, study.objective.mode


def _searcher(study: Study, sweep_name: str, storage_url: Optional[str], warm: Sequence[WarmTrial]) -> GridSearcher:
    """One OptunaSearch per grid combination, each on its persisted Optuna study (given the finished
    ``warm`` trials of an earlier sweep)."""
    points = grid_points(study)
    plan = SEARCHERS.get(study.searcher.name)(dict(study.searcher.options))
    storage = open_storage(storage_url) if storage_url else None
    names = create_sweep_studies(storage, sweep_name, points, study) if storage else [None] * len(points)
    if warm:
        add_warm_trials(storage, names, warm)
    metric, mode = _objective(study)
    inner = [OptunaSearch(space=DefineByRun(study, point), metric=metric, mode=mode,
                          sampler=make_sampler(plan, seed_offset=len(warm)),
                          storage=storage, study_name=name) for point, name in zip(points, names)]
    return GridSearcher(GridPlan(len(points), study.budget.num_samples), inner, metric, mode)


def _search(study: Study, sweep_name: str, storage_url: Optional[str],
            warm: Sequence[WarmTrial]) -> tuple[Optional[GridSearcher], dict, int]:
    """(searcher, Tune's param space, num_samples): the study's searcher, or, under a scheduler
    that runs without one (PBT), every trial's values drawn at random up front, one trial each."""
    if runs_without_searcher(study.scheduler.name):
        return None, {"params": tune.grid_search(random_population(study, study.searcher.seed))}, 1
    return _searcher(study, sweep_name, storage_url, warm), {}, num_trials(study)


def make_scheduler(plan: SchedulerPlan) -> TrialScheduler:
    """``ray.tune.schedulers.create_scheduler(plan.scheduler, **plan.kwargs)``."""
    return create_scheduler(plan.scheduler, **plan.kwargs)


def _scheduler_plan(study: Study, max_t: int) -> SchedulerPlan:
    return SCHEDULERS.get(study.scheduler.name)(dict(study.scheduler.options), max_t, study.parameters)


class _ProgressCallback(tune.Callback):
    """Forwards Tune's trial events to the driver's :class:`ProgressBoard`."""

    def __init__(self, board: ProgressBoard) -> None:
        self.board = board

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.board.started(trial.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.board.result(trial.trial_id, int(result.get("training_iteration", 0)), result.get(self.board.metric))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.board.completed(trial.trial_id)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.board.errored(trial.trial_id)


def _new_tuner(trainable, study: Study, context: TrialContext, storage_dir: str, max_t: int,
               callback: tune.Callback, optuna_storage: Optional[str], warm: Sequence[WarmTrial]) -> tune.Tuner:
    plan = _scheduler_plan(study, max_t)
    one = not study.multi_objective  # several objectives: the searcher has them, Tune's config none
    searcher, param_space, num_samples = _search(study, context.sweep_name, optuna_storage, warm)
    return tune.Tuner(
        trainable, param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=study.objective.metric if one else None, mode=study.objective.mode if one else None,
            search_alg=searcher, scheduler=make_scheduler(plan), num_samples=num_samples,
            max_concurrent_trials=_concurrency(study), time_budget_s=study.budget.time_budget_s,
            # a Train run's driver cannot be reused (its Tune session holds the run's report queue)
            reuse_actors=study.resources.workers == 1,
        ),
        run_config=_run_config(study, context.sweep_name, storage_dir, callback, plan.checkpoints_to_keep),
    )


def _run_config(study: Study, name: str, storage_dir: str, callback: tune.Callback,
                keep: Optional[int]) -> tune.RunConfig:
    objective = epoch_objective(study)
    return tune.RunConfig(
        name=name, storage_path=storage_dir, failure_config=tune.FailureConfig(max_failures=2),
        sync_config=tune.SyncConfig(sync_artifacts=True),  # sampled_params.json, with remote storage
        # the best checkpoints by the objective (Tune always keeps the latest for retries)
        checkpoint_config=tune.CheckpointConfig(num_to_keep=keep, checkpoint_score_attribute=objective,
                                                checkpoint_score_order=METRICS[objective].mode),
        callbacks=[callback], verbose=0,
    )


def fit_sweep(study: Study, context: TrialContext, storage_dir: str, max_t: int, last_epoch: int, ended_file: str,
              resume: bool = False, printer: Callable[[str], None] = print_line, optuna_storage: Optional[str] = None,
              warm: Sequence[WarmTrial] = ()) -> SweepOutcome:
    """Run (or resume) the sweep; blocks until every trial has ended or the run is interrupted.
    ``max_t``: reports of a trial that runs to the end, ``last_epoch``: the epoch of its last
    report; ``ended_file`` collects the ids of the trials that ended, across runs of the sweep;
    ``optuna_storage`` keeps the searchers' studies (a resumed sweep's searcher continues them);
    ``warm`` are finished trials of an earlier sweep given to a new sweep's searcher."""
    trainable = _make_trainable(study, context)
    board = ProgressBoard(study.objective.metric, study.objective.mode, max_t, num_trials(study), printer, ended_file)
    if METRICS[study.objective.metric].stage != EPOCH:  # measured after training: only the last report has it
        os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    start = time.time()
    if resume:
        tuner = tune.Tuner.restore(os.path.join(storage_dir, context.sweep_name), trainable,
                                   resume_unfinished=True, resume_errored=True)
    else:
        tuner = _new_tuner(trainable, study, context, storage_dir, max_t, _ProgressCallback(board), optuna_storage, warm)
    results = tuner.fit()
    budget = study.budget.time_budget_s
    out_of_time = budget is not None and time.time() - start >= budget
    ended = read_ended(ended_file)
    trial_ids = {str((r.metrics or {}).get("trial_id") or Path(r.path).name) for r in results}
    interrupted = not out_of_time and (len(results) < num_trials(study) or not trial_ids <= ended)
    path = os.path.join(storage_dir, context.sweep_name)
    return SweepOutcome(_outcomes(results, study, last_epoch, storage_dir), path, time.time() - start, interrupted, ended)


def fit_replicates(study: Study, context: TrialContext, storage_dir: str, replicates: list[dict], max_t: int,
                   last_epoch: int, ended_file: str, printer: Callable[[str], None] = print_line) -> list[TrialOutcome]:
    """Train each replicate (``{"params", "group", "seed", "source_trial_id"}``) to the end, as
    many at once as the study allows; their results go to ``<storage>/<sweep>-replicates``."""
    trainable = _make_trainable(study, context)
    board = ProgressBoard(study.objective.metric, study.objective.mode, max_t, len(replicates), printer, ended_file)
    tuner = tune.Tuner(
        trainable, param_space={"replicate": tune.grid_search(replicates)},
        tune_config=tune.TuneConfig(num_samples=1, max_concurrent_trials=_concurrency(study),
                                    reuse_actors=study.resources.workers == 1),
        run_config=_run_config(study, f"{context.sweep_name}-replicates", storage_dir, _ProgressCallback(board), 2),
    )
    return _outcomes(tuner.fit(), study, last_epoch, storage_dir)


def _best_report(result, metric: str, mode: str, storage_dir: str) -> tuple[Optional[float], Optional[str]]:
    """The trial's best objective value over all its reports, and its best kept checkpoint."""
    frame = result.metrics_dataframe
    values = frame[metric].dropna() if frame is not None and metric in frame else None
    value = None if values is None or values.empty else float(values.min() if mode == "min" else values.max())
    scored = [(m.get(metric), c.path) for c, m in (result.best_checkpoints or []) if m.get(metric) is not None]
    if not scored and frame is not None and CHECKPOINT_PATH_KEY in frame and metric in frame:
        # a Train run's checkpoints: Tune only saw their locations; the Train run keeps the best two
        rows = frame[[metric, CHECKPOINT_PATH_KEY]].dropna()
        scored = list(zip(rows[metric], rows[CHECKPOINT_PATH_KEY]))
    if not scored:
        latest = result.checkpoint.path if result.checkpoint else None
        return value, None if latest is None else checkpoint_ref(latest, storage_dir)
    best = min(scored, key=lambda item: item[0] if mode == "min" else -item[0])
    return value, checkpoint_ref(best[1], storage_dir)


def _sampled_params(result) -> dict:
    """The values the trial trained with."""
    try:
        with result.filesystem.open_input_stream(f"{result.path}/{SAMPLED_PARAMS_FILE}") as stream:
            return json.loads(stream.read())
    except (FileNotFoundError, OSError):
        return (result.config or {}).get("params") or {}


def _outcomes(results, study: Study, last_epoch: int, storage_dir: str) -> list[TrialOutcome]:
    """How each trial ended; stopped early: its last report came before ``last_epoch`` (counted
    in epochs, which a trial restarted from a newer checkpoint than Tune knew keeps right)."""
    outcomes = []
    for result in results:
        metrics = result.metrics or {}
        iterations = int(metrics.get("training_iteration", 0))
        epoch = metrics.get("epoch")
        value, checkpoint = _best_report(result, study.objective.metric, study.objective.mode, storage_dir)
        last = metrics.get("timestamp")
        outcomes.append(TrialOutcome(
            trial_id=str(metrics.get("trial_id") or Path(result.path).name),
            status="ERROR" if result.error else "TERMINATED",
            iterations=iterations, metric=value, params=_sampled_params(result), checkpoint_dir=checkpoint,
            stopped_early=result.error is None and (epoch is None or int(epoch) < last_epoch),
            values={m: float(metrics[m]) for m in study.metrics if isinstance(metrics.get(m), (int, float))},
            start_time=None if last is None else float(last) - float(metrics.get("time_total_s", 0.0)),
            end_time=None if last is None else float(last), replicate=(result.config or {}).get("replicate"),
            number=(result.config or {}).get(TRIAL_NUMBER_KEY),
        ))
    return outcomes
