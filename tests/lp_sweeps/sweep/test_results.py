"""A sweep with the video stage and seed replicates (top 2 x 2 seeds, EKS), checked through
``MlflowClient`` against what Ray recorded: runs per configuration and seed, the leaderboard's
mean and sd (recomputed here), the ensemble, each child's start and end, the LoggedModel with alias
``best``, and what the runs hold for the MLflow UI."""

import hashlib
import json
import math
import re
import statistics
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from lightning_pose.models import get_model_class
from lp_sweeps.tracking import load_tracker_model

pytestmark = pytest.mark.slow
VIDEO_METRICS = ("video_temporal_norm", "video_pca_singleview_error", "video_confidence", "video_pixel_error")


def _runs(client: MlflowClient, record) -> list:
    return client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'",
                              max_results=1000)


def _value(client: MlflowClient, run) -> float:
    """A run's value: its best report of the objective (what the leaderboard ranks)."""
    return min(m.value for m in client.get_metric_history(run.info.run_id, "val_pixel_error"))


def _ray_trials(record) -> dict[str, dict]:
    """trial id -> the last result Ray recorded for it (search and replicate experiments)."""
    trials = {}
    for result_file in Path(record.storage_dir).glob(f"{record.sweep_name}*/*/result.json"):
        lines = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
        if lines:
            trials[lines[-1]["trial_id"]] = lines[-1]
    return trials


def test_replicates_are_child_runs_per_configuration_and_seed(replicated_sweep):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    runs = _runs(client, record)
    trials = [r for r in runs if r.data.tags["lp_sweeps.role"] == "trial"]
    search = [r for r in trials if "lp_sweeps.seed" not in r.data.tags]
    replicates = [r for r in trials if "lp_sweeps.seed" in r.data.tags]
    assert len(search) == 3 and len(replicates) == 4
    # the two best search trials (distinct configurations) were replicated, with seeds 1 and 2 each
    ranked = sorted(search, key=lambda r: _value(client, r))
    groups = [r.data.tags["lp_sweeps.group"] for r in ranked[:2]]
    pairs = sorted((r.data.tags["lp_sweeps.group"], r.data.tags["lp_sweeps.seed"]) for r in replicates)
    assert pairs == sorted((g, s) for g in groups for s in ("1", "2"))
    for run in replicates:
        source = next(r for r in search if r.data.tags["lp_sweeps.trial_id"] == run.data.tags["lp_sweeps.replicate_of"])
        seed = int(run.data.tags["lp_sweeps.seed"])
        assert run.data.params["training.rng_seed_model_pt"] == run.data.params["training.rng_seed_data_pt"] == str(seed)
        assert run.info.run_name.startswith(f"{source.data.tags['lp_sweeps.group']}.s{seed} ")
        assert run.info.run_name.split(" ", 1)[1] == source.info.run_name.split(" ", 1)[1]
        assert {k: v for k, v in run.data.params.items() if not k.startswith("training.rng_seed")} == source.data.params
    # short unique names that say what the trial is: t01 heatmap temporal lw4.75 lr3.9e-3
    names = [r.info.run_name for r in trials]
    assert len(set(names)) == len(names)
    assert sorted(r.info.run_name.split()[0] for r in search) == ["t01", "t02", "t03"]
    for run in search:
        pattern = rf"^t0\d {run.data.params['model.model_type']} temporal lw\d(\.\d+)? lr\d(\.\d+)?e-\d$"
        assert re.match(pattern, run.info.run_name), run.info.run_name


def test_leaderboard_ranks_configurations_by_mean_over_seeds(replicated_sweep):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    runs = _runs(client, record)
    parent = client.get_run(record.parent_run_id)
    replicates = [r for r in runs if "lp_sweeps.seed" in r.data.tags]
    by_group: dict[str, list[float]] = {}
    for run in replicates:
        by_group.setdefault(run.data.tags["lp_sweeps.group"], []).append(_value(client, run))
    stats = {g: (statistics.fmean(v), statistics.stdev(v)) for g, v in by_group.items()}
    order = sorted(stats, key=lambda g: stats[g][0])
    table = parent.data.tags["mlflow.note.content"]
    rows = [line for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) == 3  # every configuration, the replicated ones first, by their mean
    for rank, group in enumerate(order, start=1):
        mean, sd = stats[group]
        assert rows[rank - 1].startswith(f"| {rank} | {group} ") and f"| 2 | {mean:.3f} ± {sd:.3f} |" in rows[rank - 1]
    assert parent.data.metrics["best_val_pixel_error_mean"] == pytest.approx(stats[order[0]][0], rel=1e-9)
    assert parent.data.metrics["best_val_pixel_error_sd"] == pytest.approx(stats[order[0]][1], rel=1e-9)
    assert parent.data.metrics["runs_finished"] + parent.data.metrics.get("runs_stopped_early", 0) == 7
    assert parent.data.metrics["configurations"] == 3
    # the best run is the best run of the best configuration
    best = client.get_run(parent.data.tags["lp_sweeps.best_run_id"])
    assert best.data.tags["lp_sweeps.group"] == order[0]
    assert "report.html" in {a.path for a in client.list_artifacts(record.parent_run_id)}
    report = Path(replicated_sweep.printed("report:"))
    assert report == Path(record.project_dir) / "sweeps" / record.sweep_name / "report.html" and report.is_file()


