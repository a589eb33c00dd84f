"""End to end: every tracker class trains for 2 epochs from `litpose train` on the real
mirror-mouse example (semi-supervised ones on its real video), then `litpose predict` runs."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from lightning_pose.cli.main import main as litpose
from lightning_pose.config import ConfigError, load_config
from lightning_pose.data.demo import generate_demo_data
from lightning_pose.train import train
from lightning_pose.utils.predictions import SET_COLUMN, read_predictions_csv
from tests.data.multiview_fixture import mirror_mouse_split, write_clip  # noqa: F401  (fixture)

TINY_TRAINING = {
    "imgaug": "dlc",
    "train_batch_size": 4,
    "val_batch_size": 8,
    "test_batch_size": 8,
    "train_prob": 0.8,
    "val_prob": 0.1,
    "min_epochs": 2,
    "max_epochs": 2,
    "unfreezing_epoch": 1,
    "limit_train_batches": 2,
    "num_workers": 0,
    "log_every_n_steps": 1,
    "lr_scheduler_params": {"multisteplr": {"milestones": [1], "gamma": 0.5}},
}
TINY_DALI = {
    "base": {"train": {"sequence_length": 6}, "predict": {"sequence_length": 16}},
    "context": {"train": {"batch_size": 8}, "predict": {"sequence_length": 16}},
}
SINGLE_VIEW_CASES = [
    ("regression", []),
    ("heatmap", []),
    ("heatmap_mhcrnn", []),
    ("regression", ["temporal"]),
    ("heatmap", ["pca_singleview", "temporal"]),
    ("heatmap_mhcrnn", ["temporal"]),
]


@pytest.fixture(scope="module")
def short_clip(mirror_mouse_dir, tmp_path_factory) -> Path:
    """The first 40 frames of the real example video (prediction on all 994 takes too long here)."""
    return write_clip(mirror_mouse_dir / "videos" / "test_vid.mp4", tmp_path_factory.mktemp("clip") / "clip.mp4", 40)


def write_config(path: Path, data: dict, model: dict) -> Path:
    config = {
        "data": {"image_resize_dims": {"height": 128, "width": 128}, **data},
        "training": TINY_TRAINING,
        "model": {"backbone": "resnet18", "backbone_pretrained": False, "model_name": "tiny", **model},
        "dali": TINY_DALI,
        "eval": {"predict_vids_after_training": False},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def train_multiview(split, tmp_path: Path, model: dict) -> Path:
    """``litpose train`` on the two-view mirror-mouse split (7 keypoints a view); checks that each
    view's labeled-frame predictions cover the 90 frames. Returns the model folder."""
    data = {
        "data_dir": str(split.root),
        "video_dir": "videos",
        "csv_file": split.csv_paths,
        "view_names": split.view_names,
        "num_keypoints": 7,
    }
    config = write_config(tmp_path / "config.yaml", data, model)
    model_dir = tmp_path / "model"
    assert litpose(["train", str(config), "--output_dir", str(model_dir)]) == 0
    for view in split.view_names:
        preds = check_model_dir(model_dir, f"predictions_{view}.csv")
        assert len(preds) == 90 and preds.shape[1] == 7 * 3 + 1
    return model_dir


def check_model_dir(model_dir: Path, predictions: str = "predictions.csv") -> pd.DataFrame:
    assert (model_dir / "config.yaml").is_file()
    assert list(model_dir.glob("tb_logs/tiny/version_0/checkpoints/*-best.ckpt"))
    metrics = pd.read_csv(model_dir / "tb_logs" / "tiny" / "version_0" / "metrics.csv")
    assert metrics["val_pixel_error"].dropna().size == 2  # logged every validation epoch
    preds = read_predictions_csv(model_dir / predictions)
    assert set(preds[SET_COLUMN]) == {"train", "validation", "test"}
    error_file = model_dir / predictions.replace(".csv", "_pixel_error.csv")
    errors = pd.read_csv(error_file, index_col=0)
    assert errors.drop(columns="set").stack().dropna().ge(0).all()
    return preds


