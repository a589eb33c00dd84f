"""A finished sweep with everything issue 11 adds, run once per test session and shared by the
tests that read it (MLflow records, the report in Chromium, the MLflow UI in Chromium).

The quickstart study, tiny: 3 search trials of 2 epochs, the video stage on 32 frames per video,
then the 2 best configurations trained again with 2 seeds each and fused with EKS. About 4 minutes
on 2 cores.
"""

import dataclasses
from pathlib import Path

import pytest

from lp_sweeps import sweep
from lp_sweeps.sweep import SweepRecord

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
REPLICATED = [
    "budget.num_samples=3", "budget.max_epochs=2", "training.limit_train_batches=2", "training.val_batch_size=16",
    "video={frames_per_video: 32}", "replicates={top_k: 2, seeds: 2, ensemble: eks}",
]


@dataclasses.dataclass(frozen=True)
class FinishedSweep:
    record: SweepRecord
    project: Path
    lines: list[str]  # what the sweep printed

    def printed(self, prefix: str) -> str:
        """The text after ``prefix`` on the line the sweep printed with it."""
        return next(line.split(prefix, 1)[1].strip() for line in self.lines if prefix in line)


@pytest.fixture(scope="session")
def replicated_sweep(tmp_path_factory: pytest.TempPathFactory) -> FinishedSweep:
    project = tmp_path_factory.mktemp("replicated")
    lines: list[str] = []
    record = sweep.launch(QUICKSTART, REPLICATED, project_dir=project, num_cpus=2, printer=lines.append)
    assert record.state == "finished", "\n".join(lines)
    return FinishedSweep(record, project, lines)
