"""The one module that imports Ray Tune: cluster connection, the trainable, search and scheduling.

A trial is a Tune function trainable that calls :func:`lp_sweeps.trial.run_trial` with a
:class:`RayReporter`, or, with ``resources.workers`` > 1, starts a Ray Train run of that many
data-parallel workers (:mod:`lp_sweeps.train_adapter`) whose reports reach Tune through
``TuneReportCallback``. Optuna (TPE or random) proposes trials through Ray's ``OptunaSearch`` with a
define-by-run space; ``grid`` studies use Tune's grid search; ASHA or FIFO schedules them.
"""

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs
import ray
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

from lp_sweeps.optuna_adapter import define_by_run, make_sampler
from lp_sweeps.space import RandomSuggester
from lp_sweeps.study import Study, grid_points, num_trials, sample_parameters
from lp_sweeps.train_adapter import (
    CHECKPOINT_PATH_KEY, DRIVER_CPUS, DistributedTrial, checkpoint_file, concurrent_trials_that_fit,
    fit_distributed_trial, train_storage_path,
)
from lp_sweeps.trial import CHECKPOINT_FILE, SAMPLED_PARAMS_FILE, TrialContext, run_trial

__all__ = [
    "RayReporter",
    "SweepOutcome",
    "TrialOutcome",
    "connect",
    "check_storage",
    "disconnect",
    "fetch_checkpoint",
    "fit_sweep",
    "max_reports",
    "sweep_exists",
]

logger = logging.getLogger(__name__)


_STARTED_LOCAL = {"value": False}


def connect(
    address: str | None, num_cpus: int | None, temp_dir: str | None, runtime_env: dict | None = None,
    dashboard: bool = False,
) -> None:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``), else start a local one. Data-parallel
    trials need the local one's dashboard (Ray Train cleans up stopped runs through its state API)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=True)
        return
    ray.init(
        address="local",  # a new local instance, never a cluster some other `ray start` left behind
        num_cpus=num_cpus,
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        log_to_driver=False,  # trial logs stay in the Ray session folder; the driver prints progress
        _temp_dir=temp_dir,
        runtime_env=runtime_env,
        configure_logging=False,
    )
    _STARTED_LOCAL["value"] = True


def disconnect() -> None:
    if ray.is_initialized():
        ray.shutdown()
    if _STARTED_LOCAL["value"]:
        # never hand the address of the cluster that is gone now to a later sweep or child process
        os.environ.pop("RAY_ADDRESS", None)
        _STARTED_LOCAL["value"] = False


class RayReporter:
    """:class:`lp_sweeps.trial.TrialReporter` for a Tune function trainable."""

    def __init__(self) -> None:
        context = tune.get_context()
        self.trial_id = context.get_trial_id()
        self.trial_name = context.get_trial_name()
        self.trial_dir = context.get_trial_dir()
        self.node_ip = ray.util.get_node_ip_address()

    def resume_checkpoint(self) -> str | None:
        return checkpoint_file(tune.get_checkpoint(), Path(self.trial_dir) / "resume")

    def report(self, metrics: dict[str, float], checkpoint_dir: str) -> None:
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(checkpoint_dir))


def _trial_seed(trial_id: str) -> int:
    return int(hashlib.sha256(trial_id.encode()).hexdigest()[:8], 16)


def _trainable(config: dict, context: TrialContext, study: Study) -> None:
    reporter = RayReporter()
    sampled = config.get("params")
    if sampled is None:  # grid study: the grid point is fixed, the other parameters random
        sampled = sample_parameters(study, RandomSuggester(_trial_seed(reporter.trial_id)), config["grid_point"])
    Path(reporter.trial_dir, SAMPLED_PARAMS_FILE).write_text(json.dumps(sampled))
    if study.resources.workers == 1:
        run_trial(sampled, context, reporter, model_dir=os.path.join(reporter.trial_dir, "model"))
        return
    trial = DistributedTrial(
        trial_id=reporter.trial_id, trial_name=reporter.trial_name, sampled=sampled,
        workers=study.resources.workers, cpus_per_worker=study.resources.cpus, gpus_per_worker=study.resources.gpus,
        storage_path=train_storage_path(context.storage_dir, context.sweep_name),
        metric=study.objective.metric, mode=study.objective.mode,
    )
    fit_distributed_trial(trial, context, callbacks=[TuneReportCallback()])


def _trial_resources(study: Study) -> dict[str, float]:
    """What Tune reserves per trial: all of it for one process, only the driver for a Train run."""
    if study.resources.workers > 1:
        return {"cpu": DRIVER_CPUS}
    return {"cpu": study.resources.cpus, "gpu": study.resources.gpus}


def _concurrency(study: Study) -> int | None:
    """At most ``budget.max_concurrent_trials`` at once; data-parallel trials, by default, as many
    as the cluster's CPUs and GPUs hold."""
    if study.budget.max_concurrent_trials or study.resources.workers == 1:
        return study.budget.max_concurrent_trials
    return concurrent_trials_that_fit(study.resources.workers, study.resources.cpus, study.resources.gpus)


