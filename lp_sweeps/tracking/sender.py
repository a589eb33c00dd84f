"""Sending a trial's tracking records in order from a background thread, retrying while the
tracking server is unreachable.

Every write of a trial becomes a JSON *record* (``{"seq": 7, "op": "metrics", ...}``). A record is
appended to the trial's spool (:class:`~lp_sweeps.tracking.spool.Spool`) before it joins the
in-memory queue, and the spool's watermark holds the sequence number of the last record the
server accepted, so a crash or an outage loses nothing that reached the spool.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lp_sweeps.tracking.spool import Spool
from lp_sweeps.tracking.naming import Seconds

__all__ = ["BufferedSender", "END_STATUSES", "TrackingFlushError", "TrackingSetupError"]

logger = logging.getLogger(__name__)

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
        # records an earlier sender left unsent may have reached the server before it stopped:
        # marked ``once``, so the delivery skips what the run already has
        self._pending: deque[dict[str, Any]] = deque({**r, "once": True} for r in spool.load_pending())
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
            "tracker of this trial",
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
