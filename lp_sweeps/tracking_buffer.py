"""Write-ahead buffer between a trial and its MLflow tracking server.

Nothing here imports mlflow: :class:`lp_sweeps.tracking.TrialTracker` subclasses
:class:`TrialLog` and supplies the delivery of one record and the classification of errors.

Every write of a trial becomes a JSON *record* (``{"seq": 7, "op": "metrics", ...}``). A record
is appended to the trial's spool file (:class:`lp_sweeps.tracking_support.Spool`, JSON lines)
before it joins the in-memory queue, and the spool's ``.acked`` file holds the sequence number of
the last record the server accepted. A background thread sends the queue in order, retrying with
exponential backoff while the server is unreachable; a later spool for the same trial reads back
the records that were never acknowledged, so a crash or an outage loses nothing that reached it.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, SupportsFloat

from lp_sweeps.tracking_support import (
    Seconds,
    Spool,
    finite_metrics,
    provenance_tags,
    serialize_dict,
    string_params,
    string_tags,
)

__all__ = [
    "CHECKPOINT_DIR",
    "TAG_TRIAL_NAME",
    "BufferedSender",
    "TrackingFlushError",
    "TrackingSetupError",
    "TrialLog",
]

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
TAG_TRIAL_NAME = "lp_sweeps.trial_name"
END_STATUSES = ("FINISHED", "FAILED", "KILLED")


class TrackingFlushError(RuntimeError):
    """Raised when buffered records could not be sent in time; they stay in the spool file."""

    def __init__(self, message: str, remaining_records: int, remaining_metric_values: int, spool_path: Path) -> None:
        super().__init__(message)
        self.remaining_records = remaining_records
        self.remaining_metric_values = remaining_metric_values
        self.spool_path = spool_path


class TrackingSetupError(RuntimeError):
    """The trial's run could not be found or created for a reason that retrying will not fix."""


def _metric_count(record: Mapping[str, Any]) -> int:
    return len(record["metrics"]) if record.get("op") == "metrics" else 0


