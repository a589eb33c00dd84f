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
    to_plain,
)
from lightning_pose.config.schema import CONFIG_NAME, LightningPoseConfig
from lightning_pose.config.validate import (
    CONFIG_CHECKS,
    check_if_semi_supervised,
    is_multiview,
    validate_config,
)

__all__ = [
    "CONFIG_CHECKS",
    "CONFIG_NAME",
    "ConfigError",
    "LP_ROOT_PATH",
    "LightningPoseConfig",
    "check_if_semi_supervised",
    "default_config",
    "is_multiview",
    "load_config",
    "parse_override",
    "register_resolvers",
    "to_plain",
    "validate_config",
]
