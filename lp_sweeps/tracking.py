"""MLflow tracking adapter: the one module of lp_sweeps that imports mlflow.

One parent run per sweep (:class:`SweepTracker`, driver side) and exactly one nested child run
per trial (:class:`TrialTracker`, rank 0 of the trial). Only :class:`mlflow.MlflowClient` is used,
never the fluent global-state API, so several trackers can live in one process. Trial writes go
through the spooled buffer of :mod:`lp_sweeps.tracking_buffer`, so a tracking server outage does
not stop training and loses no metrics.
"""

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import requests
import sqlalchemy.exc
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from lp_sweeps.tracking_buffer import (
    CHECKPOINT_DIR,
    TrackingFlushError,
    TrackingSetupError,
    TrialLog,
)
from lp_sweeps.tracking_support import (
    Seconds,
    Spool,
    default_artifact_location,
    default_spool_dir,
    default_tracking_uri,
    finite_metrics,
    params_to_log,
    provenance_tags,
    sanitize_key,
    serialize_dict,
    spool_key,
    sqlite_path,
    start_ui,
    stop_ui,
    string_params,
    string_tags,
    wait_until_healthy,
)

__all__ = [
    "TAG_CHECKPOINT_DELETED",
    "TAG_PARENT_RUN_ID",
    "TAG_ROLE",
    "TAG_SWEEP_NAME",
    "TAG_TRIAL_ID",
    "SweepTracker",
    "TrackingFlushError",
    "TrackingSetupError",
    "TrialTracker",
    "deliver_spooled",
    "default_artifact_location",
    "default_tracking_uri",
    "is_transient_error",
    "provenance_tags",
    "read_trial_history",
    "search_children",
    "serialize_dict",
    "start_ui",
    "stop_ui",
    "wait_until_healthy",
]

logger = logging.getLogger(__name__)

TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_SWEEP_NAME = "lp_sweeps.sweep_name"
TAG_ROLE = "lp_sweeps.role"
TAG_TRIAL_ID = "lp_sweeps.trial_id"
TAG_CHECKPOINT_DELETED = "lp_sweeps.checkpoint_deleted"
TAG_BEST_TRIAL_ID = "lp_sweeps.best_trial_id"
TAG_BEST_RUN_ID = "lp_sweeps.best_run_id"
_TRANSIENT_CODES = frozenset(
    {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED", "IO_ERROR", "ABORTED"}
)
_BATCH_METRICS = 1000  # MLflow's per-request limits for log_batch
_BATCH_PARAMS_TAGS = 100


# ----------------------------------------------------------------------------------------- helpers


def is_transient_error(exc: BaseException) -> bool:
    """True for errors worth retrying: connection problems, timeouts, 5xx-like MLflow error codes
    (MLflow reports an unreachable server as ``INTERNAL_ERROR``) and a busy SQLite database."""
    if isinstance(exc, MlflowException):
        return exc.error_code in _TRANSIENT_CODES
    return isinstance(exc, (ConnectionError, TimeoutError, requests.RequestException, sqlalchemy.exc.OperationalError))


def _quoted(value: str, what: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"{what} {value!r} must not contain quotes or backslashes (it is used in MLflow searches)")
    return f"'{value}'"


def _search_all(client: MlflowClient, experiment_id: str, filter_string: str) -> list[Run]:
    """Every active run matching ``filter_string``, oldest first."""
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string, max_results=1000, order_by=["attributes.start_time ASC"], page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _child_runs(client: MlflowClient, experiment_id: str, parent_run_id: str) -> list[Run]:
    return _search_all(client, experiment_id, f"tags.`{TAG_PARENT_RUN_ID}` = {_quoted(parent_run_id, 'run id')}")


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _log_batch(
    client: MlflowClient,
    run_id: str,
    metrics: Sequence[Metric] = (),
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """``log_batch`` split into requests within MLflow's per-request limits."""
    for chunk in _chunks(list(metrics), _BATCH_METRICS):
        client.log_batch(run_id, metrics=chunk)
    for chunk in _chunks([Param(k, v) for k, v in (params or {}).items()], _BATCH_PARAMS_TAGS):
        client.log_batch(run_id, params=chunk)
    for chunk in _chunks([RunTag(k, str(v)) for k, v in (tags or {}).items()], _BATCH_PARAMS_TAGS):
        client.log_batch(run_id, tags=chunk)


# ------------------------------------------------------------------------------------ driver side


class SweepTracker:
    """Driver side of a sweep: the experiment, the parent run, the final summary and clean-up."""

    def __init__(self, tracking_uri: str, experiment_name: str, artifact_location: str | None = None) -> None:
        if not experiment_name:
            raise ValueError("experiment_name must be a non-empty string")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        db_path = sqlite_path(tracking_uri)
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        self._client = MlflowClient(tracking_uri)
        location = artifact_location or default_artifact_location(tracking_uri)
        self.experiment_id = self._get_or_create_experiment(location)

    def _get_or_create_experiment(self, artifact_location: str | None) -> str:
        experiment = self._client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            try:
                return self._client.create_experiment(self.experiment_name, artifact_location=artifact_location)
            except MlflowException as exc:  # another driver created it meanwhile
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = self._client.get_experiment_by_name(self.experiment_name)
        if experiment.lifecycle_stage != "active":
            raise ValueError(
                f"MLflow experiment {self.experiment_name!r} at {self.tracking_uri} is deleted; restore it "
                "(`mlflow experiments restore`) or choose another experiment name"
            )
        return experiment.experiment_id

    def start_sweep(
        self, sweep_name: str, params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Parent run id of ``sweep_name``: the existing parent run (resume) or a new one."""
        if not sweep_name:
            raise ValueError("sweep_name must be a non-empty string")
        query = f"tags.`{TAG_SWEEP_NAME}` = {_quoted(sweep_name, 'sweep_name')} and tags.`{TAG_ROLE}` = 'parent'"
        existing = _search_all(self._client, self.experiment_id, query)
        if existing:
            run = existing[0]
            self._client.update_run(run.info.run_id, status="RUNNING")
            logger.info("resuming sweep %r: parent run %s", sweep_name, run.info.run_id)
        else:
            identity = {TAG_SWEEP_NAME: sweep_name, TAG_ROLE: "parent"}
            run = self._client.create_run(self.experiment_id, tags=identity, run_name=sweep_name)
        run_id = run.info.run_id
        all_tags = {**provenance_tags(), **string_tags(tags or {})}
        all_tags.update({TAG_SWEEP_NAME: sweep_name, TAG_ROLE: "parent"})
        new_params = params_to_log(run.data.params, string_params(params or {}), f"sweep {sweep_name!r}")
        _log_batch(self._client, run_id, params=new_params, tags=all_tags)
        return run_id

    def child_runs(self, parent_run_id: str) -> dict[str, str]:
        """``{trial_id: run_id}`` of the parent's child runs (the oldest run if a trial had several)."""
        mapping: dict[str, str] = {}
        for run in _child_runs(self._client, self.experiment_id, parent_run_id):
            trial_id = run.data.tags.get(TAG_TRIAL_ID)
            if trial_id is not None:
                mapping.setdefault(trial_id, run.info.run_id)
        return mapping

    def close_trial(self, run_id: str, status: str, tags: Mapping[str, Any] | None = None) -> None:
        """Final status of a child run, set by the driver when the scheduler reports the trial
        ended (a trial stopped early never reaches its own clean-up)."""
        if tags:
            _log_batch(self._client, run_id, tags=string_tags(tags))
        self._client.set_terminated(run_id, status)

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Driver-side upload, e.g. the best trials' checkpoints from the sweep's storage."""
        self._client.log_artifact(run_id, str(local_path), artifact_path)

    def finish_sweep(self, parent_run_id: str, best: Mapping[str, Any]) -> None:
        """Records the best trial on the parent run and marks it FINISHED.

        ``best`` holds ``trial_id``, ``metric`` (name), ``value`` and ``config`` (mapping), and
        optionally ``run_id`` (looked up from the trial id when absent). Logged: tags
        ``lp_sweeps.best_trial_id`` / ``lp_sweeps.best_run_id``, metric ``best_<metric>``, artifact
        ``best_config.yaml``.
        """
        missing = [key for key in ("trial_id", "metric", "value", "config") if key not in best]
        if missing:
            raise ValueError(f"finish_sweep: `best` lacks keys {missing}; it has {sorted(best)}")
        trial_id = str(best["trial_id"])
        run_id = best.get("run_id") or self.child_runs(parent_run_id).get(trial_id, "unknown")
        metrics = finite_metrics({f"best_{best['metric']}": best["value"]})
        stamp = int(time.time() * 1000)
        _log_batch(
            self._client,
            parent_run_id,
            metrics=[Metric(key, value, stamp, 0) for key, value in metrics.items()],
            tags={TAG_BEST_TRIAL_ID: trial_id, TAG_BEST_RUN_ID: str(run_id)},
        )
        self._client.log_text(parent_run_id, serialize_dict(best["config"], "best_config.yaml"), "best_config.yaml")
        self._client.set_terminated(parent_run_id, "FINISHED")

    def register_best_model(self, run_id: str, artifact_path: str, model_name: str) -> int:
        """Registers artifact ``artifact_path`` of ``run_id`` as a new version of ``model_name``."""
        run = self._client.get_run(run_id)
        artifact_path = artifact_path.strip("/")
        parent_dir = str(PurePosixPath(artifact_path).parent)
        listed = self._client.list_artifacts(run_id, None if parent_dir == "." else parent_dir)
        if artifact_path not in {info.path for info in listed}:
            raise ValueError(f"run {run_id} has no artifact {artifact_path!r}; found {[i.path for i in listed]}")
        try:
            self._client.get_registered_model(model_name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            try:
                self._client.create_registered_model(model_name)
            except MlflowException as create_exc:  # registered by someone else meanwhile
                if create_exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
        source = f"{run.info.artifact_uri.rstrip('/')}/{artifact_path}"
        version = self._client.create_model_version(model_name, source=source, run_id=run_id)
        return int(version.version)

    def apply_retention(
        self, parent_run_id: str, metric: str, mode: str = "min", keep_best_k: int = 1, scope: str = "last"
    ) -> list[str]:
        """Keeps the ``checkpoints/`` artifacts of the best ``keep_best_k`` children, deletes the rest.

        Children are ranked by ``metric``: its last value (``scope="last"``) or its best value over
        all steps (``scope="all"``). Children without a finite value rank last and lose their
        checkpoints. Deleted ones are tagged ``lp_sweeps.checkpoint_deleted=true``. Returns the
        kept run ids, best first. Meant for the end of a sweep: running trials are ranked too.
        """
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if scope not in ("last", "all"):
            raise ValueError(f"scope must be 'last' or 'all', got {scope!r}")
        if keep_best_k < 0:
            raise ValueError(f"keep_best_k must be >= 0, got {keep_best_k}")
        scored = [(self._score(run, sanitize_key(metric), mode, scope), run) for run in self._children(parent_run_id)]
        sign = 1.0 if mode == "min" else -1.0  # ties keep the older run first
        ranked = sorted((item for item in scored if item[0] is not None), key=lambda item: sign * item[0])
        kept = [run for _, run in ranked[:keep_best_k]]
        kept_ids = {run.info.run_id for run in kept}
        for _, run in scored:
            if run.info.run_id not in kept_ids:
                self._delete_checkpoints(run)
        return [run.info.run_id for run in kept]

    def _children(self, parent_run_id: str) -> list[Run]:
        return _child_runs(self._client, self.experiment_id, parent_run_id)

    def _score(self, run: Run, metric: str, mode: str, scope: str) -> float | None:
        if scope == "last":
            values = [run.data.metrics[metric]] if metric in run.data.metrics else []
        else:
            values = [m.value for m in self._client.get_metric_history(run.info.run_id, metric)]
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return None
        return min(finite) if mode == "min" else max(finite)

    def _delete_checkpoints(self, run: Run) -> None:
        if run.data.tags.get(TAG_CHECKPOINT_DELETED) == "true":
            return
        if not self._client.list_artifacts(run.info.run_id, CHECKPOINT_DIR):
            return
        get_artifact_repository(run.info.artifact_uri).delete_artifacts(CHECKPOINT_DIR)
        self._client.set_tag(run.info.run_id, TAG_CHECKPOINT_DELETED, "true")
        logger.info("deleted checkpoints of run %s (trial %s)", run.info.run_id, run.data.tags.get(TAG_TRIAL_ID))


# ------------------------------------------------------------------------------------- trial side


def _configure_http_retries(max_retries: int, timeout_s: Seconds) -> None:
    """Short MLflow HTTP retries (unless the user set them): our own buffer retries for longer.

    MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) can hold one request for
    minutes, during which the buffer could not notice that the server came back.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")  # an int for MLflow
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))


