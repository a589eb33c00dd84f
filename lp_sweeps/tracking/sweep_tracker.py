"""The driver side of tracking: a sweep's experiment and parent run, the trials' final states,
the best trial, checkpoint retention and the model registry."""

import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import yaml

from lp_sweeps.tracking.mlflow_client import MetricValue, RunRecord, TrackingStore
from lp_sweeps.tracking.naming import (
    CHECKPOINT_DIR, TAG_BEST_RUN_ID, TAG_BEST_TRIAL_ID, TAG_CHECKPOINT_DELETED, TAG_PARENT_RUN_ID, TAG_PARETO_FRONT,
    TAG_ROLE, TAG_SWEEP_NAME, TAG_TRIAL_ID, default_artifact_location, finite_metrics, params_to_log, provenance_tags, quoted,
    sanitize_key, sqlite_path, string_params, string_tags,
)

__all__ = ["SweepTracker", "search_children"]

logger = logging.getLogger(__name__)


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

    def close_trial(self, run_id: str, status: str, tags: Optional[Mapping[str, Any]] = None) -> None:
        """Final status of a child run, set by the driver when the scheduler reports the trial
        ended (a trial stopped early never reaches its own clean-up)."""
        if tags:
            self._store.log(run_id, tags=string_tags(tags))
        self._store.terminate(run_id, status)

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

    def register_best_model(self, run_id: str, artifact_path: str, model_name: str, once: bool = False) -> int:
        """Registers artifact ``artifact_path`` of ``run_id`` as a new version of ``model_name``.
        With ``once``, an existing version made from the same run and artifact is returned instead
        (the end-of-sweep bookkeeping may run again)."""
        run = self._store.run(run_id)
        artifact_path = artifact_path.strip("/")
        if not self.has_artifact(run_id, artifact_path):
            listed = self._store.list_artifacts(run_id, str(PurePosixPath(artifact_path).parent))
            raise ValueError(f"run {run_id} has no artifact {artifact_path!r}; found {listed}")
        source = f"{run.artifact_uri.rstrip('/')}/{artifact_path}"
        existing = [v for v, s in self._store.model_versions(model_name, run_id).items() if s == source] if once else []
        return min(existing) if existing else self._store.register_version(model_name, source, run_id)

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
        children = _children(self._store, self.experiment_id, parent_run_id)
        scored = [(self._score(run, sanitize_key(metric), mode, scope), run) for run in children]
        sign = 1.0 if mode == "min" else -1.0  # ties keep the older run first
        ranked = sorted((item for item in scored if item[0] is not None), key=lambda item: sign * item[0])
        kept_ids = [run.run_id for _, run in ranked[:keep_best_k]]
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
