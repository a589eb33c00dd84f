"""Secrets in a sweep's environment (tracking credentials, cloud keys, Ray's token) appear nowhere
the sweep writes: the MLflow store and artifacts, the Ray results, the spool and records, Ray's
session logs, or the driver's output."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.lp_sweeps.sweep.test_run import QUICKSTART, TINY

pytestmark = pytest.mark.slow

LP_SWEEP = Path(sys.executable).parent / "lp-sweep"
SECRETS = {
    "MLFLOW_TRACKING_PASSWORD": "pw-7f3a9c1e5b2d",
    "MLFLOW_TRACKING_TOKEN": "tok-4e8b2a6f9d1c",
    "AWS_SECRET_ACCESS_KEY": "aws-9c2e7b4a1f6d",
    "AWS_ACCESS_KEY_ID": "AKIAFAKE3B8D2E",
}


def _files_containing(folder: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}: {needle.decode()}" for needle in needles if needle in data]
    return hits


@pytest.fixture
def short_tmp() -> Path:
    """A short folder for Ray's session (its socket paths must stay under 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="lps-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_planted_secrets_appear_nowhere(tmp_path, short_tmp):
    project, logs = tmp_path / "project", short_tmp
    env = {**os.environ, **SECRETS, "TMPDIR": str(logs), "LP_SWEEPS_KEEP_RAY_LOGS": "1", "PYTHONUNBUFFERED": "1"}
    overrides = ["budget.num_samples=2", "budget.max_epochs=1", "scheduler={name: fifo}", *TINY]
    result = subprocess.run([str(LP_SWEEP), "launch", str(QUICKSTART), *overrides, "--project-dir", str(project),
                             "--num-cpus", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Ray session logs: " in result.stdout
    ray_logs = list(logs.glob("lpray-*"))
    assert ray_logs and list(ray_logs[0].rglob("*.log")), "the session logs were kept for the search"
    needles = [value.encode() for value in SECRETS.values()]
    assert (project / "mlruns.db").is_file() and list((project / "mlartifacts").rglob("config.yaml"))
    assert list((project / "ray_results").rglob("result.json"))
    hits = _files_containing(project, needles) + _files_containing(logs, needles)
    hits += [f"driver output: {n.decode()}" for n in needles if n.decode() in result.stdout + result.stderr]
    assert hits == []
