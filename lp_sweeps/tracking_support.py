"""Everything around MLflow tracking that does not need the mlflow package.

Names and values that MLflow accepts (:func:`sanitize_key`, :func:`param_value`,
:func:`finite_metrics`), where a project's tracking store lives (:func:`default_tracking_uri`),
what produced a run (:func:`provenance_tags`), how dict artifacts are written
(:func:`serialize_dict`) and the local MLflow UI server's life cycle (:func:`start_ui`,
:func:`wait_until_healthy`, :func:`stop_ui`; the server runs as ``python -m mlflow server``).
"""

import csv
import functools
import importlib.metadata
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, SupportsFloat

import yaml

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "Seconds",
    "Spool",
    "default_artifact_location",
    "default_spool_dir",
    "default_tracking_uri",
    "finite_metrics",
    "flatten_params",
    "param_value",
    "params_to_log",
    "provenance_tags",
    "sanitize_key",
    "serialize_dict",
    "spool_key",
    "sqlite_path",
    "start_ui",
    "string_params",
    "string_tags",
    "stop_ui",
    "wait_until_healthy",
]

logger = logging.getLogger(__name__)

Seconds = float | int  # durations: plain ints are welcome too (runtime type checks are strict)

_VERSIONED_DISTRIBUTIONS = ("lightning-pose", "lp-sweeps", "torch", "ray", "mlflow", "optuna")
MAX_KEY_LENGTH = 250  # MLflow's limit for metric, param and tag keys
MAX_PARAM_VALUE_LENGTH = 6000  # MLflow's limit for a param value
MAX_TAG_VALUE_LENGTH = 8000  # MLflow's limit for a tag value
_TRUNCATION_MARK = "...[truncated]"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")
_BAD_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
_COMPACT_BYTES = 1 << 20  # rewrite a fully acknowledged spool once it is larger than this


def sanitize_key(name: str) -> str:
    """A metric/param/tag key that MLflow accepts on every platform.

    Characters outside ``[A-Za-z0-9_\\-./ ]`` become ``_``; empty, ``.`` and ``..`` path segments
    (which MLflow rejects as non-normalised paths) are dropped or replaced; the result is cut to
    MLflow's 250-character limit. ``"lr-Adam/head"`` is returned unchanged.
    """
    cleaned = _BAD_KEY_CHARS.sub("_", str(name))[:MAX_KEY_LENGTH]
    segments = ["_" * len(seg) if seg in (".", "..") else seg for seg in cleaned.split("/") if seg]
    return "/".join(segments) or "_"


def param_value(value: Any, limit: int = MAX_PARAM_VALUE_LENGTH) -> str:
    """``str(value)``, cut to ``limit`` (MLflow's 6000-character param limit) with a visible marker."""
    text = str(value)
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK


def string_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags with sanitised keys and string values within MLflow's 8000-character limit."""
    return {sanitize_key(key): param_value(value, MAX_TAG_VALUE_LENGTH) for key, value in tags.items()}


