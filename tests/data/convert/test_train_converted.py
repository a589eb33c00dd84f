"""A converted project trains as it is: ``litpose convert`` then ``litpose train config.yaml``,
each run as a user types it (a subprocess), with only size overrides for the test machine."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lightning_pose.utils.predictions import SET_COLUMN, read_predictions_csv
from tests.conftest import REPO_ROOT
from tests.data.convert.sources import write_dlc_project, write_sleap_package

TINY = [
    "model.backbone=resnet18",
    "model.backbone_pretrained=false",
    "model.model_name=tiny",
    "data.image_resize_dims.height=128",
    "data.image_resize_dims.width=128",
    "training.min_epochs=2",
    "training.max_epochs=2",
    "training.unfreezing_epoch=1",
    "training.train_batch_size=4",
    "training.val_batch_size=8",
    "training.test_batch_size=8",
    "training.train_prob=0.6",
    "training.val_prob=0.2",
    "training.limit_train_batches=2",
    "training.num_workers=0",
    "training.lr_scheduler_params.multisteplr.milestones=[1]",
    "eval.predict_vids_after_training=false",
]


def litpose(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "lightning_pose.cli.main", *args]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def convert_and_train(source: Path, lp_dir: Path, model_dir: Path) -> pd.DataFrame:
    litpose("convert", str(source), "--lp_dir", str(lp_dir))
    litpose("train", str(lp_dir / "config.yaml"), *TINY, "--output_dir", str(model_dir))
    assert list(model_dir.glob("tb_logs/tiny/version_0/checkpoints/*.ckpt"))
    predictions = read_predictions_csv(model_dir / "predictions.csv")
    labels = pd.read_csv(lp_dir / "CollectedData.csv", header=[0, 1, 2], index_col=0)
    assert list(predictions.index) == list(labels.index)
    assert {"train", "validation"} <= set(predictions[SET_COLUMN])
    assert predictions.drop(columns=SET_COLUMN).notna().all().all()
    return predictions


@pytest.mark.slow
def test_train_on_a_converted_deeplabcut_project(tmp_path):
    written = write_dlc_project(tmp_path / "dlc", formats=("csv", "h5"), index_styles=("levels", "path"))
    predictions = convert_and_train(written.root, tmp_path / "lp", tmp_path / "model")
    assert len(predictions) == 12


@pytest.mark.slow
def test_train_on_a_converted_sleap_package(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    written = write_sleap_package(source / "mouse.pkg.slp")
    predictions = convert_and_train(written.root, tmp_path / "lp", tmp_path / "model")
    assert len(predictions) == 10