def max_reports(max_epochs: int, check_val_every_n_epoch: int) -> int:
    """Reports (validation epochs) a trial makes when it runs to the end: ASHA's ``max_t``."""
    return max(1, math.ceil(max_epochs / max(1, check_val_every_n_epoch)))


def _scheduler(study: Study, max_t: int):
    if study.scheduler.name == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=max_t,
        grace_period=min(study.scheduler.grace_period, max_t),
        reduction_factor=study.scheduler.reduction_factor,
    )


def _search(study: Study, limit: int | None) -> tuple[object | None, dict, int]:
    """(search algorithm, param_space, num_samples) for Tune; ``limit``: trials at once."""
    if study.searcher.name == "grid":
        return None, {"grid_point": tune.grid_search(grid_points(study))}, study.budget.num_samples
    search = OptunaSearch(
        space=define_by_run(study),
        metric=study.objective.metric,
        mode=study.objective.mode,
        sampler=make_sampler(study.searcher.name, study.searcher.seed),
    )
    return (ConcurrencyLimiter(search, max_concurrent=limit) if limit else search), {}, num_trials(study)


@dataclasses.dataclass
class TrialOutcome:
    trial_id: str
    status: str  # TERMINATED | ERROR
    iterations: int
    metric: float | None
    params: dict
    checkpoint_dir: str | None  # its best kept checkpoint: a folder, or a URI (see fetch_checkpoint)
    stopped_early: bool


@dataclasses.dataclass
class SweepOutcome:
    trials: list[TrialOutcome]
    storage_dir: str
    wall_time_s: float
    interrupted: bool  # stopped (Ctrl-C, driver killed) before every trial ended: resume it
    ended: set[str]  # ids of the trials that ended, this run or an earlier one


class _Progress(tune.Callback):
    """Prints trials done / running / stopped early, the best value so far and the elapsed time."""

    def __init__(
        self, metric: str, mode: str, max_t: int, total: int, printer: Callable[[str], None], ended_file: str
    ) -> None:
        self.metric, self.mode, self.max_t, self.total, self.printer = metric, mode, max_t, total, printer
        # trials whose end the scheduler reported; a file, because a restored sweep runs the
        # callback object saved with the experiment, not a new one
        self.ended_file = ended_file
        self.start = time.time()
        self.best: tuple[float, str] | None = None
        self.iterations: dict[str, int] = {}
        self.done = self.stopped = self.failed = 0
        self.running: set[str] = set()

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.running.add(trial.trial_id)
        self._print(f"trial {trial.trial_id} started")

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self.iterations[trial.trial_id] = int(result.get("training_iteration", 0))
        value = result.get(self.metric)
        if value is not None and (self.best is None or (value < self.best[0]) == (self.mode == "min")):
            self.best = (float(value), trial.trial_id)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.running.discard(trial.trial_id)
        self._ended(trial.trial_id)
        self.done += 1
        early = self.iterations.get(trial.trial_id, 0) < self.max_t
        self.stopped += int(early)
        self._print(f"trial {trial.trial_id} {'stopped early' if early else 'finished'}")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.running.discard(trial.trial_id)
        self._ended(trial.trial_id)
        self.failed += 1
        self._print(f"trial {trial.trial_id} failed")

    def _ended(self, trial_id: str) -> None:
        with open(self.ended_file, "a") as stream:
            stream.write(trial_id + "\n")

    def _print(self, event: str) -> None:
        best = "n/a" if self.best is None else f"{self.best[0]:.3f} (trial {self.best[1]})"
        self.printer(
            f"[{time.time() - self.start:6.0f}s] {event} | done {self.done}/{self.total} "
            f"(stopped early {self.stopped}, failed {self.failed}), running {len(self.running)} | "
            f"best {self.metric}: {best}"
        )


def check_storage(storage_path: str) -> str:
    """The storage path as Ray will use it (a local folder made absolute, or a URI such as
    ``s3://bucket/prefix``), after checking that it can be written; a clear error otherwise."""
    if not urlparse(storage_path).scheme:
        storage_path = str(Path(storage_path).resolve())
    try:
        filesystem, path = pyarrow.fs.FileSystem.from_uri(storage_path)  # absolute local paths too
        filesystem.create_dir(path, recursive=True)
        if filesystem.get_file_info(path).type != pyarrow.fs.FileType.Directory:
            raise OSError("it is not a directory")
    except (OSError, ValueError) as err:  # pyarrow's errors derive from these
        raise ValueError(f"cannot use storage path {storage_path!r} for trial results and checkpoints: {err}") from None
    return storage_path


def _checkpoint_ref(path: str, storage_dir: str) -> str:
    """A kept checkpoint's location as a plain path (local or shared filesystem) or a URI."""
    scheme = urlparse(storage_dir).scheme
    return path if scheme in ("", "file") or "://" in path else f"{scheme}://{path}"


