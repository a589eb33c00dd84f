"""lp_sweeps.trial.inputs: non-default params, the labeled data as a dataset, replicate seeds."""

import hashlib
import json
from pathlib import Path

from lightning_pose.config import default_config, load_config
from lightning_pose.data.demo import demo_config, generate_demo_data
from lp_sweeps.trial import Replicate
from lp_sweeps.trial.inputs import apply_loader_workers, apply_seed, labeled_dataset, non_default_values


def test_only_values_that_differ_from_the_schema_defaults(tmp_path: Path):
    defaults = default_config()
    assert defaults.model.backbone != "resnet18" and defaults.training.optimizer == "Adam"
    cfg = load_config(demo_config(tmp_path, tmp_path / "videos", (64, 64)))
    values = non_default_values(cfg)
    assert values["model.backbone"] == "resnet18" and values["data.num_keypoints"] == 8
    assert defaults.data.downsample_factor == 2 and "data.downsample_factor" not in values  # the demo keeps 2
    assert values["data.image_orig_dims.height"] == 64 and values["model.backbone_pretrained"] == "false"
    assert "training.optimizer" not in values and "model.heatmap_loss_type" not in values
    assert values["data.data_dir"] == str(tmp_path)


def test_replicate_seeds_add_to_the_base_seeds(tmp_path: Path):
    cfg = load_config(demo_config(tmp_path, tmp_path / "videos", (64, 64)))
    cfg.training.rng_seed_data_pt = 10
    apply_seed(cfg, None)
    assert (cfg.training.rng_seed_model_pt, cfg.training.rng_seed_data_pt) == (0, 10)
    apply_seed(cfg, Replicate("t03", 2, "abc"))
    assert (cfg.training.rng_seed_model_pt, cfg.training.rng_seed_data_pt) == (2, 12)


def test_loader_workers_follow_the_trial_cpus_unless_the_config_sets_them(tmp_path: Path):
    cfg = load_config(demo_config(tmp_path, tmp_path / "videos", (64, 64)))
    assert cfg.training.num_workers is None  # Lightning Pose's default: the machine's CPUs less one
    for cpus, workers in ((1.0, 0), (0.5, 0), (4.0, 3), (2.5, 1)):
        cfg.training.num_workers = None
        apply_loader_workers(cfg, cpus)
        assert cfg.training.num_workers == workers
    cfg.training.num_workers = 6
    apply_loader_workers(cfg, 1.0)
    assert cfg.training.num_workers == 6


def test_labeled_dataset_digest_follows_the_labels(tmp_path: Path):
    config = generate_demo_data(tmp_path / "demo", num_frames_labeled=10, frames_per_video=20, image_size=(64, 64))
    cfg = load_config(config)
    labels = tmp_path / "demo" / "CollectedData.csv"
    dataset = labeled_dataset(cfg)
    assert dataset.digest == hashlib.sha256(labels.read_bytes()).hexdigest()[:12]
    assert dataset.name == "demo/CollectedData.csv" and dataset.source == str(tmp_path / "demo")
    assert json.loads(dataset.profile) == {"frames": 10, "keypoints": 8, "label_files": ["CollectedData.csv"]}
    labels.write_text(labels.read_text().replace("demo", "demo ", 1))
    assert labeled_dataset(cfg).digest != dataset.digest