class TrialTracker(TrialLog):
    """Trial side (rank 0 only): the trial's one child run under the sweep's parent run.

    All writes (see :class:`lp_sweeps.tracking_buffer.TrialLog`) are spooled to
    ``<spool_dir>/<sweep>__<parent>__<trial>.jsonl`` (default ``spool_dir``: a fixed folder in the
    system temp dir) and sent by a background thread, so logging never blocks training while the
    server is away. A new tracker for the same trial first replays what an earlier one left unsent.
    MLflow's own HTTP retries are shortened through ``MLFLOW_HTTP_REQUEST_*`` environment defaults
    (process-wide, only where the user has not set them).
    """

    def __init__(
        self,
        tracking_uri: str,
        parent_run_id: str,
        experiment_id: str,
        trial_id: str,
        trial_name: str,
        sweep_name: str,
        *,
        spool_dir: str | Path | None = None,
        background: bool = True,
        patience_s: Seconds = 120.0,
        initial_backoff_s: Seconds = 0.5,
        max_backoff_s: Seconds = 10.0,
        start_timeout_s: Seconds = 10.0,
        http_max_retries: int = 1,
        http_timeout_s: Seconds = 30.0,
    ) -> None:
        for name, value in (("parent_run_id", parent_run_id), ("experiment_id", experiment_id), ("trial_id", trial_id)):
            if not value:
                raise ValueError(f"TrialTracker: {name} must be a non-empty string")
        _quoted(trial_id, "trial_id")
        _configure_http_retries(http_max_retries, http_timeout_s)
        self.tracking_uri = tracking_uri
        self.parent_run_id = parent_run_id
        self.experiment_id = experiment_id
        self.sweep_name = sweep_name
        self._client = MlflowClient(tracking_uri)
        self._known_params: dict[str, str] = {}
        folder = Path(spool_dir) if spool_dir is not None else default_spool_dir()
        super().__init__(
            trial_id,
            trial_name,
            Spool(folder, spool_key(sweep_name, parent_run_id, trial_id)),
            self._send_record,
            is_transient_error,
            tracking_uri,
            background=background,
            patience_s=patience_s,
            initial_backoff_s=initial_backoff_s,
            max_backoff_s=max_backoff_s,
            start_timeout_s=start_timeout_s,
        )

    # -- worker thread ----------------------------------------------------------------------------

    def _ensure_run(self) -> str:
        if self._run_id is not None:
            return self._run_id
        try:
            run = self._find_or_create_run()
        except Exception as exc:
            if is_transient_error(exc):
                raise
            error = TrackingSetupError(
                f"cannot get or create the MLflow run of trial {self.trial_id!r} (parent run {self.parent_run_id}, "
                f"experiment {self.experiment_id}, tracking URI {self.tracking_uri}): {exc}"
            )
            self._run_failed(error)
            raise error from exc
        self._known_params = dict(run.data.params)
        self._run_found(run.info.run_id, run.info.artifact_uri)
        return run.info.run_id

    def _find_or_create_run(self) -> Run:
        self._client.get_run(self.parent_run_id)  # fails clearly if the parent run does not exist
        query = (
            f"tags.`{TAG_PARENT_RUN_ID}` = {_quoted(self.parent_run_id, 'parent_run_id')} "
            f"and tags.`{TAG_TRIAL_ID}` = {_quoted(self.trial_id, 'trial_id')}"
        )
        existing = _search_all(self._client, self.experiment_id, query)
        if existing:
            logger.info("trial %s: reusing MLflow run %s", self.trial_id, existing[0].info.run_id)
            return existing[0]
        identity = {
            TAG_PARENT_RUN_ID: self.parent_run_id,
            TAG_TRIAL_ID: self.trial_id,
            TAG_SWEEP_NAME: self.sweep_name,
            TAG_ROLE: "trial",
        }
        return self._client.create_run(self.experiment_id, tags=identity, run_name=self.trial_name)

    def _send_record(self, record: dict[str, Any]) -> None:
        run_id = self._ensure_run()
        op = record["op"]
        if op == "metrics":
            step, stamp = int(record["step"]), int(record["timestamp"])
            _log_batch(self._client, run_id, metrics=[Metric(k, v, stamp, step) for k, v in record["metrics"].items()])
        elif op == "params":
            new = params_to_log(self._known_params, record["params"], f"trial {self.trial_id!r}")
            for chunk in _chunks(list(new.items()), _BATCH_PARAMS_TAGS):
                _log_batch(self._client, run_id, params=dict(chunk))
                self._known_params.update(chunk)
        elif op == "tags":
            _log_batch(self._client, run_id, tags=record["tags"])
        elif op == "artifact":
            self._send_artifact(run_id, Path(record["local_path"]), record["artifact_path"], bool(record["staged"]))
        elif op == "status" and record["status"] == "RUNNING":
            self._client.update_run(run_id, status="RUNNING")
        elif op == "status":
            self._client.set_terminated(run_id, record["status"], end_time=int(record["end_time"]))
        else:
            raise ValueError(f"unknown tracking record op {op!r}")

    def _send_artifact(self, run_id: str, path: Path, artifact_path: str | None, staged: bool) -> None:
        if not path.exists():
            logger.warning("trial %s: artifact %s vanished before it could be uploaded; skipped", self.trial_id, path)
            return
        if path.is_dir():
            self._client.log_artifacts(run_id, str(path), artifact_path)
        else:
            self._client.log_artifact(run_id, str(path), artifact_path)
        if staged:
            path.unlink(missing_ok=True)