class BufferedSender:
    """Sends spooled records in order from a background thread, retrying transient failures.

    ``send(record)`` delivers one record or raises; ``is_transient(exc)`` says whether to retry.
    A permanent error drops that record (error log); :class:`TrackingSetupError` stops the sender
    and keeps everything in the spool. Retries back off from ``initial_backoff_s`` doubling up to
    ``max_backoff_s`` and never stop while the sender is open; after ``patience_s`` of outage an
    error is logged once. :meth:`flush` wakes the thread for an immediate retry.
    """

    def __init__(
        self,
        spool: Spool,
        send: Callable[[dict[str, Any]], None],
        is_transient: Callable[[BaseException], bool],
        target: str,
        patience_s: Seconds = 120.0,
        initial_backoff_s: Seconds = 0.5,
        max_backoff_s: Seconds = 10.0,
    ) -> None:
        if not (0 < initial_backoff_s <= max_backoff_s):
            raise ValueError(f"need 0 < initial_backoff_s <= max_backoff_s, got {initial_backoff_s}, {max_backoff_s}")
        if patience_s <= 0:
            raise ValueError(f"patience_s must be positive, got {patience_s}")
        self.spool = spool
        self._send = send
        self._is_transient = is_transient
        self.target = target
        self.patience_s = patience_s
        self._initial_backoff = initial_backoff_s
        self._max_backoff = max_backoff_s
        self._cv = threading.Condition()
        self._wake = threading.Event()
        self._pending: deque[dict[str, Any]] = deque(spool.load_pending())
        self._thread: threading.Thread | None = None
        self._closed = False
        self._fatal: BaseException | None = None
        self._outage_since: float | None = None
        self._escalated = False

    @property
    def pending_records(self) -> int:
        with self._cv:
            return len(self._pending)

    @property
    def pending_metric_values(self) -> int:
        with self._cv:
            return sum(_metric_count(record) for record in self._pending)

    def submit(self, record: dict[str, Any]) -> None:
        """Spools ``record`` and queues it; returns at once."""
        with self._cv:
            if self._closed:
                raise RuntimeError(f"the tracking buffer for {self.spool.path.name} is closed")
            self._pending.append(self.spool.append(record))
            self._cv.notify_all()

    def start(self) -> None:
        """Starts the sending thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"lp-sweeps-tracking-{self.spool.path.stem}")
            self._thread.daemon = True
            self._thread.start()

    def flush(self, timeout: Seconds) -> None:
        """Blocks until the queue is empty; raises :class:`TrackingFlushError` after ``timeout``."""
        if self._thread is None:
            raise RuntimeError("flush() before start(): the tracking buffer has no sending thread yet")
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._cv:
            while self._pending and self._fatal is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cv.wait(remaining)
            if not self._pending:
                return
            records, values = len(self._pending), sum(_metric_count(r) for r in self._pending)
        reason = f"setup failed: {self._fatal}" if self._fatal is not None else f"not sent within {timeout:.1f} s"
        raise TrackingFlushError(
            f"{records} tracking records ({values} metric values) for MLflow tracking server {self.target} were "
            f"{reason}; they are kept in the spool file {self.spool.path} and will be replayed by the next "
            "TrialTracker of this trial",
            records,
            values,
            self.spool.path,
        )

    def close(self, join_timeout_s: Seconds = 1.0) -> None:
        """Stops the sending thread; unsent records stay in the spool."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(join_timeout_s)

    def _run(self) -> None:
        delay = self._initial_backoff
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                record = self._pending[0]
            try:
                self._send(record)
            except TrackingSetupError as exc:
                logger.error("%s; tracking records stay in spool %s", exc, self.spool.path)
                with self._cv:
                    self._fatal = exc
                    self._cv.notify_all()
                return
            except Exception as exc:  # noqa: BLE001 - classified right below
                if self._is_transient(exc):
                    self._note_outage(exc)
                    self._wake.wait(delay)
                    self._wake.clear()
                    delay = min(2 * delay, self._max_backoff)
                    continue
                logger.error("MLflow rejected record %s (%s: %s); dropping it", record, type(exc).__name__, exc)
            self._done(record)
            delay = self._initial_backoff

    def _done(self, record: dict[str, Any]) -> None:
        with self._cv:
            if self._pending and self._pending[0] is record:
                self._pending.popleft()
            self.spool.acknowledge(int(record["seq"]))
            if not self._pending:
                self.spool.compact()
            backlog = len(self._pending)
            self._cv.notify_all()
        if self._outage_since is not None:
            logger.warning(
                "MLflow tracking server %s reachable again after %.1f s; sending %d buffered records",
                self.target,
                time.monotonic() - self._outage_since,
                backlog,
            )
            self._outage_since = None
            self._escalated = False

    def _note_outage(self, exc: BaseException) -> None:
        now = time.monotonic()
        cause = f"{type(exc).__name__}: {str(exc)[:300]}"
        if self._outage_since is None:
            self._outage_since = now
            logger.warning(
                "MLflow tracking server %s unreachable, buffering %d metrics (%d records); will retry (spool %s). "
                "Cause: %s",
                self.target,
                self.pending_metric_values,
                self.pending_records,
                self.spool.path,
                cause,
            )
        elif not self._escalated and now - self._outage_since > self.patience_s:
            self._escalated = True
            logger.error(
                "MLflow tracking server %s still unreachable after %.0f s; %d metrics buffered in %s; "
                "retrying every %.0f s while the trial runs. Cause: %s",
                self.target,
                now - self._outage_since,
                self.pending_metric_values,
                self.spool.path,
                self._max_backoff,
                cause,
            )