def flatten_params(params: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """Nested mappings flattened to ``{"a.b.c": value}``; a flat mapping comes back unchanged."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in flatten_params(value, sep).items():
                flat[f"{key}{sep}{sub_key}"] = sub_value
        else:
            flat[str(key)] = value
    return flat


def string_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flattened params with sanitised keys and string values within MLflow's limits."""
    return {sanitize_key(key): param_value(value) for key, value in flatten_params(params).items()}


def finite_metrics(metrics: Mapping[str, SupportsFloat]) -> dict[str, float]:
    """Sanitised names -> float values; NaN and infinite values are dropped (debug log)."""
    out: dict[str, float] = {}
    for name, raw in metrics.items():
        try:
            value = float(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metric {name!r} has value {raw!r}, which is not a single number") from exc
        if not math.isfinite(value):
            logger.debug("dropping metric %r: value %r is not finite", name, value)
            continue
        out[sanitize_key(name)] = value
    return out


def params_to_log(existing: Mapping[str, str], params: Mapping[str, str], where: str) -> dict[str, str]:
    """The params not yet present in ``existing``.

    A param already present with the same value is skipped silently (resume); one present with a
    different value is skipped with a warning, because MLflow refuses to change a logged param.
    """
    new: dict[str, str] = {}
    for key, value in params.items():
        if key not in existing:
            new[key] = value
        elif existing[key] != value:
            logger.warning(
                "%s: param %r is already logged as %r; the new value %r is not logged (MLflow params are write-once)",
                where,
                key,
                existing[key],
                value,
            )
    return new


def default_spool_dir() -> Path:
    """``<system temp dir>/lp_sweeps_spool``: fixed, so a restarted trial on the same node finds its spool."""
    return Path(tempfile.gettempdir()) / "lp_sweeps_spool"


def spool_key(sweep_name: str, parent_run_id: str, trial_id: str) -> str:
    """File-name stem of one trial's spool."""
    return "__".join(_BAD_FILE_CHARS.sub("_", part) for part in (sweep_name, parent_run_id[:12], trial_id))


class Spool:
    """Append-only JSON-lines record log of one trial plus its acknowledgement watermark."""

    def __init__(self, spool_dir: Path, key: str) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.path = spool_dir / f"{key}.jsonl"
        self.ack_path = spool_dir / f"{key}.acked"
        self.files_dir = spool_dir / f"{key}.files"
        self._acked = self._read_ack()
        self._next_seq = self._acked + 1

    def _read_ack(self) -> int:
        try:
            return int(self.ack_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:
            logger.warning("ignoring unreadable spool watermark %s; replaying the whole spool", self.ack_path)
            return 0

    def load_pending(self) -> list[dict[str, Any]]:
        """Records appended by an earlier writer and never acknowledged, in order."""
        if not self.path.exists():
            return []
        pending = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                seq = int(record["seq"])
            except (ValueError, KeyError, TypeError):
                logger.warning("skipping unreadable line %d of spool %s (interrupted write?)", number, self.path)
                continue
            self._next_seq = max(self._next_seq, seq + 1)
            if seq > self._acked:
                pending.append(record)
        if pending:
            logger.info("replaying %d unsent tracking records from spool %s", len(pending), self.path)
        return pending

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Gives ``record`` the next sequence number and appends it to the spool file."""
        record = {"seq": self._next_seq, **record}
        line = json.dumps(record, allow_nan=False)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
        self._next_seq += 1
        return record

    def acknowledge(self, seq: int) -> None:
        """Moves the watermark to ``seq`` (atomic replace, so a crash leaves the old or the new one)."""
        self._acked = seq
        tmp = self.ack_path.with_suffix(".acked.tmp")
        tmp.write_text(str(seq))
        os.replace(tmp, self.ack_path)

    def compact(self) -> None:
        """Empties the spool file once every record in it is acknowledged and it has grown large."""
        if self._acked == self._next_seq - 1 and self.path.exists() and self.path.stat().st_size > _COMPACT_BYTES:
            self.path.write_text("", encoding="utf-8")

    def stage_text(self, text: str, file_name: str) -> Path:
        """Writes ``text`` to a fresh staging folder so the artifact can be uploaded later."""
        folder = self.files_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        return path

    def remove(self) -> None:
        """Deletes the spool, its watermark and staged files (everything has been sent)."""
        for path in (self.path, self.ack_path):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.files_dir, ignore_errors=True)


def default_tracking_uri(project_dir: str | Path) -> str:
    """``sqlite:///<project_dir>/mlruns.db``; artifacts go to ``<project_dir>/mlartifacts``."""
    return f"sqlite:///{Path(project_dir).resolve() / 'mlruns.db'}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for other URIs."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or len(tracking_uri) == len(prefix):
        return None
    return Path(tracking_uri[len(prefix) :])


def default_artifact_location(tracking_uri: str) -> str | None:
    """``file://`` URI of ``mlartifacts/`` beside a SQLite database; None for servers (they decide)."""
    db_path = sqlite_path(tracking_uri)
    return None if db_path is None else (db_path.resolve().parent / "mlartifacts").as_uri()


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    if os.environ.get("LP_SWEEPS_GIT_COMMIT"):
        return os.environ["LP_SWEEPS_GIT_COMMIT"]
    checkout = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def _package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def provenance_tags() -> dict[str, str]:
    """Git commit of the project checkout (or ``LP_SWEEPS_GIT_COMMIT``), package versions, host name."""
    commit = _git_commit()
    tags = {"lp_sweeps.git_commit": commit, "mlflow.source.git.commit": commit, "lp_sweeps.host": socket.gethostname()}
    tags.update({f"lp_sweeps.version.{dist}": _package_version(dist) for dist in _VERSIONED_DISTRIBUTIONS})
    return tags



def _plain(obj: Any) -> Any:
    """Plain YAML/JSON-able containers (mappings, lists, numpy scalars, paths)."""
    if isinstance(obj, Mapping):
        return {str(key): _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(value) for value in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    return obj


def serialize_dict(data: Mapping[str, Any], artifact_file: str) -> str:
    """Text of ``data`` in the format named by the suffix of ``artifact_file`` (.yaml/.yml/.json/.csv).

    For ``.csv`` the mapping is ``column name -> sequence of values``, all of one length.
    """
    suffix = PurePosixPath(artifact_file).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return yaml.safe_dump(_plain(data), sort_keys=False)
    if suffix == ".json":
        return json.dumps(_plain(data), indent=2)
    if suffix == ".csv":
        columns = {str(name): list(_plain(list(values))) for name, values in data.items()}
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"CSV artifact {artifact_file!r}: columns differ in length: {lengths}")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(zip(*columns.values()))
        return buffer.getvalue()
    raise ValueError(f"artifact file {artifact_file!r}: unsupported suffix {suffix!r}; use .yaml, .yml, .json or .csv")



def start_ui(
    backend_store_uri: str,
    artifacts_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    log_path: str | Path | None = None,
) -> subprocess.Popen:
    """Starts ``mlflow server`` (UI + REST API, artifacts proxied from ``artifacts_dir``) in its own
    process group, bound to ``host`` (loopback by default); stop it with :func:`stop_ui`."""
    Path(artifacts_dir).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_store_uri,
        "--artifacts-destination", str(Path(artifacts_dir).resolve()),
        "--host", host, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    output = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115 - handed to the child
    try:
        errors = subprocess.STDOUT if output is not None else None
        process = subprocess.Popen(command, stdout=output, stderr=errors, start_new_session=True)
    finally:
        if output is not None:
            output.close()
    print(f"MLflow UI: http://{host}:{port} (pid {process.pid})", flush=True)
    return process


def stop_ui(process: subprocess.Popen, timeout: Seconds = 30.0) -> None:
    """SIGTERM to the server's process group (workers included); SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def wait_until_healthy(url: str, timeout: Seconds = 60.0, process: subprocess.Popen | None = None) -> None:
    """Polls ``<url>/health`` until it answers 200; raises TimeoutError (or RuntimeError if ``process`` died)."""
    deadline = time.monotonic() + timeout
    health = url.rstrip("/") + "/health"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"MLflow server for {url} exited with code {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"MLflow server at {url} did not answer {health} with 200 within {timeout} s")
