"""Annealing and backbone-unfreezing schedules, with Lightning Pose's reference numbers."""

import lightning.pytorch as pl
import pytest

from lightning_pose.callbacks import AnnealWeight, UnfreezeBackbone, anneal_value, unfreeze_lr
from tests.models.test_trackers import build


@pytest.mark.parametrize(
    "epoch, expected",
    [(0, 0.0), (60, 0.0), (61, 0.01), (100, 0.4), (160, 1.0), (200, 1.0)],
)
def test_anneal_default_config(epoch, expected):
    # default config: init 0, +0.01 per epoch, final 1, frozen until epoch 60
    assert anneal_value(epoch, 0.0, 0.01, 1.0, 60) == pytest.approx(expected)


def test_anneal_example_config():
    values = [anneal_value(e, 0.0, 0.01, 1.0, 0) for e in (0, 1, 50, 100, 150)]
    assert values == pytest.approx([0.0, 0.01, 0.5, 1.0, 1.0])


@pytest.mark.parametrize(
    "epoch, expected",
    [(0, 0.0), (1, 0.0), (2, 1e-4), (3, 1.5e-4), (4, 2.25e-4), (7, 7.59375e-4), (8, 1e-3), (15, 1e-3)],
)
def test_unfreeze_ramp(epoch, expected):
    assert unfreeze_lr(epoch, unfreeze_at=2, base_lr=1e-4, head_lr=1e-3) == pytest.approx(expected)


def test_unfreeze_needs_exactly_one_trigger():
    with pytest.raises(ValueError, match="exactly one"):
        UnfreezeBackbone()
    with pytest.raises(ValueError, match="exactly one"):
        UnfreezeBackbone(unfreeze_epoch=1, unfreeze_step=10)


def test_anneal_callback_defaults():
    callback = AnnealWeight()
    assert (callback.attr_name, callback.init_val, callback.final_val) == ("total_unsupervised_importance", 0.0, 1.0)


def test_the_tracker_reads_the_importance_from_the_configured_attribute():
    """``callbacks.anneal_weight.attr_name`` is honoured: the tracker reads the attribute the
    callback writes, whatever it is called."""
    model = build("regression", semi=True)
    assert float(model.total_unsupervised_importance) == 1.0  # before training: full weight
    callback = AnnealWeight(attr_name="my_weight", init_val=0.0, increase_factor=0.25, final_val=1.0,
                            freeze_until_epoch=0)
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    callback.on_train_start(trainer, model)
    assert model.unsupervised_importance_attr == "my_weight" and float(model._anneal_weight()) == 0.0
    trainer.fit_loop.epoch_progress.current.completed = 3  # trainer.current_epoch
    callback.on_train_epoch_start(trainer, model)
    assert float(model.my_weight) == 0.75 and float(model._anneal_weight()) == 0.75
    trainer.fit_loop.epoch_progress.current.completed = 9
    callback.on_train_epoch_start(trainer, model)
    assert float(model._anneal_weight()) == 1.0
