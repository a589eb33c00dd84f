"""Structured schema of the ``training`` group of a Lightning Pose config.

Defaults are the values Lightning Pose ends up using: the ``config_default.yaml`` value for keys
the LP code requires, and the code's own fallback for keys LP reads with ``cfg.get(key, default)``
(see ``docs/config.md``). Fields that can hold more than one kind of value (``imgaug``,
``train_frames``, ...) are typed ``Any`` because OmegaConf structured configs have no unions;
:func:`lightning_pose.config.validate_config` checks them.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional

__all__ = [
    "AUTO_BATCH_FALLBACK",
    "PRECISIONS",
    "LrSchedulerParams",
    "MultiStepLRParams",
    "OptimizerParams",
    "PatchMaskConfig",
    "TrainingConfig",
]


@dataclass
class OptimizerParams:
    learning_rate: float = 1e-3


@dataclass
class MultiStepLRParams:
    # epoch mode: epochs at which the learning rate is multiplied by ``gamma``
    milestones: Optional[List[int]] = field(default_factory=lambda: [150, 200, 250])
    # step mode: the same in optimizer steps (converted to epochs by the training pipeline)
    milestone_steps: Optional[List[int]] = None
    gamma: float = 0.5


@dataclass
class LrSchedulerParams:
    multisteplr: MultiStepLRParams = field(default_factory=MultiStepLRParams)


@dataclass
class PatchMaskConfig:
    """Patch masking of the multiview transformer (defaults are LP's PatchMasker defaults)."""

    # epoch-based schedule; when set, the training pipeline converts it into init/final_step
    init_epoch: Optional[float] = None
    final_epoch: Optional[float] = None
    init_step: int = 700
    final_step: int = 5000
    init_ratio: float = 0.1
    final_ratio: float = 0.5


@dataclass
class TrainingConfig:
    # preset name (default | none | dlc | dlc-lr | dlc-top-down | dlc-mv) or a mapping
    imgaug: Any = "dlc"
    imgaug_hflip: bool = False
    # None behaves like True (3-D augmentation when camera parameters are given)
    imgaug_3d: Optional[bool] = None
    # int >= 1, or "auto": the largest batch whose training step fits the device memory (a short
    # probe; see lightning_pose/batch_size.py); on CPU without memory_cap_bytes: AUTO_BATCH_FALLBACK
    train_batch_size: Any = 16
    val_batch_size: int = 32
    test_batch_size: int = 32
    train_prob: float = 0.95
    val_prob: Optional[float] = 0.05
    # int or float: ==1 or a fraction in (0, 1) of the train split; any other int > 1 is a count
    train_frames: Any = 1
    num_gpus: int = 1
    # None: $SLURM_CPUS_PER_TASK or the number of CPUs
    num_workers: Optional[int] = None
    # epoch mode
    unfreezing_epoch: Optional[int] = 20
    min_epochs: Optional[int] = 300
    max_epochs: Optional[int] = 300
    # step mode (mutually exclusive with the epoch fields)
    unfreezing_step: Optional[int] = None
    min_steps: Optional[int] = None
    max_steps: Optional[int] = None
    log_every_n_steps: int = 10
    # LP falls back to 1 when the key is absent (config_default.yaml writes 5)
    check_val_every_n_epoch: Optional[int] = 1
    # int (steps) or float (fraction of an epoch); Lightning's Trainer argument
    val_check_interval: Any = None
    ckpt_every_n_epochs: Optional[int] = None
    early_stopping: bool = False
    early_stop_patience: int = 3
    rng_seed_data_pt: int = 0
    rng_seed_model_pt: int = 0
    optimizer: str = "Adam"
    optimizer_params: OptimizerParams = field(default_factory=OptimizerParams)
    lr_scheduler: str = "multisteplr"
    lr_scheduler_params: LrSchedulerParams = field(default_factory=LrSchedulerParams)
    # LP falls back to False when the key is absent (config_default.yaml writes true)
    uniform_heatmaps_for_nan_keypoints: bool = False
    patch_mask: PatchMaskConfig = field(default_factory=PatchMaskConfig)
    # int (batches) or float (fraction); None: steps per epoch computed by the pipeline
    limit_train_batches: Any = None
    accumulate_grad_batches: int = 1
    # Lightning profiler name ("simple", "advanced", ...) or None
    profiler: Optional[str] = None
    # not LP keys (speed options; the defaults keep LP's numerics):
    # Lightning Trainer precision: "32" | "bf16-mixed" | "16-mixed" (16-mixed needs a CUDA GPU)
    precision: str = "32"
    # channels_last memory format for the model's weights and the backbone's input images
    channels_last: bool = False
    # torch.compile the backbone (in place: checkpoints keep their keys)
    compile: bool = False
    # memory budget of one training step on a device, in bytes (None: the device's own memory);
    # a fixed train_batch_size whose measured step exceeds it raises torch.OutOfMemoryError before
    # training, and train_batch_size "auto" stays within it (also on CPU)
    memory_cap_bytes: Optional[int] = None


# train_batch_size "auto" on CPU (no device memory to probe) without memory_cap_bytes
AUTO_BATCH_FALLBACK = 16
PRECISIONS = ("32", "bf16-mixed", "16-mixed")
