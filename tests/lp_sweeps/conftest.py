"""Finished sweeps shared by the tests that read them, each run once per test session (one real
local Ray, one real MLflow SQLite store, the demo project):

- ``multi_objective_sweep``: 4 trials minimising two metrics (the Pareto-front, warm-start and
  optuna-dashboard tests);
- ``replicated_sweep``: the quickstart study, tiny: 3 search trials of 2 epochs, the video stage on
  32 frames per video, then the 2 best configurations trained again with 2 seeds each and fused
  with EKS (the MLflow records, the report and the MLflow UI in Chromium). About 4 minutes on 2 cores.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml

from lp_sweeps import sweep
from lp_sweeps.sweep import SweepRecord
from tests.disk import release_when_unused

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
REPLICATED = [
    "budget.num_samples=3", "budget.max_epochs=2", "training.limit_train_batches=2", "training.val_batch_size=16",
    "video={frames_per_video: 32}", "replicates={top_k: 2, seeds: 2, ensemble: eks}",
]
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
    "video": {"frames_per_video": 0},
    "parameters": {
        "model.model_type": {"choice": ["heatmap", "regression"]},
        LR: {"loguniform": [1.0e-4, 1.0e-2]},
    },
}


def write_study(folder: Path, study: dict) -> Path:
    path = folder / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def multi_objective_sweep(request: pytest.FixtureRequest,
                          tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepRecord]:
    """(project folder, SweepRecord) of a finished 4-trial sweep minimising two metrics."""
    folder = release_when_unused(request, tmp_path_factory.mktemp("mo_sweep"))
    record = sweep.launch(write_study(folder, MULTI_OBJECTIVE_STUDY), [], project_dir=folder / "project",
                          num_cpus=2, printer=lambda _: None)
    assert record.state == "finished"
    return folder / "project", record


@dataclasses.dataclass(frozen=True)
class FinishedSweep:
    record: SweepRecord
    project: Path
    lines: list[str]  # what the sweep printed

    def printed(self, prefix: str) -> str:
        """The text after ``prefix`` on the line the sweep printed with it."""
        return next(line.split(prefix, 1)[1].strip() for line in self.lines if prefix in line)


@pytest.fixture(scope="session")
def replicated_sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FinishedSweep:
    project = release_when_unused(request, tmp_path_factory.mktemp("replicated"))
    lines: list[str] = []
    record = sweep.launch(QUICKSTART, REPLICATED, project_dir=project, num_cpus=2, printer=lines.append)
    assert record.state == "finished", "\n".join(lines)
    return FinishedSweep(record, project, lines)
