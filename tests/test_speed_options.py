"""training.precision / channels_last / compile: each trains a few steps on CPU, and does what it says."""

import math
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from lightning_pose.cli.main import main as litpose
from lightning_pose.config import ConfigError, load_config, validate_config
from lightning_pose.data.demo import generate_demo_data
from lightning_pose.models.performance import is_channels_last
from lightning_pose.train import train

TINY = [
    "data.image_resize_dims.height=128", "data.image_resize_dims.width=128", "training.train_batch_size=4",
    "training.min_epochs=1", "training.max_epochs=1", "training.unfreezing_epoch=0",
    "training.lr_scheduler_params.multisteplr.milestones=[1]", "training.limit_train_batches=2",
    "training.check_val_every_n_epoch=1", "training.log_every_n_steps=1", "training.num_workers=0",
    "eval.predict_vids_after_training=false",
]


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    return generate_demo_data(tmp_path_factory.mktemp("demo"), num_frames_labeled=20, num_videos=1, frames_per_video=30)


class Probe(pl.Callback):
    """Records, during the first training step, what the model and its inputs look like."""

    def __init__(self) -> None:
        self.seen: dict = {}

    def on_train_start(self, trainer, pl_module) -> None:
        first_conv = next(m for m in pl_module.backbone.modules() if isinstance(m, torch.nn.Conv2d))
        first_conv.register_forward_pre_hook(self._conv_input)
        pl_module.head.register_forward_hook(self._head_output)
        self.seen.update(
            precision=trainer.precision,
            weights_channels_last=is_channels_last(pl_module.backbone),
            compiled=pl_module.backbone._compiled_call_impl is not None,
            parameter_names=[n for n, _ in pl_module.named_parameters()][:3],
        )

    def _conv_input(self, module, args) -> None:
        self.seen.setdefault("input_channels_last", args[0].is_contiguous(memory_format=torch.channels_last))

    def _head_output(self, module, args, output) -> None:
        self.seen.setdefault("head_dtype", output.dtype)


def _train(demo_project: Path, tmp_path: Path, *overrides: str) -> tuple[dict, dict]:
    cfg = load_config(demo_project, overrides=[*TINY, *overrides])
    probe = Probe()
    result = train(cfg, model_dir=tmp_path / "model", skip_evaluation=True, extra_callbacks=[probe])
    return probe.seen, result.metrics


CASES = {
    "default": ([], {"precision": "32-true", "head_dtype": torch.float32, "weights_channels_last": False,
                     "input_channels_last": False, "compiled": False}),
    "bf16-mixed": (["training.precision=bf16-mixed"], {"precision": "bf16-mixed", "head_dtype": torch.bfloat16}),
    "channels_last": (["training.channels_last=true"], {"weights_channels_last": True, "input_channels_last": True,
                                                        "head_dtype": torch.float32}),
    "compile": (["training.compile=true"], {"compiled": True, "precision": "32-true"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_each_speed_option_trains_on_cpu_and_takes_effect(demo_project, tmp_path, case):
    overrides, expected = CASES[case]
    seen, metrics = _train(demo_project, tmp_path, *overrides)
    assert {key: seen[key] for key in expected} == expected
    assert not any(name.startswith("backbone._orig_mod") for name in seen["parameter_names"])  # same keys as eager
    assert math.isfinite(metrics["train_supervised_loss"]) and math.isfinite(metrics["val_supervised_loss"])
    assert metrics["train_supervised_loss"] > 0
    saved = yaml.safe_load((tmp_path / "model" / "config.yaml").read_text())["training"]
    assert saved["precision"] == {"bf16-mixed": "bf16-mixed"}.get(case, "32")


def test_16_mixed_is_refused_on_cpu_before_anything_is_built(demo_project, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("the refusal is for CPU-only machines")
    cfg = load_config(demo_project, overrides=[*TINY, "training.precision=16-mixed"])
    with pytest.raises(ConfigError, match=r"training.precision: 16-mixed needs a CUDA GPU.*'bf16-mixed'"):
        train(cfg, model_dir=tmp_path / "model")
    assert not (tmp_path / "model" / "config.yaml").exists()


@pytest.mark.parametrize(("override", "key", "words"), [
    ("training.precision=fp8", "training.precision", "expected one of ['32', 'bf16-mixed', '16-mixed'], got 'fp8'"),
    ("training.train_batch_size=big", "training.train_batch_size", "expected int or 'auto', got 'big'"),  # at load
    ("training.train_batch_size=0", "training.train_batch_size", "must be >= 1, got 0"),
    ("training.memory_cap_bytes=0", "training.memory_cap_bytes", "must be >= 1, got 0"),
])
def test_bad_speed_values_are_named(demo_project, override, key, words):
    with pytest.raises(ConfigError) as info:
        validate_config(load_config(demo_project, overrides=[override]))
    assert info.value.key == key and words in str(info.value)


def test_litpose_train_names_the_file_for_a_bad_precision(demo_project, tmp_path, capsys):
    config = tmp_path / "fast.yaml"
    text = yaml.safe_load(demo_project.read_text())
    text["training"]["precision"] = "bf16"
    config.write_text(yaml.safe_dump(text))
    assert litpose(["train", str(config), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "training.precision" in err and "'bf16'" in err
    assert not (tmp_path / "out").exists()


def test_yaml_32_loads_as_the_string_lightning_takes(demo_project):
    cfg = load_config(demo_project, overrides=["training.precision=32"])
    assert cfg.training.precision == "32"
    validate_config(cfg)
