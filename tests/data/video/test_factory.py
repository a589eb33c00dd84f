"""Config readers for the unlabeled dataset and the prediction loader (on demo data)."""

import pytest
import torch

from lightning_pose.config import default_config, load_config
from lightning_pose.data.demo import generate_demo_data
from lightning_pose.data.video import (
    build_prediction_loader,
    build_unlabeled_dataset,
    train_sequence_length,
)


def test_train_sequence_length_per_device():
    cfg = default_config()
    cfg.dali.base.train.sequence_length = 32
    cfg.dali.context.train.batch_size = 16
    cfg.training.num_gpus = 2
    assert train_sequence_length(cfg, context=False) == 16  # ceil(32 / 2)
    assert train_sequence_length(cfg, context=True) == 10  # ceil(12 / 2 + 4)
    cfg.training.num_gpus = 0  # treated as one device
    assert train_sequence_length(cfg, context=False) == 32
    cfg.dali.context.train.batch_size = 4
    with pytest.raises(ValueError, match="dali.context.train.batch_size"):
        train_sequence_length(cfg, context=True)


@pytest.fixture(scope="module")
def demo_projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    kwargs = dict(num_frames_labeled=8, num_videos=2, frames_per_video=30, image_size=(64, 80))
    single = generate_demo_data(root / "single", **kwargs)
    multi = generate_demo_data(root / "multi", two_views=True, **kwargs)
    return single, multi


def test_build_unlabeled_dataset_from_demo_config(demo_projects):
    cfg = load_config(demo_projects[0])
    ds = build_unlabeled_dataset(cfg, cfg.data.video_dir, context=False)
    assert ds.sequence_length == 8 and len(ds) == 8  # ceil(60 / 8)
    item = ds[0]
    assert item["frames"].shape == (8, 3, 128, 128)
    assert item["transforms"].shape == (2, 3)  # demo config uses imgaug "dlc"
    assert torch.equal(item["bbox"][0], torch.tensor([0.0, 0.0, 64.0, 80.0]))
    ctx = build_unlabeled_dataset(cfg, cfg.data.video_dir, context=True)
    assert ctx.sequence_length == 8 and len(ctx) == 7  # floor(60 / 8)


def test_build_multiview_dataset_and_prediction_loader(demo_projects):
    cfg = load_config(demo_projects[1])
    ds = build_unlabeled_dataset(cfg, cfg.data.video_dir, context=False)
    assert list(ds.views) == ["top", "bottom"] and ds.total_frames == 60
    item = ds[(1, 5)]
    assert item["frames"].shape == (8, 2, 3, 128, 128) and item["transforms"].shape == (2, 2, 3)
    videos = [ds.views["top"][0], ds.views["bottom"][0]]
    loader = build_prediction_loader(cfg, videos, context=True)
    assert loader.sequence_length == 32 and len(loader) == 1  # ceil((30 - 32) / 28) + 1
    batch = next(iter(loader))
    assert batch["frames"].shape == (32, 2, 3, 128, 128)
