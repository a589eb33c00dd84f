"""The driver side of tracking: a sweep's experiment and parent run, the trials' final states,
the best trial, checkpoint retention and the model registry."""

import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import torch
import yaml

from lp_sweeps.tracking.mlflow_client import MetricValue, RunRecord, TrackingStore
from lp_sweeps.tracking.model_package import CHECKPOINT_ARTIFACT, CONFIG_ARTIFACT
from lp_sweeps.tracking.naming import (
    CHECKPOINT_DIR, TAG_BEST_RUN_ID, TAG_BEST_TRIAL_ID, TAG_CHECKPOINT_DELETED, TAG_PARENT_RUN_ID, TAG_PARETO_FRONT,
    TAG_ROLE, TAG_SWEEP_NAME, TAG_TRIAL_ID, default_artifact_location, finite_metrics, params_to_log, provenance_tags, quoted,
    sanitize_key, sqlite_path, string_params, string_tags,
)

__all__ = ["BEST_ALIAS", "CONFIG_FILE", "MODEL_REQUIREMENTS", "SweepTracker", "search_children"]

logger = logging.getLogger(__name__)

BEST_ALIAS = "best"  # models:/<study>@best
CONFIG_FILE = "config.yaml"  # a trial run's resolved config artifact
MODEL_REQUIREMENTS = ("lp-sweeps", "torch>=2.4", "lightning>=2.4", "omegaconf>=2.3")  # what loading the model needs


def _children(store: TrackingStore, experiment_id: str, parent_run_id: str) -> list[RunRecord]:
    return store.search(experiment_id, f"tags.`{TAG_PARENT_RUN_ID}` = {quoted(parent_run_id, 'run id')}")


