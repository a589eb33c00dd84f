"""The trial side of tracking: a trial's one child run under its sweep's parent run.

Only rank 0 of a trial tracks. Every write is spooled to
``<spool_dir>/<sweep>__<parent>__<trial>.jsonl`` and sent by a background thread
(:class:`~lp_sweeps.tracking.sender.BufferedSender`), so logging never holds up training while the
server is away, and a later tracker of the same trial (a retry, a resume, or the driver at the end
of the sweep: :func:`deliver_spooled`) first sends what an earlier one left unsent.
"""

import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Optional, SupportsFloat

from lp_sweeps.tracking.mlflow_client import (
    DatasetRecord, MetricValue, RunRecord, TrackingStore, configure_http_retries, is_transient_error,
)
from lp_sweeps.tracking.naming import (
    TAG_PARENT_RUN_ID, TAG_ROLE, TAG_SWEEP_NAME, TAG_TRIAL_ID, TAG_TRIAL_NAME, Seconds, finite_metrics, params_to_log,
    provenance_tags, quoted, string_params, string_tags,
)
from lp_sweeps.tracking.sender import END_STATUSES, BufferedSender, TrackingFlushError, TrackingSetupError
from lp_sweeps.tracking.spool import Spool, default_spool_dir, spool_key

__all__ = ["TRACKING_PATIENCE_S", "TrialTracker", "deliver_spooled", "last_seen"]

logger = logging.getLogger(__name__)

# how long a trial's end and the end-of-sweep delivery wait for an unreachable tracking server
TRACKING_PATIENCE_S = 120.0


class _RunWriter:
    """Delivers records to the trial's run, finding or creating the run on first use (runs on the
    sending thread)."""

    def __init__(self, store: TrackingStore, parent_run_id: str, experiment_id: str, trial_id: str,
                 trial_name: str, sweep_name: str) -> None:
        self.store, self.parent_run_id, self.experiment_id = store, parent_run_id, experiment_id
        self.trial_id, self.trial_name, self.sweep_name = trial_id, trial_name, sweep_name
        self.run: Optional[RunRecord] = None
        self.setup_error: Optional[TrackingSetupError] = None
        self._known_params: dict[str, str] = {}
        self._logged_steps: dict[str, set[int]] = {}  # per metric, the steps the run has (read when needed)
        self.started_at: Optional[float] = None  # when the trial began (seconds since the epoch); None: now

    def ensure_run(self) -> str:
        if self.run is not None:
            return self.run.run_id
        try:
            run = self._find_or_create()
        except Exception as exc:
            if is_transient_error(exc):
                raise
            self.setup_error = TrackingSetupError(
                f"cannot get or create the MLflow run of trial {self.trial_id!r} (parent run {self.parent_run_id}, "
                f"experiment {self.experiment_id}, tracking URI {self.store.uri}): {exc}"
            )
            raise self.setup_error from exc
        self._known_params = dict(run.params)
        self.run = run
        return run.run_id

    def _find_or_create(self) -> RunRecord:
        self.store.run(self.parent_run_id)  # fails clearly if the parent run does not exist
        query = (f"tags.`{TAG_PARENT_RUN_ID}` = {quoted(self.parent_run_id, 'parent_run_id')} "
                 f"and tags.`{TAG_TRIAL_ID}` = {quoted(self.trial_id, 'trial_id')}")
        existing = self.store.search(self.experiment_id, query)
        if existing:
            logger.info("trial %s: reusing MLflow run %s", self.trial_id, existing[0].run_id)
            return existing[0]
        identity = {TAG_PARENT_RUN_ID: self.parent_run_id, TAG_TRIAL_ID: self.trial_id,
                    TAG_SWEEP_NAME: self.sweep_name, TAG_ROLE: "trial"}
        start = None if self.started_at is None else int(self.started_at * 1000)
        return self.store.create_run(self.experiment_id, self.trial_name, identity, start_time=start)

    def send(self, record: dict[str, Any]) -> None:
        run_id = self.ensure_run()
        op = record["op"]
        if op == "metrics":
            self._send_metrics(run_id, record)
        elif op == "params":
            new = params_to_log(self._known_params, record["params"], f"trial {self.trial_id!r}")
            self.store.log(run_id, params=new)
            self._known_params.update(new)
        elif op == "tags":
            self.store.log(run_id, tags=record["tags"])
        elif op == "artifact":
            self._send_artifact(run_id, Path(record["local_path"]), record["artifact_path"], bool(record["staged"]))
        elif op == "dataset":
            self.store.log_dataset(run_id, DatasetRecord(**record["dataset"]))
        elif op == "status" and record["status"] == "RUNNING":
            self.store.mark_running(run_id)
        elif op == "status":
            self.store.terminate(run_id, record["status"], end_time=int(record["end_time"]))
        else:
            raise ValueError(f"unknown tracking record op {op!r}")

    def _steps(self, run_id: str, key: str) -> set[int]:
        if key not in self._logged_steps:
            self._logged_steps[key] = {int(m.step) for m in self.store.metric_history(run_id, key)}
        return self._logged_steps[key]

    def _send_metrics(self, run_id: str, record: dict[str, Any]) -> None:
        """A record marked ``once`` (replayed from a spool, or restored from a checkpoint) skips
        the metrics whose step the run already has, so no step is ever recorded twice."""
        step, stamp = int(record["step"]), int(record["timestamp"])
        values = record["metrics"]
        if record.get("once"):
            values = {k: v for k, v in values.items() if step not in self._steps(run_id, k)}
        self.store.log(run_id, metrics=[MetricValue(k, v, stamp, step) for k, v in values.items()])
        for key in values:
            if key in self._logged_steps:
                self._logged_steps[key].add(step)

    def _send_artifact(self, run_id: str, path: Path, artifact_path: Optional[str], staged: bool) -> None:
        if not path.exists():
            logger.warning("trial %s: artifact %s vanished before it could be uploaded; skipped", self.trial_id, path)
            return
        self.store.upload(run_id, path, artifact_path)
        if staged:
            path.unlink(missing_ok=True)