class TrialLog:
    """The write API of one trial's run, buffered and spooled.

    A subclass delivers one record to the tracking store in ``send(record)`` (called on the
    sending thread) and, when it has found or created the run, calls :meth:`_run_found` (or
    :meth:`_run_failed` with the :class:`TrackingSetupError` it then raises). With
    ``background=True`` writes return at once; with ``background=False`` each write waits up to
    ``patience_s`` for delivery.
    """

    def __init__(
        self,
        trial_id: str,
        trial_name: str,
        spool: Spool,
        send: Callable[[dict[str, Any]], None],
        is_transient: Callable[[BaseException], bool],
        target: str,
        *,
        background: bool = True,
        patience_s: Seconds = 120.0,
        initial_backoff_s: Seconds = 0.5,
        max_backoff_s: Seconds = 10.0,
        start_timeout_s: Seconds = 10.0,
    ) -> None:
        self.trial_id = trial_id
        self.trial_name = trial_name or trial_id
        self.background = background
        self.patience_s = patience_s
        self.start_timeout_s = start_timeout_s
        self._sender = BufferedSender(spool, send, is_transient, target, patience_s, initial_backoff_s, max_backoff_s)
        self._run_id: str | None = None
        self._artifact_uri: str | None = None
        self._setup_error: TrackingSetupError | None = None
        self._state = "new"

    @property
    def run_id(self) -> str | None:
        """The trial's run id; None until the tracking server has answered once."""
        return self._run_id

    @property
    def artifact_uri(self) -> str | None:
        """The run's artifact root URI; None until the tracking server has answered once."""
        return self._artifact_uri

    @property
    def spool_path(self) -> Path:
        return self._sender.spool.path

    @property
    def pending_records(self) -> int:
        return self._sender.pending_records

    def start(self, timeout: Seconds | None = None) -> str | None:
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
            if self._setup_error is not None:
                raise self._setup_error from None
        return self._run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Params (nested mappings flattened with '.'); ones the run already has are not re-logged."""
        self._submit({"op": "params", "params": string_params(params)})

    def log_metrics(self, metrics: Mapping[str, SupportsFloat], step: int) -> None:
        """Metric values at ``step``; names are sanitised, NaN/inf values dropped."""
        values = finite_metrics(metrics)
        if values:
            self._submit({"op": "metrics", "step": int(step), "timestamp": int(time.time() * 1000), "metrics": values})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags (keys sanitised, values cut to MLflow's limit); later values replace earlier ones."""
        self._submit({"op": "tags", "tags": string_tags(tags)})

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
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

    def log_dict(self, data: Mapping[str, Any], artifact_file: str) -> None:
        """``data`` as YAML, JSON or CSV by the file's suffix (CSV takes ``column -> values``)."""
        self.log_text(serialize_dict(data, artifact_file), artifact_file)

    def log_checkpoint(self, path: str | Path, subdir: str | None = None) -> None:
        """A checkpoint file or folder under ``checkpoints/`` (or ``checkpoints/<subdir>``)."""
        self.log_artifact(path, CHECKPOINT_DIR if subdir is None else f"{CHECKPOINT_DIR}/{subdir.strip('/')}")

    def flush(self, timeout: Seconds | None = None) -> None:
        """Blocks until every buffered record is sent; :class:`TrackingFlushError` after the timeout."""
        self._sender.flush(self.patience_s if timeout is None else timeout)

    def end(self, status: str = "FINISHED", timeout: Seconds | None = None) -> None:
        """Queues the final status, flushes everything and stops sending; the spool is deleted once
        all is sent. Raises :class:`TrackingFlushError` if records remain (they stay in the spool)."""
        if status not in END_STATUSES:
            raise ValueError(f"end status must be one of {END_STATUSES}, got {status!r}")
        if self._state != "started":
            raise RuntimeError(f"tracker of trial {self.trial_id!r}: end() needs a started, not yet ended tracker")
        self._state = "ended"
        self._sender.submit({"op": "status", "status": status, "end_time": int(time.time() * 1000)})
        try:
            self._sender.flush(self.patience_s if timeout is None else timeout)
        finally:
            self._sender.close()
        self._sender.spool.remove()

    def __enter__(self) -> "TrialLog":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.end("FINISHED" if exc_type is None else "FAILED")

    def _require_started(self) -> None:
        if self._state != "started":
            raise RuntimeError(f"tracker of trial {self.trial_id!r}: call start() before logging, and not after end()")

    def _submit(self, record: dict[str, Any]) -> None:
        self._require_started()
        self._sender.submit(record)
        if not self.background:
            self._sender.flush(self.patience_s)

    def _run_found(self, run_id: str, artifact_uri: str) -> None:
        self._artifact_uri = artifact_uri
        self._run_id = run_id

    def _run_failed(self, error: TrackingSetupError) -> None:
        self._setup_error = error
