"""`lp-sweep` commands that need no Ray: --dry-run, status on an empty project, bad studies."""

from pathlib import Path

import yaml

from lightning_pose.data.demo import generate_demo_data
from lp_sweeps.cli import main as lp_sweep

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"


def test_dry_run_prints_trials_resources_and_two_configs(tmp_path, capsys):
    code = lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "budget.num_samples=5", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "trials: 5 (searcher optuna, scheduler asha, at most 2 at once)" in out
    assert "resources per trial: 1.0 CPU, 0.0 GPU, 1 worker(s)" in out
    assert "after training: video stage: 50 frames per video; no replicates" in out
    replicates = "replicates={top_k: 2, seeds: 3, ensemble: eks}"
    assert lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), replicates, "--dry-run"]) == 0
    assert ("after training: video stage: 50 frames per video; then the best 2 configurations again with 3 seeds "
            "each (6 more trials, fused with eks)") in capsys.readouterr().out
    assert lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), replicates,
                     "video.frames_per_video=0", "--dry-run"]) == 2
    assert "replicates.ensemble: the ensemble fuses the seeds' video predictions" in capsys.readouterr().err
    examples = out.split("--- example trial ")[1:]
    assert len(examples) == 2
    for example in examples:
        config = yaml.safe_load(example.split("\n", 1)[1])
        assert config["model"]["model_type"] in ("heatmap", "regression")
        assert config["training"]["max_epochs"] == 4 and config["model"]["backbone"] == "resnet18"
    assert not (tmp_path / "ray_results").exists() and not (tmp_path / "mlruns.db").exists()  # nothing started


def test_bad_study_is_rejected_before_anything_starts(tmp_path, capsys):
    study = yaml.safe_load(QUICKSTART.read_text())
    study["parameters"]["training.train_batch_sise"] = {"choice": [4, 8]}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(study))
    assert lp_sweep(["--project-dir", str(tmp_path / "p"), "launch", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "training.train_batch_sise" in err and "train_batch_size" in err  # names the key and the allowed ones
    assert not (tmp_path / "p" / "ray_results").exists()


def test_status_of_an_empty_project(tmp_path, capsys):
    assert lp_sweep(["--project-dir", str(tmp_path), "status"]) == 0
    assert "no sweeps in" in capsys.readouterr().out


def test_dry_run_shows_data_parallel_resources(tmp_path, capsys):
    args = ["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "resources.workers=2", "resources.cpus=0.5",
            "--dry-run"]
    assert lp_sweep(args) == 0
    assert "resources per trial: 2 DDP workers x (0.5 CPU, 0.0 GPU) + a 0.1-CPU driver" in capsys.readouterr().out
    assert not (tmp_path / "ray_results").exists()


def test_yaml_mistakes_name_the_users_file_line_and_column_without_a_traceback(tmp_path, capsys):
    text = QUICKSTART.read_text()
    duplicated = tmp_path / "dup.yaml"
    duplicated.write_text(text + "budget: {num_samples: 2}\n")
    line = len(text.splitlines()) + 1
    for args in (["launch", str(duplicated)], ["launch", str(duplicated), "--dry-run"]):
        assert lp_sweep(["--project-dir", str(tmp_path / "p"), *args]) == 2
        err = capsys.readouterr().err
        first = err.splitlines()[0]
        assert first.startswith(f"lp-sweep launch: error: {duplicated}: line {line}, column 1: key 'budget' is given twice")
        assert "budget: {num_samples: 2}" in err and "Traceback" not in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nparameters: {a: [1, 2}\n")
    assert lp_sweep(["--project-dir", str(tmp_path / "p"), "launch", str(broken), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: line 2, column 22: expected ',' or ']', but got '}}'" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()  # nothing written, not even a copy of the study


def test_command_line_overrides_are_applied_to_the_parsed_study_and_named_in_errors(tmp_path, capsys):
    assert lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "budget.num_samples=0", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"error: {QUICKSTART}: budget.num_samples: expected an int >= 1, got 0 " \
           "(set on the command line: 'budget.num_samples=0')" in err
    assert lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "budget.num_samples=3",
                     "training.train_batch_size=4", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "trials: 3 (" in out and out.count("train_batch_size: 4") == 2


def test_project_dir_is_accepted_after_the_subcommand_too(tmp_path, capsys):
    assert lp_sweep(["status", "--project-dir", str(tmp_path / "after")]) == 0
    assert f"no sweeps in {(tmp_path / 'after').resolve()}" in capsys.readouterr().out
    assert lp_sweep(["--project-dir", str(tmp_path / "before"), "status"]) == 0
    assert f"no sweeps in {(tmp_path / 'before').resolve()}" in capsys.readouterr().out


def test_warm_start_from_an_unknown_sweep_is_refused_before_anything_starts(tmp_path, capsys):
    args = ["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "--warm-start", "quickstart-19700101-000000"]
    assert lp_sweep(args) == 2
    err = capsys.readouterr().err
    assert "lp-sweep launch: error: no sweep 'quickstart-19700101-000000' in" in err
    assert not (tmp_path / "ray_results").exists() and not (tmp_path / "mlruns.db").exists()


def test_dry_run_of_a_multi_objective_study_lists_every_objective(tmp_path, capsys):
    args = ["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "scheduler={name: fifo}",
            "objective=[val_pixel_error, val_supervised_rmse]", "--dry-run"]
    assert lp_sweep(args) == 0
    assert "objective: min val_pixel_error, min val_supervised_rmse; up to 4 reports per trial" in capsys.readouterr().out


def test_a_corrupt_labeled_image_is_found_before_ray_starts(tmp_path, capsys):
    project = tmp_path / "data"
    config = generate_demo_data(project, num_frames_labeled=6, num_videos=1, frames_per_video=20)
    first = (project / "CollectedData.csv").read_text().splitlines()[3].split(",")[0]
    (project / first).write_bytes((project / first).read_bytes()[:100])  # a copy cut short
    study = yaml.safe_load(QUICKSTART.read_text())
    study["base_config"] = str(config)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    assert lp_sweep(["launch", str(path), "--project-dir", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert f"labeled frames of '{project / 'CollectedData.csv'}' cannot be used: line 4 ('{first}'):" in err
    assert "not a decodable image" in err
    assert not (tmp_path / "p" / "ray_results").exists() and not (tmp_path / "p" / "mlruns.db").exists()


def test_train_frames_beyond_the_training_split_are_refused_before_ray_starts(tmp_path, capsys):
    code = lp_sweep(["launch", str(QUICKSTART), "training.train_frames=500", "--project-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{QUICKSTART}: training.train_frames: 500 frames asked for, but the training split of the 60 labeled " \
           "frames has" in err
    assert not (tmp_path / "p" / "ray_results").exists()
