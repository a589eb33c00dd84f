"""The one module of lp-sweeps that imports mlflow: the tracking store a sweep writes to.

:class:`TrackingStore` wraps :class:`mlflow.MlflowClient` (never the fluent global-state API, so
several trackers can live in one process) with the few operations the sweep and trial trackers
need, in plain Python types: :class:`RunRecord` for a run, :class:`MetricValue` for one value.
:func:`is_transient_error` says which failures are worth retrying.
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import mlflow.pyfunc
import numpy as np
import requests
import sqlalchemy.exc
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor
from mlflow.tracking._tracking_service.utils import _use_tracking_uri  # stable since MLflow 2; one place
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from lp_sweeps.tracking.model_package import LoadedTracker, predict_frames

__all__ = ["DatasetRecord", "MetricValue", "RunRecord", "TrackerPyfunc", "TrackingStore", "configure_http_retries",
           "is_transient_error", "load_tracker_model"]

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # the MLflow UI opens such an experiment on its runs table
EXPERIMENT_KIND = "custom_model_development"

_TRANSIENT_CODES = frozenset(
    {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED", "IO_ERROR", "ABORTED"}
)
_BATCH_METRICS = 1000  # MLflow's per-request limits for log_batch
_BATCH_PARAMS_TAGS = 100


def is_transient_error(exc: BaseException) -> bool:
    """True for errors worth retrying: connection problems, timeouts, 5xx-like MLflow error codes
    (MLflow reports an unreachable server as ``INTERNAL_ERROR``) and a busy SQLite database."""
    if isinstance(exc, MlflowException):
        return exc.error_code in _TRANSIENT_CODES
    return isinstance(exc, (ConnectionError, TimeoutError, requests.RequestException, sqlalchemy.exc.OperationalError))


@dataclass(frozen=True)
class MetricValue:
    key: str
    value: float
    timestamp: int  # milliseconds since the epoch
    step: int


@dataclass(frozen=True)
class RunRecord:
    """What the trackers read of a run."""

    run_id: str
    name: str
    experiment_id: str
    status: str
    start_time: Optional[int]
    end_time: Optional[int]
    artifact_uri: str
    tags: Mapping[str, str]
    params: Mapping[str, str]
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset a run used (MLflow shows it in the run's Datasets): the labeled frames, say."""

    name: str
    digest: str
    source: str  # where it lives (a folder or URI)
    profile: str  # JSON: e.g. the number of frames and keypoints
    context: str = "training"


class TrackerPyfunc(mlflow.pyfunc.PythonModel):
    """The MLflow pyfunc face of a trained tracker: ``load_context`` rebuilds the tracker class
    from the packaged config and loads the checkpoint strictly (``.tracker``); ``predict`` takes
    RGB frames ``(N, H, W, 3)`` uint8 and returns x, y, likelihood per keypoint."""

    def load_context(self, context) -> None:
        self.tracker = LoadedTracker(context.artifacts)

    def predict(self, context, model_input: np.ndarray, params=None):
        return predict_frames(self.tracker, model_input)


def load_tracker_model(model_uri: str, tracking_uri: str) -> LoadedTracker:
    """The tracker behind ``model_uri`` (e.g. ``models:/quickstart@best``) of the store at ``tracking_uri``."""
    with _use_tracking_uri(tracking_uri):
        return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().tracker


def _record(run: Run) -> RunRecord:
    info, data = run.info, run.data
    return RunRecord(info.run_id, info.run_name, info.experiment_id, info.status, info.start_time, info.end_time,
                     info.artifact_uri, dict(data.tags), dict(data.params), dict(data.metrics))


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _error_code(exc: MlflowException) -> str:
    return str(exc.error_code)


