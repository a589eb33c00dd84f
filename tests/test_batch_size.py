"""training.train_batch_size: auto and training.memory_cap_bytes: the search, the measurement, the
CPU fallback and the cap (real models on the demo project; memory measured, not assumed)."""

import logging
from pathlib import Path

import pytest
import torch
import yaml

from lightning_pose.batch_size import largest_fitting_batch, probe_batch, step_memory_bytes
from lightning_pose.config import load_config
from lightning_pose.data.demo import generate_demo_data
from lightning_pose.data.factory import get_data_module, get_dataset, get_imgaug_transform
from lightning_pose.losses.factory import get_loss_factories
from lightning_pose.models.factory import get_model
from lightning_pose.train import train
from tests.test_speed_options import TINY


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    return generate_demo_data(tmp_path_factory.mktemp("demo"), num_frames_labeled=20, num_videos=1, frames_per_video=30)


def build(demo_project: Path, *overrides: str):
    """Model and data module exactly as ``train`` builds them."""
    cfg = load_config(demo_project, overrides=[*TINY, *overrides])
    data_dir = str(demo_project.parent)
    data_module = get_data_module(cfg, get_dataset(cfg, data_dir, get_imgaug_transform(cfg)))
    model = get_model(cfg, data_module, get_loss_factories(cfg, data_module))
    return model.train(), data_module


@pytest.fixture(scope="module")
def step_bytes(demo_project) -> dict[int, int]:
    """Measured memory of one step of the tiny heatmap model at batch 1, 2, 4, 8, 16."""
    model, data_module = build(demo_project)
    return {b: step_memory_bytes(model, probe_batch(data_module, b)) for b in (1, 2, 4, 8, 16)}


def test_search_doubles_and_stops_at_the_first_batch_that_does_not_fit():
    tried = []

    def fits(batch: int) -> bool:
        tried.append(batch)
        return batch * 300 <= 4000  # 13 would fit; the doubling search does not look between powers

    assert largest_fitting_batch(fits, limit=100) == 8 and tried == [1, 2, 4, 8, 16]
    tried.clear()
    assert largest_fitting_batch(fits, limit=6) == 6 and tried == [1, 2, 4, 6]  # the limit itself is tried
    assert largest_fitting_batch(lambda b: False, limit=64) == 0
    assert largest_fitting_batch(lambda b: True, limit=18, start=4) == 18
    with pytest.raises(ValueError, match="limit and start must be >= 1"):
        largest_fitting_batch(fits, limit=0)


def test_step_memory_grows_with_the_activations_and_leaves_no_gradients(demo_project, step_bytes):
    model, _ = build(demo_project)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    activations = {b: step_bytes[b] - 2 * weights for b in step_bytes}
    per_sample = (activations[16] - activations[8]) / 8
    assert per_sample > 1e6, activations  # ~MBs of activations per 128x128 image for resnet18 + heatmap head
    for batch, value in activations.items():  # linear in the batch, with (almost) nothing left at batch 0
        assert abs(value - batch * per_sample) < 0.05 * batch * per_sample, activations
    _ = step_memory_bytes(model, probe_batch(build(demo_project)[1], 2))
    assert all(p.grad is None for p in model.parameters())


def test_auto_on_cpu_without_a_cap_falls_back_to_the_default_and_trains(demo_project, tmp_path, caplog):
    cfg = load_config(demo_project, overrides=[*TINY, "training.train_batch_size=auto"])
    with caplog.at_level(logging.INFO, logger="lightning_pose.batch_size"):
        result = train(cfg, model_dir=tmp_path / "model", skip_evaluation=True)
    assert "train_batch_size: auto on cpu (no device memory to probe, no training.memory_cap_bytes): " \
           "using the default 16" in caplog.text
    assert result.data_module.train_batch_size == 16
    assert yaml.safe_load((tmp_path / "model" / "config.yaml").read_text())["training"]["train_batch_size"] == 16
    assert cfg.training.train_batch_size == "auto"  # the caller's config is left as it was
    assert result.metrics["train_supervised_loss"] > 0


@pytest.mark.slow
def test_auto_with_a_memory_cap_picks_the_largest_batch_that_fits(demo_project, step_bytes, tmp_path, caplog):
    cap = (step_bytes[4] + step_bytes[8]) // 2  # 4 fits, 8 does not
    cfg = load_config(demo_project, overrides=[*TINY, "training.train_batch_size=auto",
                                               f"training.memory_cap_bytes={cap}"])
    with caplog.at_level(logging.INFO, logger="lightning_pose.batch_size"):
        result = train(cfg, model_dir=tmp_path / "model", skip_evaluation=True)
    assert f"batch-size probe: batch 8 needs {step_bytes[8] / 2**20:.1f} MiB" in caplog.text
    assert "train_batch_size: auto chose 4 (4 per device" in caplog.text
    assert result.data_module.train_batch_size == 4
    assert result.metrics["train_supervised_loss"] > 0


def test_a_fixed_batch_above_the_memory_cap_raises_out_of_memory_before_training(demo_project, step_bytes, tmp_path):
    cap = step_bytes[4] - 1
    cfg = load_config(demo_project, overrides=[*TINY, f"training.memory_cap_bytes={cap}"])
    with pytest.raises(torch.OutOfMemoryError, match=rf"training.memory_cap_bytes={cap}: a training step at "
                                                     rf"batch 4 per device needs {step_bytes[4]} bytes of cpu memory"):
        train(cfg, model_dir=tmp_path / "model")
    assert not (tmp_path / "model" / "tb_logs").exists()


def test_the_probe_leaves_the_model_as_it_was(demo_project, step_bytes):
    from lightning_pose.batch_size import probe_batch_size

    model, data_module = build(demo_project)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    assert probe_batch_size(model, data_module, step_bytes[2], max_batch=16) == 2
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BatchNorm stats included
    assert torch.equal(rng, torch.get_rng_state())
