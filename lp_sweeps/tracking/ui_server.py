"""The local MLflow UI server: ``python -m mlflow server`` in its own process group (a child
process, so nothing here imports mlflow)."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lp_sweeps.tracking.naming import Seconds

__all__ = ["experiment_runs_url", "start_ui", "stop_ui", "wait_until_healthy"]


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


def experiment_runs_url(base_url: str, experiment_id: str) -> str:
    """The MLflow UI page of an experiment's runs table. MLflow 3's UI opens experiments in its
    GenAI view unless asked for the model-training one (``workflowType=machine_learning``)."""
    return f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
