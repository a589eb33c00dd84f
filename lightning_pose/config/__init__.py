"""The Lightning Pose config: structured schema, loading with overrides, validation.

    from lightning_pose.config import load_config, validate_config

    cfg = load_config("config.yaml", overrides=["training.max_epochs=2"])
    validate_config(cfg)
"""

from lightning_pose.config.errors import ConfigError
from lightning_pose.config.load import (
    LP_ROOT_PATH,
    default_config,
    load_config,
    parse_override,
    register_resolvers,
)
from lightning_pose.config.schema import (
    ALLOWED_MODEL_TYPES,
    CONFIG_NAME,
    IMGAUG_PRESETS,
    LightningPoseConfig,
)
from lightning_pose.config.validate import (
    UNSUPERVISED_LOSSES,
    check_if_semi_supervised,
    is_multiview,
    validate_config,
)

__all__ = [
    "ALLOWED_MODEL_TYPES",
    "CONFIG_NAME",
    "ConfigError",
    "IMGAUG_PRESETS",
    "LP_ROOT_PATH",
    "LightningPoseConfig",
    "UNSUPERVISED_LOSSES",
    "check_if_semi_supervised",
    "default_config",
    "is_multiview",
    "load_config",
    "parse_override",
    "register_resolvers",
    "validate_config",
]