def deliver_spooled(
    tracking_uri: str, parent_run_id: str, experiment_id: str, sweep_name: str, final_states: Mapping[str, str],
    spool_dir: str | Path, timeout_s: Seconds = 120.0,
) -> list[str]:
    """Send what trials left unsent in their spools (a trial stopped or killed while the server was
    away) and give their runs the final state (``final_states``: trial id -> FINISHED | KILLED |
    FAILED). Returns the trial ids that had records left; raises TrackingFlushError after ``timeout_s``."""
    delivered = []
    for trial_id, state in final_states.items():
        spool = Spool(Path(spool_dir), spool_key(sweep_name, parent_run_id, trial_id))
        if not spool.load_pending():
            spool.remove()  # all sent (or never written): drop what a stopped trial left
            continue
        tracker = TrialTracker(tracking_uri, parent_run_id, experiment_id, trial_id, trial_id, sweep_name,
                               spool_dir=spool_dir, patience_s=timeout_s)
        tracker.start(timeout=timeout_s)
        tracker.end(state, timeout=timeout_s)
        delivered.append(trial_id)
    return delivered


# ----------------------------------------------------------------------------------------- queries


def read_trial_history(tracking_uri: str, run_id: str, metric: str) -> list[tuple[int, float]]:
    """``[(step, value), ...]`` of one metric of one run, ordered by step then time."""
    history = MlflowClient(tracking_uri).get_metric_history(run_id, sanitize_key(metric))
    return [(int(m.step), float(m.value)) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]


def search_children(tracking_uri: str, parent_run_id: str) -> list[dict[str, Any]]:
    """One dict per child run of the sweep (trial_id, trial_name, run_id, status, params, metrics, ...)."""
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    rows = [
        {
            "trial_id": run.data.tags.get(TAG_TRIAL_ID),
            "trial_name": run.info.run_name,
            "run_id": run.info.run_id,
            "status": run.info.status,
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "checkpoint_deleted": run.data.tags.get(TAG_CHECKPOINT_DELETED) == "true",
        }
        for run in _child_runs(client, experiment_id, parent_run_id)
    ]
    return sorted(rows, key=lambda row: str(row["trial_id"]))


