"""End to end: ``lp-sweep init`` on a copy of the mirror-mouse data, then the written study launched
with exactly ``budget.num_samples=2 budget.max_epochs=1`` on a real local Ray with a real MLflow
SQLite store, to the end."""

import pytest
from mlflow import MlflowClient

from lp_sweeps.cli import main
from lp_sweeps.tracking import default_tracking_uri

pytestmark = pytest.mark.slow


def test_init_then_launch_the_written_study(mirror_mouse_copy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LP_OFFLINE", "1")  # no weight downloads: the study trains from scratch
    runs = tmp_path / "runs"
    assert main(["init", str(mirror_mouse_copy), "--project-dir", str(runs)]) == 0
    command = capsys.readouterr().out.rstrip().splitlines()[-1].split()
    assert command[:2] == ["lp-sweep", "launch"]

    code = main([*command[1:], "budget.num_samples=2", "budget.max_epochs=1", "--num-cpus", "2"])
    printed = capsys.readouterr()
    assert code == 0, printed.out[-3000:] + printed.err[-3000:]
    client = MlflowClient(default_tracking_uri(runs))
    experiment = client.get_experiment_by_name("mirror-mouse-example_starter")
    every = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in every if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in every if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children)
    for run in children:
        assert run.data.params["model.model_type"] in ("heatmap", "heatmap_mhcrnn")
        [last] = client.get_metric_history(run.info.run_id, "val_pixel_error")  # one epoch, one report
        assert 0 < last.value < 600  # pixels, on 406x396 frames
        assert run.data.metrics["video_temporal_norm"] >= 0  # the video stage ran on test_vid.mp4