class TrialTracker:
    """The write API of one trial's child run, buffered and spooled.

    With ``background=True`` writes return at once; with ``background=False`` each write waits up
    to ``patience_s`` for delivery. MLflow's own HTTP retries are shortened through
    ``MLFLOW_HTTP_REQUEST_*`` environment defaults (process-wide, only where the user has not set
    them), because the buffer retries for longer. A new run starts at ``started_at`` (seconds since
    the epoch: when the trial began), else when the server first answers.
    """

    def __init__(
        self, tracking_uri: str, parent_run_id: str, experiment_id: str, trial_id: str, trial_name: str,
        sweep_name: str, *, spool_dir: Optional[str | Path] = None, background: bool = True,
        patience_s: Seconds = TRACKING_PATIENCE_S, initial_backoff_s: Seconds = 0.5, max_backoff_s: Seconds = 10.0,
        start_timeout_s: Seconds = 10.0, http_max_retries: int = 1, http_timeout_s: Seconds = 30.0,
        started_at: Optional[float] = None,
    ) -> None:
        for name, value in (("parent_run_id", parent_run_id), ("experiment_id", experiment_id), ("trial_id", trial_id)):
            if not value:
                raise ValueError(f"TrialTracker: {name} must be a non-empty string")
        quoted(trial_id, "trial_id")
        configure_http_retries(http_max_retries, int(http_timeout_s))
        self.trial_id = trial_id
        self.trial_name = trial_name or trial_id
        self.background, self.patience_s, self.start_timeout_s = background, patience_s, start_timeout_s
        self._writer = _RunWriter(TrackingStore(tracking_uri), parent_run_id, experiment_id, trial_id,
                                  self.trial_name, sweep_name)
        self._writer.started_at = started_at
        spool = Spool(Path(spool_dir) if spool_dir is not None else default_spool_dir(),
                      spool_key(sweep_name, parent_run_id, trial_id))
        self._sender = BufferedSender(spool, self._writer.send, is_transient_error, tracking_uri, patience_s,
                                      initial_backoff_s, max_backoff_s)
        self._state = "new"
        self._monitor: Any = None

    @property
    def run_id(self) -> Optional[str]:
        """The trial's run id; None until the tracking server has answered once."""
        return None if self._writer.run is None else self._writer.run.run_id

    @property
    def artifact_uri(self) -> Optional[str]:
        """The run's artifact root URI; None until the tracking server has answered once."""
        return None if self._writer.run is None else self._writer.run.artifact_uri

    @property
    def spool_path(self) -> Path:
        return self._sender.spool.path

    @property
    def pending_records(self) -> int:
        return self._sender.pending_records

    def start(self, timeout: Optional[Seconds] = None) -> Optional[str]:
        """Queues "run is RUNNING" plus provenance tags and starts sending.

        Waits up to ``timeout`` (default ``start_timeout_s``) until these (and any records replayed
        from an earlier tracker's spool) are delivered and returns the run id, or None if the server
        has not answered yet (writes are buffered meanwhile). Raises
        :class:`TrackingSetupError` when the run cannot be found or created (e.g. unknown parent).
        """
        if self._state != "new":
            raise RuntimeError(f"tracker of trial {self.trial_id!r} was already started")
        self._state = "started"
        self._sender.submit({"op": "status", "status": "RUNNING"})
        self._sender.submit({"op": "tags", "tags": {**provenance_tags(), TAG_TRIAL_NAME: self.trial_name}})
        self._sender.start()
        try:
            self._sender.flush(self.start_timeout_s if timeout is None else timeout)
        except TrackingFlushError:
            if self._writer.setup_error is not None:
                raise self._writer.setup_error from None
        return self.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params (nested mappings flattened with '.'); ones the run already has are not re-logged."""
        self._submit({"op": "params", "params": string_params(params)})

    def log_metrics(self, metrics: Mapping[str, SupportsFloat], step: int, once: bool = False) -> None:
        """Metric values at ``step``; names are sanitised, NaN/inf values dropped. With ``once``,
        a metric the run already has at this step is not logged again."""
        values = finite_metrics(metrics)
        if values:
            record = {"op": "metrics", "step": int(step), "timestamp": int(time.time() * 1000), "metrics": values}
            self._submit({**record, "once": True} if once else record)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags (keys sanitised, values cut to MLflow's limit); later values replace earlier ones."""
        self._submit({"op": "tags", "tags": string_tags(tags)})

    def log_artifact(self, local_path: str | Path, artifact_path: Optional[str] = None) -> None:
        """Uploads a file or folder; it must still exist when the buffer sends it."""
        path = Path(local_path).resolve()
        if not path.exists():
            raise FileNotFoundError(f"log_artifact: {path} does not exist")
        self._submit({"op": "artifact", "local_path": str(path), "artifact_path": artifact_path, "staged": False})

    def log_text(self, text: str, artifact_file: str) -> None:
        """``text`` as artifact ``artifact_file`` (e.g. ``config.yaml``), staged beside the spool."""
        self._require_started()
        posix = PurePosixPath(artifact_file)
        staged = self._sender.spool.stage_text(text, posix.name)
        folder = None if str(posix.parent) == "." else str(posix.parent)
        self._submit({"op": "artifact", "local_path": str(staged), "artifact_path": folder, "staged": True})

    def log_dataset(self, dataset: DatasetRecord) -> None:
        """A dataset input of the run (MLflow's Datasets column), e.g. the labeled frames."""
        self._submit({"op": "dataset", "dataset": dataclasses.asdict(dataset)})

    def monitor_system(self, interval_s: Seconds) -> bool:
        """Records this machine's CPU, memory (and GPU) use as ``system/*`` metrics of the run every
        ``interval_s`` until :meth:`end`. False (nothing recorded) while the server has not answered."""
        self._require_started()
        if self.run_id is None or self._monitor is not None:
            return False
        try:
            self._monitor = self._writer.store.start_system_metrics(self.run_id, float(interval_s))
        except Exception as exc:  # a missing psutil, say: the trial goes on without
            logger.warning(f"trial {self.trial_id}: no system metrics: {exc}")
            return False
        return True

    def flush(self, timeout: Optional[Seconds] = None) -> None:
        """Blocks until every buffered record is sent; :class:`TrackingFlushError` after the timeout."""
        self._sender.flush(self.patience_s if timeout is None else timeout)

    def end(self, status: str = "FINISHED", timeout: Optional[Seconds] = None,
            ended_at: Optional[float] = None) -> None:
        """Queues the final status (the run ends at ``ended_at``, seconds since the epoch, else now),
        flushes everything and stops sending; the spool is deleted once all is sent. Raises
        :class:`TrackingFlushError` if records remain (they stay in the spool)."""
        if status not in END_STATUSES:
            raise ValueError(f"end status must be one of {END_STATUSES}, got {status!r}")
        if self._state != "started":
            raise RuntimeError(f"tracker of trial {self.trial_id!r}: end() needs a started, not yet ended tracker")
        self._state = "ended"
        if self._monitor is not None:
            self._monitor.finish()  # its last samples, then the run's end time
        end_time = int((time.time() if ended_at is None else ended_at) * 1000)
        self._sender.submit({"op": "status", "status": status, "end_time": end_time})
        try:
            self._sender.flush(self.patience_s if timeout is None else timeout)
        finally:
            self._sender.close()
        self._sender.spool.remove()

    def __enter__(self) -> "TrialTracker":
        self.start()
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Any) -> None:
        self.end("FINISHED" if exc_type is None else "FAILED")

    def _require_started(self) -> None:
        if self._state != "started":
            raise RuntimeError(f"tracker of trial {self.trial_id!r}: call start() before logging, and not after end()")

    def _submit(self, record: dict[str, Any]) -> None:
        self._require_started()
        self._sender.submit(record)
        if not self.background:
            self._sender.flush(self.patience_s)


