"""Training callbacks: loss-weight annealing and gradual backbone unfreezing."""

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint

__all__ = ["AnnealWeight", "UnfreezeBackbone", "anneal_value", "get_callbacks", "unfreeze_lr"]


def anneal_value(epoch: int, init_val: float, increase_factor: float, final_val: float, freeze_until_epoch: int) -> float:
    """Weight at the start of ``epoch``: ``init_val`` until ``freeze_until_epoch``, then a linear ramp."""
    if epoch <= freeze_until_epoch:
        return init_val
    return min(init_val + (epoch - freeze_until_epoch) * increase_factor, final_val)


class AnnealWeight(pl.Callback):
    """Sets ``module.<attr_name>`` (the unsupervised-loss importance) at every training epoch start.

    A tracker reads its importance from the attribute named by its ``unsupervised_importance_attr``;
    the callback points that at ``attr_name`` when training starts, so the configured name
    (``callbacks.anneal_weight.attr_name``) is the one both sides use."""

    def __init__(
        self,
        attr_name: str = "total_unsupervised_importance",
        init_val: float = 0.0,
        increase_factor: float = 0.01,
        final_val: float = 1.0,
        freeze_until_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.attr_name = attr_name
        self.init_val = init_val
        self.increase_factor = increase_factor
        self.final_val = final_val
        self.freeze_until_epoch = freeze_until_epoch

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if hasattr(pl_module, "unsupervised_importance_attr"):
            pl_module.unsupervised_importance_attr = self.attr_name
        setattr(pl_module, self.attr_name, torch.tensor(self.init_val, device=pl_module.device))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = anneal_value(
            trainer.current_epoch, self.init_val, self.increase_factor, self.final_val, self.freeze_until_epoch
        )
        setattr(pl_module, self.attr_name, torch.tensor(value, device=pl_module.device))


def unfreeze_lr(t: int, unfreeze_at: int, base_lr: float, head_lr: float, warm_up_ratio: float = 1.5) -> float:
    """Backbone learning rate at epoch (or step) ``t``: 0 before ``unfreeze_at``, then ``base_lr``
    growing by ``warm_up_ratio`` per epoch (step), capped at the head's current rate."""
    if t < unfreeze_at:
        return 0.0
    return min(base_lr * warm_up_ratio ** (t - unfreeze_at), head_lr)


class UnfreezeBackbone(pl.Callback):
    """Gradually raises the learning rate of parameter group 0 (named ``backbone``).

    Exactly one of ``unfreeze_epoch`` / ``unfreeze_step`` is set. Once the backbone rate reaches
    the head rate the callback stops touching it (only the scheduler changes it afterwards). The
    ramp is a function of the epoch, so resuming from a later epoch continues it correctly.
    """

    def __init__(
        self,
        unfreeze_epoch: int | None = None,
        unfreeze_step: int | None = None,
        initial_ratio: float = 0.1,
        warm_up_ratio: float = 1.5,
    ) -> None:
        super().__init__()
        if (unfreeze_epoch is None) == (unfreeze_step is None):
            raise ValueError("UnfreezeBackbone needs exactly one of unfreeze_epoch and unfreeze_step")
        self.unfreeze_epoch = unfreeze_epoch
        self.unfreeze_step = unfreeze_step
        self.initial_ratio = initial_ratio
        self.warm_up_ratio = warm_up_ratio
        self._warmed_up = False
        self._base_lr: float | None = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if self._warmed_up:
            return
        optimizer = trainer.optimizers[0]
        groups = optimizer.param_groups
        if groups[0].get("name") != "backbone":
            raise ValueError(f"parameter group 0 must be named 'backbone', got {groups[0].get('name')!r}")
        head_lr = groups[1]["lr"]
        if self.unfreeze_epoch is not None:
            t, unfreeze_at = trainer.current_epoch, self.unfreeze_epoch
        else:
            t, unfreeze_at = trainer.global_step, self.unfreeze_step
        if t >= unfreeze_at and self._base_lr is None:
            # the ramp starts from the head rate at the unfreeze point (or at resume time, when a
            # run resumes after it: Lightning Pose has no base then and fails)
            self._base_lr = self.initial_ratio * head_lr
        groups[0]["lr"] = unfreeze_lr(t, unfreeze_at, self._base_lr or 0.0, head_lr, self.warm_up_ratio)
        if t >= unfreeze_at and groups[0]["lr"] >= head_lr:
            self._warmed_up = True


def get_callbacks(
    training_cfg,
    callbacks_cfg,
    semi_supervised: bool,
    checkpointing: bool = True,
    lr_monitor: bool = True,
) -> list[pl.Callback]:
    """Lightning Pose's callback set: early stopping (optional), backbone unfreezing, learning-rate
    monitor, best-validation-loss checkpoint, periodic checkpoints, loss annealing."""
    callbacks: list[pl.Callback] = []
    if training_cfg.early_stopping:
        callbacks.append(
            EarlyStopping(monitor="val_supervised_loss", patience=int(training_cfg.early_stop_patience), mode="min")
        )
    callbacks.append(
        UnfreezeBackbone(unfreeze_epoch=training_cfg.unfreezing_epoch, unfreeze_step=training_cfg.unfreezing_step)
    )
    if lr_monitor:
        callbacks.append(LearningRateMonitor(logging_interval="epoch"))
    if checkpointing:
        callbacks.append(
            ModelCheckpoint(monitor="val_supervised_loss", mode="min", filename="{epoch}-{step}-best", save_top_k=1)
        )
        if training_cfg.ckpt_every_n_epochs:
            callbacks.append(ModelCheckpoint(every_n_epochs=int(training_cfg.ckpt_every_n_epochs), save_top_k=-1))
    if semi_supervised:
        callbacks.append(AnnealWeight(**callbacks_cfg.anneal_weight))
    return callbacks