def fetch_checkpoint(ref: str, folder: str | os.PathLike) -> Path:
    """The checkpoint file of a kept checkpoint as a local file: the file itself on a local or
    shared filesystem, else a copy downloaded into ``folder``."""
    if "://" not in ref:
        return Path(ref) / CHECKPOINT_FILE
    local = Path(folder, hashlib.sha256(ref.encode()).hexdigest()[:16])
    tune.Checkpoint(ref).to_directory(str(local))
    return local / CHECKPOINT_FILE


def sweep_exists(storage_dir: str, sweep_name: str) -> bool:
    return tune.Tuner.can_restore(os.path.join(storage_dir, sweep_name))


def fit_sweep(
    study: Study,
    context: TrialContext,
    storage_dir: str,
    max_t: int,
    resume: bool = False,
    printer: Callable[[str], None] = print,
    ended_file: str | None = None,
) -> SweepOutcome:
    """Run (or resume) the sweep; blocks until every trial has ended or the run is interrupted.
    ``ended_file`` collects the ids of the trials that ended, across runs of the sweep."""
    trainable = tune.with_resources(tune.with_parameters(_trainable, context=context, study=study), _trial_resources(study))
    ended_file = ended_file or os.path.join(storage_dir, f"{context.sweep_name}.ended")
    progress = _Progress(study.objective.metric, study.objective.mode, max_t, num_trials(study), printer, ended_file)
    start = time.time()
    if resume:
        tuner = tune.Tuner.restore(
            os.path.join(storage_dir, context.sweep_name), trainable, resume_unfinished=True, resume_errored=True
        )
    else:
        limit = _concurrency(study)
        search, param_space, num_samples = _search(study, limit)
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=study.objective.metric,
                mode=study.objective.mode,
                search_alg=search,
                scheduler=_scheduler(study, max_t),
                num_samples=num_samples,
                max_concurrent_trials=limit,
                time_budget_s=study.budget.time_budget_s,
                # a Train run's driver cannot be reused (its Tune session holds the run's report queue)
                reuse_actors=study.resources.workers == 1,
            ),
            run_config=tune.RunConfig(
                name=context.sweep_name,
                storage_path=storage_dir,
                failure_config=tune.FailureConfig(max_failures=2),
                # the two best checkpoints by the objective (Tune always keeps the latest for retries)
                sync_config=tune.SyncConfig(sync_artifacts=True),  # sampled_params.json, with remote storage
                checkpoint_config=tune.CheckpointConfig(
                    num_to_keep=2,
                    checkpoint_score_attribute=study.objective.metric,
                    checkpoint_score_order=study.objective.mode,
                ),
                callbacks=[progress],
                verbose=0,
            ),
        )
    results = tuner.fit()
    budget = study.budget.time_budget_s
    out_of_time = budget is not None and time.time() - start >= budget
    # Tune's ResultGrid does not say whether a trial was cut short by an interrupt, so count the
    # trials whose end the scheduler reported (this run or an earlier one)
    ended = set(Path(ended_file).read_text().split()) if os.path.exists(ended_file) else set()
    trial_ids = {str((r.metrics or {}).get("trial_id") or Path(r.path).name) for r in results}
    interrupted = not out_of_time and (len(results) < num_trials(study) or not trial_ids <= ended)
    path = os.path.join(storage_dir, context.sweep_name)
    return SweepOutcome(_outcomes(results, study, max_t, storage_dir), path, time.time() - start, interrupted, ended)


def _best_report(result, metric: str, mode: str, storage_dir: str) -> tuple[float | None, str | None]:
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
        return value, None if latest is None else _checkpoint_ref(latest, storage_dir)
    best = min(scored, key=lambda item: item[0] if mode == "min" else -item[0])
    return value, _checkpoint_ref(best[1], storage_dir)


def _sampled_params(result) -> dict:
    """The values the trial trained with (grid trials sample their non-grid values themselves)."""
    try:
        with result.filesystem.open_input_stream(f"{result.path}/{SAMPLED_PARAMS_FILE}") as stream:
            return json.loads(stream.read())
    except (FileNotFoundError, OSError):
        return result.config.get("params") or {}


def _outcomes(results, study: Study, max_t: int, storage_dir: str) -> list[TrialOutcome]:
    outcomes = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        iterations = int(metrics.get("training_iteration", 0))
        value, checkpoint = _best_report(result, study.objective.metric, study.objective.mode, storage_dir)
        outcomes.append(
            TrialOutcome(
                trial_id=str(trial_id),
                status="ERROR" if result.error else "TERMINATED",
                iterations=iterations,
                metric=value,
                params=_sampled_params(result),
                checkpoint_dir=checkpoint,
                stopped_early=result.error is None and iterations < max_t,
            )
        )
    return outcomes