def last_seen(pending: list[dict[str, Any]], ended_at: Optional[float]) -> Optional[float]:
    """When a trial that left ``pending`` spool records was last known alive (seconds since the
    epoch): the latest of ``ended_at`` (its last report), its records' timestamps and the end time
    of a final status it queued; None if none is known."""
    stamps = [record.get("timestamp", record.get("end_time")) / 1000 for record in pending
              if "timestamp" in record or "end_time" in record]
    known = stamps + ([] if ended_at is None else [ended_at])
    return max(known) if known else None


def deliver_spooled(
    tracking_uri: str, parent_run_id: str, experiment_id: str, sweep_name: str, final_states: Mapping[str, str],
    spool_dir: str | Path, timeout_s: Seconds = TRACKING_PATIENCE_S, ended_at: Optional[Mapping[str, float]] = None,
) -> list[str]:
    """Send what trials left unsent in their spools (a trial stopped or killed while the server was
    away) and give their runs the final state (``final_states``: trial id -> FINISHED | KILLED |
    FAILED). Such a run ends when its trial was last seen (:func:`last_seen`, from ``ended_at``:
    trial id -> its last report), not at the delivery. Returns the trial ids that had records
    left; raises TrackingFlushError after ``timeout_s``."""
    delivered = []
    for trial_id, state in final_states.items():
        spool = Spool(Path(spool_dir), spool_key(sweep_name, parent_run_id, trial_id))
        pending = spool.load_pending()
        if not pending:
            spool.remove()  # all sent (or never written): drop what a stopped trial left
            continue
        tracker = TrialTracker(tracking_uri, parent_run_id, experiment_id, trial_id, trial_id, sweep_name,
                               spool_dir=spool_dir, patience_s=timeout_s)
        tracker.start(timeout=timeout_s)
        tracker.end(state, timeout=timeout_s, ended_at=last_seen(pending, (ended_at or {}).get(trial_id)))
        delivered.append(trial_id)
    return delivered
