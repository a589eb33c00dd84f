"""A small finished multi-objective sweep shared by the Pareto-front, warm-start and
optuna-dashboard tests (one real local Ray, one real MLflow SQLite store, the demo project)."""

import pathlib

import pytest
import yaml

TINY_OVERRIDES = {
    "model.backbone": "resnet18", "model.backbone_pretrained": False,
    "data.image_resize_dims": {"height": 128, "width": 128}, "training.check_val_every_n_epoch": 1,
    "training.limit_train_batches": 1, "training.val_batch_size": 16, "eval.predict_vids_after_training": False,
}
LR = "training.optimizer_params.learning_rate"
MULTI_OBJECTIVE_STUDY = {
    "name": "two_objectives",
    "base_config": "demo",
    "overrides": TINY_OVERRIDES,
    "objective": [{"metric": "val_pixel_error"}, {"metric": "val_supervised_rmse"}],
    "searcher": {"name": "optuna", "seed": 0},
    "scheduler": {"name": "fifo"},
    "budget": {"num_samples": 4, "max_concurrent_trials": 2, "max_epochs": 2},
    "resources": {"cpus": 1},
    "parameters": {
        "model.model_type": {"choice": ["heatmap", "regression"]},
        LR: {"loguniform": [1.0e-4, 1.0e-2]},
    },
}


def write_study(folder: pathlib.Path, study: dict) -> pathlib.Path:
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def multi_objective_sweep(tmp_path_factory):
    """(project folder, SweepRecord) of a finished 4-trial sweep minimising two metrics."""
    from lp_sweeps import sweep

    folder = tmp_path_factory.mktemp("mo_sweep")
    record = sweep.launch(write_study(folder, MULTI_OBJECTIVE_STUDY), [], project_dir=folder / "project",
                          num_cpus=2, printer=lambda _: None)
    assert record.state == "finished"
    return folder / "project", record