def configure_http_retries(max_retries: int = 1, timeout_s: int = 30) -> None:
    """Short MLflow HTTP retries (unless the user set them): lp-sweeps retries for longer itself.

    MLflow's defaults (7 retries, backoff factor 2, 120 s timeout) can hold one request for
    minutes, during which a trial's sender could not notice that the server came back and the
    driver could not say that it is away.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")  # an int for MLflow
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))


class TrackingStore:
    """One MLflow tracking store (a ``sqlite:///`` file or a server URL)."""

    def __init__(self, tracking_uri: str) -> None:
        configure_http_retries()
        self.uri = tracking_uri
        self._client = MlflowClient(tracking_uri)

    def experiment_id(self, name: str, artifact_location: Optional[str] = None) -> str:
        """The id of the active experiment ``name``, created if it does not exist."""
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return self._client.create_experiment(name, artifact_location=artifact_location,
                                                      tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND})
            except MlflowException as exc:  # another driver created it meanwhile
                if _error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
                experiment = self._client.get_experiment_by_name(name)
        if experiment.lifecycle_stage != "active":
            raise ValueError(f"MLflow experiment {name!r} at {self.uri} is deleted; restore it "
                             "(`mlflow experiments restore`) or choose another experiment name")
        if EXPERIMENT_KIND_TAG not in experiment.tags:  # made by an older lp-sweeps
            self._client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        return experiment.experiment_id

    def experiment_tags(self, experiment_id: str) -> dict[str, str]:
        return dict(self._client.get_experiment(experiment_id).tags)

    def search(self, experiment_id: str, filter_string: str) -> list[RunRecord]:
        """Every active run matching ``filter_string``, oldest first."""
        runs: list[RunRecord] = []
        token = None
        while True:
            page = self._client.search_runs([experiment_id], filter_string, max_results=1000,
                                            order_by=["attributes.start_time ASC"], page_token=token)
            runs.extend(_record(run) for run in page)
            token = page.token
            if not token:
                return runs

    def run(self, run_id: str) -> RunRecord:
        return _record(self._client.get_run(run_id))

    def create_run(self, experiment_id: str, name: str, tags: Mapping[str, str],
                   start_time: Optional[int] = None) -> RunRecord:
        """A new run; ``start_time`` (ms since the epoch) defaults to now."""
        return _record(self._client.create_run(experiment_id, start_time=start_time, tags=dict(tags), run_name=name))

    def log(self, run_id: str, metrics: Sequence[MetricValue] = (), params: Optional[Mapping[str, str]] = None,
            tags: Optional[Mapping[str, str]] = None) -> None:
        """Metrics, params and tags in as few requests as MLflow's per-request limits allow."""
        entities = [Metric(m.key, m.value, m.timestamp, m.step) for m in metrics]
        for chunk in _chunks(entities, _BATCH_METRICS):
            self._client.log_batch(run_id, metrics=chunk)
        for chunk in _chunks([Param(k, v) for k, v in (params or {}).items()], _BATCH_PARAMS_TAGS):
            self._client.log_batch(run_id, params=chunk)
        for chunk in _chunks([RunTag(k, str(v)) for k, v in (tags or {}).items()], _BATCH_PARAMS_TAGS):
            self._client.log_batch(run_id, tags=chunk)

    def mark_running(self, run_id: str) -> None:
        self._client.update_run(run_id, status="RUNNING")

    def terminate(self, run_id: str, status: str, end_time: Optional[int] = None) -> None:
        self._client.set_terminated(run_id, status, end_time=end_time)

    def set_description(self, run_id: str, markdown: str) -> None:
        """The run's description (MLflow's note), shown on the run's page."""
        self._client.set_tag(run_id, "mlflow.note.content", markdown)

    def upload(self, run_id: str, local_path: os.PathLike | str, artifact_path: Optional[str] = None) -> None:
        """A file, or a folder's contents, under ``artifact_path`` of the run's artifacts."""
        if Path(local_path).is_dir():
            self._client.log_artifacts(run_id, str(local_path), artifact_path)
        else:
            self._client.log_artifact(run_id, str(local_path), artifact_path)

    def upload_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._client.log_text(run_id, text, artifact_file)

    def list_artifacts(self, run_id: str, path: Optional[str] = None) -> list[str]:
        return [info.path for info in self._client.list_artifacts(run_id, path)]

    def delete_artifacts(self, artifact_uri: str, path: str) -> None:
        get_artifact_repository(artifact_uri).delete_artifacts(path)

    def log_dataset(self, run_id: str, dataset: DatasetRecord) -> None:
        entity = Dataset(dataset.name, dataset.digest, "local", dataset.source, profile=dataset.profile)
        self._client.log_inputs(run_id, [DatasetInput(entity, [InputTag(MLFLOW_DATASET_CONTEXT, dataset.context)])])

    def run_datasets(self, run_id: str) -> list[DatasetRecord]:
        inputs = self._client.get_run(run_id).inputs
        return [DatasetRecord(d.dataset.name, d.dataset.digest, d.dataset.source, d.dataset.profile or "",
                              next((t.value for t in d.tags if t.key == MLFLOW_DATASET_CONTEXT), ""))
                for d in (inputs.dataset_inputs if inputs else [])]

    def start_system_metrics(self, run_id: str, interval_s: float) -> SystemMetricsMonitor:
        """CPU, memory, disk and network (GPU too where there is one and ``nvidia-ml-py``) of this
        machine every ``interval_s`` as ``system/*`` metrics of the run, until ``.finish()``."""
        monitor = SystemMetricsMonitor(run_id, sampling_interval=interval_s, tracking_uri=self.uri)
        monitor.start()
        return monitor

    def log_tracker_model(self, run_id: str, name: str, artifacts: Mapping[str, str], step: int,
                          requirements: Sequence[str], tags: Mapping[str, str]) -> tuple[str, str]:
        """A LoggedModel of ``run_id`` holding ``artifacts`` (see :class:`TrackerPyfunc`), linked
        to the run's metrics at ``step``. Returns (model id, ``models:/<id>`` URI)."""
        run = self._client.get_run(run_id)  # the model belongs to the run's experiment, with its params
        model = self._client.create_logged_model(run.info.experiment_id, name=name, source_run_id=run_id,
                                                 tags=dict(tags), params=dict(run.data.params), model_type="pose-tracker")
        with _use_tracking_uri(self.uri):  # Model.log resolves its store through the global URI
            info = Model.log(artifact_path=None, name=name, flavor=mlflow.pyfunc, python_model=TrackerPyfunc(),
                             artifacts=dict(artifacts), pip_requirements=list(requirements), run_id=run_id,
                             step=step, model_id=model.model_id)
        return info.model_id, info.model_uri

    def logged_models(self, experiment_id: str) -> list[dict[str, Any]]:
        return [{"model_id": m.model_id, "name": m.name, "source_run_id": m.source_run_id, "tags": dict(m.tags)}
                for m in self._client.search_logged_models([experiment_id])]

    def set_alias(self, model_name: str, alias: str, version: int) -> None:
        self._client.set_registered_model_alias(model_name, alias, str(version))

    def download(self, run_id: str, path: str, destination: str | os.PathLike) -> Path:
        return Path(self._client.download_artifacts(run_id, path, str(destination)))

    def register_version(self, model_name: str, source: str, run_id: str, model_id: Optional[str] = None) -> int:
        """A new version of the registered model ``model_name`` (created if missing) at ``source``."""
        try:
            self._client.get_registered_model(model_name)
        except MlflowException as exc:
            if _error_code(exc) != "RESOURCE_DOES_NOT_EXIST":
                raise
            try:
                self._client.create_registered_model(model_name)
            except MlflowException as create_exc:  # registered by someone else meanwhile
                if _error_code(create_exc) != "RESOURCE_ALREADY_EXISTS":
                    raise
        with _use_tracking_uri(self.uri):  # MLflow resolves models:/<id> sources through the global URI
            version = self._client.create_model_version(model_name, source=source, run_id=run_id, model_id=model_id)
        return int(version.version)

    def model_versions(self, model_name: str, run_id: str) -> dict[int, str]:
        """``{version: source}`` of the registered model's versions made from ``run_id``."""
        query = f"name = '{model_name}' and run_id = '{run_id}'"
        return {int(v.version): v.source for v in self._client.search_model_versions(query)}

    def metric_history(self, run_id: str, key: str) -> list[MetricValue]:
        return [MetricValue(m.key, m.value, m.timestamp, m.step) for m in self._client.get_metric_history(run_id, key)]
