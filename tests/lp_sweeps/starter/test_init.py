"""``lp-sweep init`` on copies of the real mirror-mouse data: the config and study it writes, the
dry run it prints, and what it refuses. Sizing for a GPU machine uses a described machine (the
study is a pure function of the project, the machine and the config)."""

import hashlib
from pathlib import Path

import pytest
import yaml

from lightning_pose.config import load_config
from lp_sweeps.cli import main
from lp_sweeps.starter import GpuInfo, MachineInfo, init_project, inspect_project
from lp_sweeps.starter.config_file import project_config
from lp_sweeps.starter.study import budget_for, keypoint_groups
from lp_sweeps.study import load_study, num_trials
from tests.lp_sweeps.starter.conftest import copy_project
from tests.lp_sweeps.starter.test_project import MIRROR_MOUSE_KEYPOINTS

LAPTOP = MachineInfo(cpus=2, gpus=())
GPU_BOX = MachineInfo(cpus=16, gpus=(GpuInfo("NVIDIA H100", 79.6), GpuInfo("NVIDIA H100", 79.6)))


def test_init_writes_config_and_study_dry_runs_and_prints_the_command(mirror_mouse_copy, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.setenv("LP_OFFLINE", "1")
    assert main(["init", str(mirror_mouse_copy), "--project-dir", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    study_path = mirror_mouse_copy / "starter_study.yaml"
    command = f"lp-sweep launch --project-dir {tmp_path / 'runs'} {study_path}"
    assert out.rstrip().endswith(command)
    assert "--- example trial 2:" in out and "trials: " in out  # the dry run

    cfg = load_config(mirror_mouse_copy / "config.yaml")
    assert list(cfg.data.keypoint_names) == MIRROR_MOUSE_KEYPOINTS and cfg.data.num_keypoints == 17
    assert (cfg.data.image_resize_dims.height, cfg.data.image_resize_dims.width) == (384, 384)
    assert (cfg.data.image_orig_dims.height, cfg.data.image_orig_dims.width) == (406, 396)
    assert cfg.data.data_dir == str(mirror_mouse_copy) and cfg.data.csv_file == "CollectedData.csv"

    study = load_study(study_path)
    assert num_trials(study) == 8 and study.budget.max_concurrent_trials == 2
    assert study.budget.max_epochs == 25  # 85 training frames, 6 batches of 16: 150 steps on a CPU
    assert (study.resources.cpus, study.resources.gpus) == (1, 0)
    raw = yaml.safe_load(study_path.read_text())
    assert raw["base_config"] == "config.yaml"
    assert raw["overrides"]["data.image_resize_dims"] == {"height": 128, "width": 128}
    assert raw["overrides"]["model.backbone"] == "resnet18" and raw["overrides"]["model.backbone_pretrained"] is False
    params = raw["parameters"]
    assert params["model.model_type"] == {"choice": ["heatmap", "heatmap_mhcrnn"]}
    assert params["data.downsample_factor"] == {"choice": [2, 3], "when": {"model.model_type": "heatmap"}}
    assert params["losses.temporal.epsilon"]["uniform"] == [4.0, 41.0]  # 1% to 10% of 406 pixels
    assert params["losses.temporal.epsilon"]["per_keypoint_groups"] == keypoint_groups(MIRROR_MOUSE_KEYPOINTS)
    assert params["losses.temporal.log_weight"] == {"uniform": [2.0, 8.0]}


def test_keypoint_groups_of_mirror_mouse():
    # paws, tail, nose, obstacles; each seen from the side (_top) and in the mirror (_bot)
    assert keypoint_groups(MIRROR_MOUSE_KEYPOINTS) == [[0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 12, 13], [6, 14],
                                                       [7, 15, 16]]


def test_budget_follows_the_machine(mirror_mouse_dir):
    project = inspect_project(mirror_mouse_dir)
    base = load_config(project_config(project))
    assert budget_for(project, LAPTOP, base) == (
        {"num_samples": 8, "max_concurrent_trials": 2, "max_epochs": 25}, {"cpus": 1, "gpus": 0, "workers": 1})
    # two 80 GiB GPUs: two trials share each; 2000 steps of 6 batches, capped at 300 epochs
    assert budget_for(project, GPU_BOX, base) == (
        {"num_samples": 32, "max_concurrent_trials": 4, "max_epochs": 300}, {"cpus": 4, "gpus": 0.5, "workers": 1})
    many_cpus = MachineInfo(cpus=32, gpus=())
    assert budget_for(project, many_cpus, base)[1] == {"cpus": 4, "gpus": 0, "workers": 1}


def test_a_users_config_is_left_byte_identical(mirror_mouse_copy, tmp_path):
    config = project_config(inspect_project(mirror_mouse_copy))
    config["training"]["train_batch_size"] = 8
    text = "# my own config\n" + yaml.safe_dump(config, sort_keys=False)
    (mirror_mouse_copy / "config.yaml").write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    output = tmp_path / "studies" / "mine.yaml"
    output.parent.mkdir()
    lines: list[str] = []
    result = init_project(mirror_mouse_copy, output, machine=GPU_BOX, printer=lines.append)
    assert hashlib.sha256((mirror_mouse_copy / "config.yaml").read_bytes()).hexdigest() == digest
    assert not result.config_written and any("not changed" in line for line in lines)
    study = load_study(output)  # base_config relative to the study's folder
    assert yaml.safe_load(output.read_text())["base_config"] == "../mirror-mouse-example/config.yaml"
    assert study.budget.max_epochs == 182 and study.resources.gpus == 0.5  # batch 8: 11 batches an epoch
    assert "data.image_resize_dims" not in study.data["overrides"]  # a GPU trains at the config's size


def test_two_view_project_gets_a_study_over_every_view(mirror_mouse_split, tmp_path):
    project_dir = copy_project(mirror_mouse_split.root, tmp_path / "two_views")
    result = init_project(project_dir, machine=LAPTOP, printer=lambda _: None)
    study = load_study(result.study_path)
    cfg = load_config(project_dir / "config.yaml")
    assert list(cfg.data.view_names) == ["bot", "top"] and cfg.data.num_keypoints == 7
    raw = yaml.safe_load(result.study_path.read_text())
    assert raw["parameters"]["model.model_type"] == {"choice": ["heatmap", "heatmap_mhcrnn"]}
    assert raw["overrides"]["data.image_resize_dims"] == {"height": 128, "width": 128}  # config: 128x384
    assert raw["parameters"]["data.downsample_factor"] == {"choice": [2, 3], "when": {"model.model_type": "heatmap"}}
    assert raw["parameters"]["losses.temporal.epsilon"]["per_keypoint_groups"] == [[0, 1, 2, 3], [4, 5], [6]]
    assert num_trials(study) == 8


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "absent", "no such folder"),
    (lambda root: (root / "file.txt").write_text("x") and root / "file.txt", "not a folder"),
    (lambda root: root, "no label file"),
])
def test_bad_data_dir_is_named_and_exits_2(tmp_path, capsys, make, message):
    data_dir = make(tmp_path)
    assert main(["init", str(data_dir)]) == 2
    err = capsys.readouterr().err
    assert f"lp-sweep init: error: DATA_DIR '{data_dir}': {message}" in err
    assert not (tmp_path / "config.yaml").exists()


def test_an_existing_study_is_kept_without_force(mirror_mouse_copy, capsys):
    study = mirror_mouse_copy / "starter_study.yaml"
    study.write_text("name: mine\n")
    assert main(["init", str(mirror_mouse_copy)]) == 2
    assert f"study file '{study}' exists; pass --force" in capsys.readouterr().err
    assert study.read_text() == "name: mine\n" and not (mirror_mouse_copy / "config.yaml").exists()
