"""Fixtures of the tracking tests: a fresh SQLite MLflow store per test, a sweep's parent run."""

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from lp_sweeps.tracking import SweepTracker, TrialTracker, default_tracking_uri

EXPERIMENT = "study-a"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with its tables created once (creating them takes ~6 s)."""
    folder = tmp_path_factory.mktemp("template")
    MlflowClient(default_tracking_uri(folder)).search_experiments()
    return folder / "mlruns.db"


@pytest.fixture
def store(tmp_path: Path, template_db: Path) -> str:
    shutil.copy(template_db, tmp_path / "mlruns.db")
    return default_tracking_uri(tmp_path)


@pytest.fixture
def sweep(store: str) -> tuple[SweepTracker, str]:
    tracker = SweepTracker(store, EXPERIMENT)
    return tracker, tracker.start_sweep("sweep-1", params={"search.num_samples": 4}, tags={"owner": "tests"})


def make_trial(store: str, sweep: tuple[SweepTracker, str], trial_id: str, tmp_path: Path, **kwargs) -> TrialTracker:
    tracker, parent = sweep
    name, spool = f"trial_{trial_id}", tmp_path / "spool"
    return TrialTracker(store, parent, tracker.experiment_id, trial_id, name, "sweep-1", spool_dir=spool, **kwargs)


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path)


def history(store: str, run_id: str, metric: str) -> list[tuple[int, float]]:
    """``[(step, value), ...]`` of one metric, ordered by step then time (every value counted)."""
    values = MlflowClient(store).get_metric_history(run_id, metric)
    return [(int(m.step), float(m.value)) for m in sorted(values, key=lambda m: (m.step, m.timestamp))]
