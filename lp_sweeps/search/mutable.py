"""Which config values may change while a trial trains: the one declared list.

Population-based training (:mod:`lp_sweeps.search.pbt`) restarts a weak trial from a strong
trial's checkpoint with some values changed. Only values that leave the checkpoint valid and that
the restarted trial really applies may change:

- the loss log-weights and epsilons are non-persistent buffers of the loss modules, rebuilt from
  the config when the trial restarts (the checkpoint does not carry them);
- the learning rate is set again on the restored optimizer and learning-rate schedule
  (:class:`lp_sweeps.trial.lineage.ConfiguredLearningRate`).

Everything else is refused with the reason: the network and the data pipeline are built once from
the config, and the donor's weights only fit the donor's network.
"""

import fnmatch

__all__ = ["MUTABLE_KEYS", "mutability"]

# pattern -> how a new value takes effect when the trial continues from a checkpoint
MUTABLE_KEYS: dict[str, str] = {
    "training.optimizer_params.learning_rate": "the restored optimizer and LR schedule are rescaled to it",
    "losses.*.log_weight": "loss weights are rebuilt from the config (not stored in checkpoints)",
    "losses.*.epsilon": "loss epsilons are rebuilt from the config (not stored in checkpoints)",
}

# key prefix -> why values under it cannot change mid-training (first match wins)
_IMMUTABLE_REASONS: tuple[tuple[str, str], ...] = (
    ("model.", "it defines the network (model type, backbone, heads): the donor's checkpoint weights only "
               "fit the donor's network"),
    ("data.", "it changes the data pipeline (image size, downsample factor, keypoints), which the network "
              "and its heatmaps were built for"),
    ("dali.", "it changes the data pipeline"),
    ("training.", "the training loop, data loaders and optimizer are set up from it once, when the trial starts"),
    ("losses.", "only loss log-weights and epsilons can change mid-training"),
    ("", "it is not one of the values that can change mid-training"),
)


def mutability(key: str) -> tuple[bool, str]:
    """(whether ``key`` may change mid-training, how it takes effect or why it cannot)."""
    for pattern, how in MUTABLE_KEYS.items():
        if fnmatch.fnmatchcase(key, pattern):
            return True, how
    reason = next(why for prefix, why in _IMMUTABLE_REASONS if key.startswith(prefix))
    return False, f"{reason}; values that can change mid-training: {list(MUTABLE_KEYS)}"
