"""``grid`` under the optuna searcher, through a real local Ray and a real MLflow store: every grid
value gets exactly ``num_samples`` trials, and within each value its own TPE proposes the rest."""

import collections

import pytest
import yaml
from mlflow import MlflowClient

from lp_sweeps import sweep
from tests.lp_sweeps.conftest import TINY_OVERRIDES

pytestmark = pytest.mark.slow

STUDY = {
    "name": "grid_check",
    "base_config": "demo",
    "overrides": TINY_OVERRIDES,
    "searcher": {"name": "optuna", "seed": 3},
    "scheduler": {"name": "fifo"},
    "budget": {"num_samples": 2, "max_concurrent_trials": 2, "max_epochs": 1},
    "video": {"frames_per_video": 0},
    "resources": {"cpus": 1},
    "parameters": {
        "model.model_type": {"grid": ["heatmap", "regression"]},
        "training.optimizer_params.learning_rate": {"loguniform": [1.0e-4, 1.0e-2]},
    },
}


def test_each_grid_value_runs_num_samples_trials_with_its_own_searcher(tmp_path):
    study_file = tmp_path / "grid.yaml"
    study_file.write_text(yaml.safe_dump(STUDY, sort_keys=False))
    record = sweep.launch(study_file, [], project_dir=tmp_path / "project", num_cpus=2, printer=lambda _: None)
    assert record.state == "finished"
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    assert len(runs) == 4
    by_type = collections.defaultdict(list)
    for run in runs:
        by_type[run.data.params["model.model_type"]].append(
            float(run.data.params["training.optimizer_params.learning_rate"]))
    assert {key: len(values) for key, values in by_type.items()} == {"heatmap": 2, "regression": 2}
    # one TPE per grid value, seeded alike: both values are tried with the same learning rates
    assert sorted(by_type["heatmap"]) == sorted(by_type["regression"])
    assert len(set(by_type["heatmap"])) == 2 and all(1e-4 <= lr <= 1e-2 for lr in by_type["heatmap"])