@pytest.mark.slow
@pytest.mark.parametrize("model_type, losses", SINGLE_VIEW_CASES, ids=[f"{m}-{'+'.join(l) or 'sup'}" for m, l in SINGLE_VIEW_CASES])
def test_train_then_predict_single_view(mirror_mouse_dir, short_clip, tmp_path, model_type, losses):
    data = {
        "data_dir": str(mirror_mouse_dir),
        "video_dir": "videos",
        "csv_file": "CollectedData.csv",
        "num_keypoints": 17,
        "columns_for_singleview_pca": [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14],
    }
    config = write_config(tmp_path / "config.yaml", data, {"model_type": model_type, "losses_to_use": losses})
    model_dir = tmp_path / "model"
    assert litpose(["train", str(config), "--output_dir", str(model_dir)]) == 0
    preds = check_model_dir(model_dir)
    assert len(preds) == 90 and preds.shape[1] == 17 * 3 + 1
    assert litpose(["predict", str(model_dir), str(short_clip)]) == 0
    video_preds = read_predictions_csv(model_dir / "video_preds" / "clip.csv")
    assert len(video_preds) == 40 and not video_preds.isna().any().any()
    assert (model_dir / "video_preds" / "clip_temporal_norm.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("losses", [[], ["temporal"]], ids=["sup", "temporal"])
def test_train_multiview_transformer(mirror_mouse_split, tmp_path, losses):  # noqa: F811
    split = mirror_mouse_split
    model = {"model_type": "heatmap_multiview_transformer", "backbone": "vits_dino", "losses_to_use": losses}
    model_dir = train_multiview(split, tmp_path, model)
    assert litpose(["predict", str(model_dir), str(split.root / "videos")]) == 0
    for view in split.view_names:
        video_preds = read_predictions_csv(model_dir / "video_preds" / f"example_top_{view}.csv")
        assert len(video_preds) == 60


@pytest.mark.slow
@pytest.mark.parametrize("model_type", ["heatmap", "heatmap_mhcrnn"])
def test_heatmap_trackers_train_on_every_view_of_multiview_data(mirror_mouse_split, tmp_path, model_type):  # noqa: F811
    """LP's single-network heatmap trackers take a multiview project: the views of a frame go
    through the backbone as one batch and each view's keypoints get their own predictions file."""
    train_multiview(mirror_mouse_split, tmp_path, {"model_type": model_type, "losses_to_use": ["temporal"]})


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    return generate_demo_data(tmp_path_factory.mktemp("demo"), num_frames_labeled=20, num_videos=1, frames_per_video=30)


def test_train_frames_larger_than_split_fails_before_training(demo_project, tmp_path):
    cfg = load_config(demo_project, overrides=["training.train_frames=500"])
    with pytest.raises(ConfigError, match=r"training.train_frames: asks for 500 frames but the training split has 18"):
        train(cfg, model_dir=tmp_path / "model")
    assert not (tmp_path / "model" / "tb_logs").exists()  # nothing was trained


def test_unreadable_video_fails_before_training(demo_project, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "broken.mp4").write_text("not a video")
    cfg = load_config(demo_project, overrides=[f"data.video_dir={videos}", "model.losses_to_use=[temporal]"])
    with pytest.raises(ValueError, match="broken.mp4"):
        train(cfg, model_dir=tmp_path / "model")
    assert not (tmp_path / "model" / "tb_logs").exists()


def test_litpose_reports_bad_config_key(demo_project, tmp_path, capsys):
    assert litpose(["train", str(demo_project), "training.max_epoch=3", "--output_dir", str(tmp_path)]) == 2
    assert "training.max_epoch" in capsys.readouterr().err


def test_litpose_train_names_the_users_file_for_an_out_of_range_value(demo_project, tmp_path, capsys):
    config = tmp_path / "my_config.yaml"
    text = yaml.safe_load(demo_project.read_text())
    text["losses"]["temporal"]["epsilon"] = -3.0
    config.write_text(yaml.safe_dump(text))
    assert litpose(["train", str(config), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"litpose train: error: {config}: losses.temporal.epsilon: must be >= 0, got -3.0" in err
    assert litpose(["train", str(demo_project), "training.optimizer_params.learning_rate=0",
                    "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert (f"{demo_project} with overrides ['training.optimizer_params.learning_rate=0']: "
            "training.optimizer_params.learning_rate: must be > 0, got 0") in err
    assert not (tmp_path / "out").exists()  # nothing written