class SweepTracker:
    """Driver side of a sweep: the experiment, the parent run, the final summary and clean-up."""

    def __init__(self, tracking_uri: str, experiment_name: str, artifact_location: Optional[str] = None) -> None:
        if not experiment_name:
            raise ValueError("experiment_name must be a non-empty string")
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        db_path = sqlite_path(tracking_uri)
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        self._store = TrackingStore(tracking_uri)
        location = artifact_location or default_artifact_location(tracking_uri)
        self.experiment_id = self._store.experiment_id(experiment_name, location)

    def start_sweep(
        self, sweep_name: str, params: Optional[Mapping[str, Any]] = None, tags: Optional[Mapping[str, Any]] = None
    ) -> str:
        """Parent run id of ``sweep_name``: the existing parent run (resume) or a new one."""
        if not sweep_name:
            raise ValueError("sweep_name must be a non-empty string")
        query = f"tags.`{TAG_SWEEP_NAME}` = {quoted(sweep_name, 'sweep_name')} and tags.`{TAG_ROLE}` = 'parent'"
        existing = self._store.search(self.experiment_id, query)
        identity = {TAG_SWEEP_NAME: sweep_name, TAG_ROLE: "parent"}
        if existing:
            run = existing[0]
            self._store.mark_running(run.run_id)
            logger.info("resuming sweep %r: parent run %s", sweep_name, run.run_id)
        else:
            run = self._store.create_run(self.experiment_id, sweep_name, identity)
        all_tags = {**provenance_tags(), **string_tags(tags or {}), **identity}
        new_params = params_to_log(run.params, string_params(params or {}), f"sweep {sweep_name!r}")
        self._store.log(run.run_id, params=new_params, tags=all_tags)
        return run.run_id

    def child_runs(self, parent_run_id: str) -> dict[str, str]:
        """``{trial_id: run_id}`` of the parent's child runs (the oldest run if a trial had several)."""
        mapping: dict[str, str] = {}
        for run in _children(self._store, self.experiment_id, parent_run_id):
            trial_id = run.tags.get(TAG_TRIAL_ID)
            if trial_id is not None:
                mapping.setdefault(trial_id, run.run_id)
        return mapping

    def close_trial(self, run_id: str, status: str, tags: Optional[Mapping[str, Any]] = None,
                    ended_at: Optional[float] = None) -> None:
        """Final status of a child run, set by the driver when the scheduler reports the trial
        ended (a trial stopped early never reaches its own clean-up). The run keeps the end time
        its trial gave it; without one it ends at ``ended_at`` (seconds since the epoch: the
        trial's last report), else now."""
        if tags:
            self._store.log(run_id, tags=string_tags(tags))
        own = self._store.run(run_id).end_time
        end = own if own else (None if ended_at is None else int(ended_at * 1000))
        self._store.terminate(run_id, status, end_time=end)

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: Optional[str] = None) -> None:
        """Driver-side upload, e.g. the best trials' checkpoints from the sweep's storage."""
        self._store.upload(run_id, local_path, artifact_path)

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
        logged = self._store.run(parent_run_id).metrics
        fresh = {key: value for key, value in metrics.items() if logged.get(key) != value}  # once, however often called
        stamp = int(time.time() * 1000)
        self._store.log(parent_run_id, metrics=[MetricValue(key, value, stamp, 0) for key, value in fresh.items()],
                        tags={TAG_BEST_TRIAL_ID: trial_id, TAG_BEST_RUN_ID: str(run_id)})
        self._store.upload_text(parent_run_id, yaml.safe_dump(dict(best["config"]), sort_keys=False), "best_config.yaml")
        self._store.terminate(parent_run_id, "FINISHED")

    def record_pareto_front(self, parent_run_id: str, front: list[Mapping[str, Any]], metrics: list[str]) -> None:
        """A multi-objective sweep's non-dominated trials (``front``: ``trial_id``, ``run_id``,
        ``values``): artifact ``pareto_front.json`` and tag ``lp_sweeps.pareto_front`` (the trial ids)
        on the parent, tag ``lp_sweeps.pareto_front=true`` on each front trial's run."""
        document = {"metrics": list(metrics), "trials": [dict(row) for row in front]}
        self._store.upload_text(parent_run_id, json.dumps(document, indent=2, default=str), "pareto_front.json")
        self._store.log(parent_run_id, tags=string_tags({TAG_PARETO_FRONT: ",".join(r["trial_id"] for r in front)}))
        for row in front:
            self._store.log(row["run_id"], tags={TAG_PARETO_FRONT: "true"})

    def has_artifact(self, run_id: str, artifact_path: str) -> bool:
        artifact_path = artifact_path.strip("/")
        parent_dir = str(PurePosixPath(artifact_path).parent)
        return artifact_path in self._store.list_artifacts(run_id, None if parent_dir == "." else parent_dir)

    def register_best_model(self, run_id: str, artifact_path: str, model_name: str, alias: str = BEST_ALIAS,
                            once: bool = False) -> int:
        """The checkpoint artifact ``artifact_path`` of ``run_id`` (with the run's ``config.yaml``)
        as an MLflow LoggedModel of the run, registered as a new version of ``model_name`` with
        ``alias``: ``models:/<model_name>@best`` loads the tracker back
        (:func:`lp_sweeps.tracking.load_tracker_model`). Returns the version. With ``once``, a
        version already made from this run is kept instead (the end-of-sweep bookkeeping may run
        again)."""
        artifact_path = artifact_path.strip("/")
        if not self.has_artifact(run_id, artifact_path):
            listed = self._store.list_artifacts(run_id, str(PurePosixPath(artifact_path).parent))
            raise ValueError(f"run {run_id} has no artifact {artifact_path!r}; found {listed}")
        existing = self._store.model_versions(model_name, run_id) if once else {}
        version = min(existing) if existing else self._log_and_register(run_id, artifact_path, model_name)
        self._store.set_alias(model_name, alias, version)
        return version

    def _log_and_register(self, run_id: str, artifact_path: str, model_name: str) -> int:
        with tempfile.TemporaryDirectory(prefix="lp-model-") as folder:
            checkpoint = self._store.download(run_id, artifact_path, folder)
            config = self._store.download(run_id, CONFIG_FILE, folder)
            epoch = int(torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True).get("epoch", 0))
            model_id, uri = self._store.log_tracker_model(
                run_id, "tracker", {CHECKPOINT_ARTIFACT: str(checkpoint), CONFIG_ARTIFACT: str(config)}, step=epoch,
                requirements=MODEL_REQUIREMENTS,
                tags={"lp_sweeps.checkpoint": artifact_path, "lp_sweeps.epoch": str(epoch)},
            )
        return self._store.register_version(model_name, uri, run_id, model_id=model_id)

    def tag_run(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self._store.log(run_id, tags=string_tags(tags))

    def record_group_run(self, parent_run_id: str, name: str, tags: Mapping[str, Any], metrics: Mapping[str, float],
                         folder: Optional[Path], artifact_path: Optional[str]) -> str:
        """A finished child run of the sweep that is no trial (an ensemble of a configuration's seeds)."""
        run = self._store.create_run(self.experiment_id, name, {TAG_PARENT_RUN_ID: parent_run_id,
                                                                TAG_SWEEP_NAME: self._sweep_name(parent_run_id),
                                                                **string_tags(tags)})
        stamp = int(time.time() * 1000)
        values = [MetricValue(k, v, stamp, 0) for k, v in finite_metrics(metrics).items()]
        self._store.log(run.run_id, metrics=values, tags=provenance_tags())
        if folder is not None:
            self._store.upload(run.run_id, folder, artifact_path)
        self._store.terminate(run.run_id, "FINISHED")
        return run.run_id

    def describe_sweep(self, parent_run_id: str, markdown: str, metrics: Mapping[str, float]) -> None:
        """The parent run's description (a markdown leaderboard) and summary metrics (each value
        once, however often the end-of-sweep bookkeeping runs)."""
        stamp = int(time.time() * 1000)
        logged = self._store.run(parent_run_id).metrics
        values = [MetricValue(k, v, stamp, 0) for k, v in finite_metrics(metrics).items() if logged.get(k) != v]
        self._store.log(parent_run_id, metrics=values)
        self._store.set_description(parent_run_id, markdown)

    def _sweep_name(self, parent_run_id: str) -> str:
        return self._store.run(parent_run_id).tags.get(TAG_SWEEP_NAME, "")

    def apply_retention(
        self, parent_run_id: str, metric: str, mode: str = "min", keep_best_k: int = 1, scope: str = "last",
        keep: tuple[str, ...] | list[str] = (),
    ) -> list[str]:
        """Keeps the ``checkpoints/`` artifacts of the best ``keep_best_k`` children, deletes the rest.

        Children are ranked by ``metric``: its last value (``scope="last"``) or its best value over
        all steps (``scope="all"``). Children without a finite value rank last and lose their
        checkpoints. Deleted ones are tagged ``lp_sweeps.checkpoint_deleted=true``. Returns the
        kept run ids, best first. Meant for the end of a sweep: running trials are ranked too.
        ``keep``: run ids whose checkpoints stay whatever their rank (instead of the best ``keep_best_k``
        when given: the sweep's own ranking, e.g. by the mean over seeds).
        """
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if scope not in ("last", "all"):
            raise ValueError(f"scope must be 'last' or 'all', got {scope!r}")
        if keep_best_k < 0:
            raise ValueError(f"keep_best_k must be >= 0, got {keep_best_k}")
        children = _children(self._store, self.experiment_id, parent_run_id)
        scored = [(self._score(run, sanitize_key(metric), mode, scope), run) for run in children]
        sign = 1.0 if mode == "min" else -1.0  # ties keep the older run first
        ranked = sorted((item for item in scored if item[0] is not None), key=lambda item: sign * item[0])
        kept_ids = list(keep) or [run.run_id for _, run in ranked[:keep_best_k]]
        for _, run in scored:
            if run.run_id not in kept_ids:
                self._delete_checkpoints(run)
        return kept_ids

    def _score(self, run: RunRecord, metric: str, mode: str, scope: str) -> Optional[float]:
        if scope == "last":
            values = [run.metrics[metric]] if metric in run.metrics else []
        else:
            values = [m.value for m in self._store.metric_history(run.run_id, metric)]
        finite = [value for value in values if math.isfinite(value)]
        if not finite:
            return None
        return min(finite) if mode == "min" else max(finite)

    def _delete_checkpoints(self, run: RunRecord) -> None:
        if run.tags.get(TAG_CHECKPOINT_DELETED) == "true" or not self._store.list_artifacts(run.run_id, CHECKPOINT_DIR):
            return
        self._store.delete_artifacts(run.artifact_uri, CHECKPOINT_DIR)
        self._store.log(run.run_id, tags={TAG_CHECKPOINT_DELETED: "true"})
        logger.info("deleted checkpoints of run %s (trial %s)", run.run_id, run.tags.get(TAG_TRIAL_ID))


def search_children(tracking_uri: str, parent_run_id: str) -> list[dict[str, Any]]:
    """One dict per child run of the sweep (trial_id, trial_name, run_id, status, params, metrics, ...)."""
    store = TrackingStore(tracking_uri)
    experiment_id = store.run(parent_run_id).experiment_id
    rows = [
        {
            "trial_id": run.tags.get(TAG_TRIAL_ID),
            "trial_name": run.name,
            "run_id": run.run_id,
            "status": run.status,
            "params": dict(run.params),
            "metrics": dict(run.metrics),
            "checkpoint_deleted": run.tags.get(TAG_CHECKPOINT_DELETED) == "true",
        }
        for run in _children(store, experiment_id, parent_run_id)
    ]
    return sorted(rows, key=lambda row: str(row["trial_id"]))
