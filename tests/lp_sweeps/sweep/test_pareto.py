"""A multi-objective sweep reports its Pareto front: `lp-sweep best` prints exactly the trials that
no other trial dominates in the latest values of the objectives recorded in MLflow, and the parent
run records the front."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lp_sweeps.search import dominates, pareto_front

REPO = Path(__file__).resolve().parents[3]
METRICS = ["val_pixel_error", "val_supervised_rmse"]
pytestmark = pytest.mark.slow


def test_pareto_front_is_the_non_dominated_set_by_hand():
    points = {"a": [1.0, 5.0], "b": [2.0, 2.0], "c": [2.0, 3.0], "d": [5.0, 1.0], "e": [2.0, 2.0], "f": [6.0, 6.0]}
    assert pareto_front(points, ["min", "min"]) == ["a", "b", "d", "e"]  # c and f dominated; b, e equal
    assert pareto_front(points, ["max", "max"]) == ["f"]
    assert dominates([1.0, 2.0], [1.0, 3.0], ["min", "min"]) and not dominates([1.0, 3.0], [1.0, 3.0], ["min", "min"])


def test_best_prints_the_pareto_front_of_the_mlflow_runs(multi_objective_sweep, tmp_path):
    project, record = multi_objective_sweep
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    assert len(runs) == 4 and len({r.data.tags["lp_sweeps.trial_id"] for r in runs}) == 4
    points = {r.data.tags["lp_sweeps.trial_id"]: [r.data.metrics[m] for m in METRICS] for r in runs}
    expected = {t for t, p in points.items() if not any(dominates(q, p, ["min", "min"]) for q in points.values())}

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "lp_sweeps.cli", "--project-dir", str(project), "best",
                          record.sweep_name, "--output", str(tmp_path / "best.yaml")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Pareto front of"))
    assert lines[header] == f"Pareto front of {METRICS} ({len(expected)} trials):"
    printed = [line.split()[0] for line in lines[header + 1:header + 1 + len(expected)]]
    assert len(printed) == len(expected) and set(printed) == expected
    for line in lines[header + 1:header + 1 + len(expected)]:
        trial = line.split()[0]
        assert f"val_pixel_error={points[trial][0]:.4f}" in line and f"val_supervised_rmse={points[trial][1]:.4f}" in line

    parent = client.get_run(record.parent_run_id)
    assert set(parent.data.tags["lp_sweeps.pareto_front"].split(",")) == expected
    document = json.loads(Path(client.download_artifacts(record.parent_run_id, "pareto_front.json",
                                                         str(tmp_path))).read_text())
    assert document["metrics"] == METRICS and {row["trial_id"] for row in document["trials"]} == expected
    tagged = {r.data.tags["lp_sweeps.trial_id"] for r in runs if r.data.tags.get("lp_sweeps.pareto_front") == "true"}
    assert tagged == expected