def test_eks_ensemble_of_each_replicated_configuration(replicated_sweep):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    runs = _runs(client, record)
    ensembles = {r.data.tags["lp_sweeps.group"]: r for r in runs if r.data.tags["lp_sweeps.role"] == "ensemble"}
    replicates = [r for r in runs if "lp_sweeps.seed" in r.data.tags]
    assert sorted(ensembles) == sorted({r.data.tags["lp_sweeps.group"] for r in replicates})
    for group, run in ensembles.items():
        seeds = [r for r in replicates if r.data.tags["lp_sweeps.group"] == group]
        assert run.info.run_name == f"{group} eks ensemble (2 seeds)" and run.info.status == "FINISHED"
        metrics = run.data.metrics
        assert metrics["seeds_video_pixel_error"] == pytest.approx(
            statistics.fmean(r.data.metrics["video_pixel_error"] for r in seeds), rel=1e-9)
        assert 0 < metrics["eks_video_pixel_error"] < 1000 and 0 <= metrics["eks_ensemble_variance"] < 1e6
        assert 0 <= metrics["eks_posterior_variance"] < 1e6 and metrics["eks_video_temporal_norm"] >= 0
        assert sorted(a.path for a in client.list_artifacts(run.info.run_id, "ensemble")) == [
            "ensemble/session0_eks.csv", "ensemble/session1_eks.csv"]


def test_each_child_run_starts_and_ends_with_its_trial(replicated_sweep):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    ray = _ray_trials(record)
    trials = [r for r in _runs(client, record) if r.data.tags["lp_sweeps.role"] == "trial"]
    assert sorted(r.data.tags["lp_sweeps.trial_id"] for r in trials) == sorted(ray)
    ends = []
    for run in trials:
        result = ray[run.data.tags["lp_sweeps.trial_id"]]
        ray_end, ray_start = result["timestamp"], result["timestamp"] - result["time_total_s"]
        start, end = run.info.start_time / 1000, run.info.end_time / 1000
        assert abs(start - ray_start) < 5, (run.info.run_name, start, ray_start)
        # whole seconds; busy machines lag
        assert ray_end - 15 < end < ray_end + 10, (run.info.run_name, run.info.status, end, ray_end)
        ends.append(end)
    parent = client.get_run(record.parent_run_id)
    assert max(ends) < parent.info.end_time / 1000  # not the sweep's end


def test_best_model_is_a_logged_model_with_alias_best_that_loads_strictly(replicated_sweep, tmp_path):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    parent = client.get_run(record.parent_run_id)
    version = client.get_model_version_by_alias("quickstart", "best")
    assert version.run_id == parent.data.tags["lp_sweeps.best_run_id"]
    [logged] = client.search_logged_models([record.experiment_id])
    assert logged.source_run_id == version.run_id and version.source == f"models:/{logged.model_id}"
    loaded = load_tracker_model("models:/quickstart@best", record.tracking_uri)
    best = client.get_run(version.run_id)
    assert type(loaded.model) is get_model_class(best.data.params["model.model_type"], semi_supervised=True)
    assert loaded.load_report.complete  # strict: no missing, unexpected or mis-shaped weight
    checkpoint = client.download_artifacts(version.run_id, "checkpoints/model.ckpt", str(tmp_path))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in loaded.model.state_dict().items())


def test_runs_hold_what_the_mlflow_ui_shows(replicated_sweep):
    record = replicated_sweep.record
    client = MlflowClient(record.tracking_uri)
    assert client.get_experiment(record.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    labels = (Path(record.project_dir) / "demo" / "demo" / "CollectedData.csv").read_bytes()
    trials = [r for r in _runs(client, record) if r.data.tags["lp_sweeps.role"] == "trial"]
    for run in trials:
        params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
        # sampled values, and fixed values that differ from Lightning Pose's defaults (only those)
        assert tags["lp_sweeps.sampled_keys"] == "model.model_type, losses.temporal.log_weight, " \
                                                 "training.optimizer_params.learning_rate"
        assert params["model.backbone"] == "resnet18" and params["training.limit_train_batches"] == "2"
        assert "training.optimizer" not in params and "model.heatmap_loss_type" not in params  # LP's defaults
        [dataset] = run.inputs.dataset_inputs
        assert dataset.dataset.digest == hashlib.sha256(labels).hexdigest()[:12]
        assert dataset.dataset.name == "demo/CollectedData.csv"
        assert tags["lp_sweeps.version.lightning_pose"].endswith("(lp-sweeps)")
        if tags["lp_sweeps.stopped_early"] == "true":  # ASHA stopped it: no evaluation (docs/results.md)
            assert not any(m in metrics for m in VIDEO_METRICS) and run.info.status == "KILLED"
            continue
        assert all(math.isfinite(metrics[m]) for m in VIDEO_METRICS) and metrics["video_stage_s"] > 0
        assert any(k.startswith("system/cpu_utilization") for k in metrics)
        listed = {a.path for a in client.list_artifacts(run.info.run_id, "predictions")}
        assert {"predictions/predictions.csv", "predictions/pixel_error_per_keypoint.csv",
                "predictions/predictions_pixel_error.csv", "predictions/video"} <= listed
    pictured = [r for r in trials if "predictions/labeled_frames.png" in
                {a.path for a in client.list_artifacts(r.info.run_id, "predictions")}]
    best_run = client.get_run(record.parent_run_id).data.tags["lp_sweeps.best_run_id"]
    assert len(pictured) == 3 and best_run in {r.info.run_id for r in pictured}
