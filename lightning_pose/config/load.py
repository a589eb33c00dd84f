"""Loading a Lightning Pose config: YAML file + ``key=value`` overrides -> checked DictConfig.

The user's file is merged onto the structured schema (:class:`LightningPoseConfig`), so an
unknown key or a value of the wrong type fails here, at load time, with a :class:`ConfigError`
naming the file and the full dotted key. The returned config is in struct mode: reading or
writing a key the schema does not have raises.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

import lightning_pose
from lightning_pose.config.errors import ConfigError
from lightning_pose.config.introspect import (
    INT_OR_WORD,
    allowed_keys,
    describe_type,
    field_type,
    is_group,
    split_path,
    unwrap_optional,
)
from lightning_pose.config.schema import LightningPoseConfig
from lightning_pose.config.yaml_file import YamlFileError, read_yaml

__all__ = [
    "LP_ROOT_PATH",
    "default_config",
    "load_config",
    "parse_override",
    "register_resolvers",
    "to_plain",
]

# the repository root (parent of the package directory), as LP's ``${LP_ROOT_PATH:}`` gives it
LP_ROOT_PATH = str(Path(lightning_pose.__file__).resolve().parent.parent)

# keys dropped from a user's file: Hydra's own settings
_IGNORED_TOP_LEVEL = ("hydra",)

_EPOCH_MODE_KEYS = (
    "training.min_epochs",
    "training.max_epochs",
    "training.unfreezing_epoch",
    "training.lr_scheduler_params.multisteplr.milestones",
)


def _lp_root_path(*_args: Any) -> str:
    return LP_ROOT_PATH


def register_resolvers() -> None:
    """Register the ``LP_ROOT_PATH`` resolver (idempotent; done when this module is imported)."""
    if not OmegaConf.has_resolver("LP_ROOT_PATH"):
        OmegaConf.register_new_resolver("LP_ROOT_PATH", _lp_root_path)


register_resolvers()


def to_plain(value: Any) -> Any:
    """OmegaConf containers -> plain Python dicts and lists (interpolations resolved); anything
    else is returned unchanged."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def default_config() -> DictConfig:
    """The schema's defaults as a struct-mode DictConfig."""
    cfg = OmegaConf.structured(LightningPoseConfig)
    OmegaConf.set_struct(cfg, True)
    return cfg


def _read_source(
    source: Union[str, os.PathLike, DictConfig, Mapping], name: Optional[str] = None
) -> tuple[str, dict]:
    """-> (label used in error messages, the user's config as a plain dict)."""
    if isinstance(source, DictConfig):
        return name or "<DictConfig>", OmegaConf.to_container(source, resolve=False)
    if isinstance(source, Mapping):
        return name or "<dict>", OmegaConf.to_container(OmegaConf.create(dict(source)), resolve=False)
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        raw = read_yaml(path)
    except YamlFileError as err:
        raise ConfigError("", err.detail, str(path)) from None
    if not isinstance(raw, Mapping):
        raise ConfigError("", f"the top level of a config must be a mapping, got {raw!r}", str(path))
    return str(path), OmegaConf.to_container(OmegaConf.create(raw), resolve=False)


def _prepare(user: dict) -> dict:
    """Drop Hydra's ``hydra`` group and rename the legacy ``data.keypoints``."""
    user = {k: v for k, v in user.items() if k not in _IGNORED_TOP_LEVEL}
    data = user.get("data")
    if isinstance(data, dict) and "keypoints" in data:
        data = dict(data)
        legacy = data.pop("keypoints")
        if data.get("keypoint_names") is None:
            data["keypoint_names"] = legacy
        user["data"] = data
    return user


def _check_keys(
    user: Mapping, source: str, group: type = LightningPoseConfig, prefix: str = ""
) -> None:
    """Reject keys the schema does not have, and scalars where a group is expected."""
    for key, value in user.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        tp = field_type(str(key), root=group)
        if tp is None:
            where = f"'{prefix}'" if prefix else "the top level"
            raise ConfigError(
                path, f"unknown key {key!r}; allowed keys at {where}: {allowed_keys(group)}", source
            )
        if not is_group(tp):
            continue
        inner, optional = unwrap_optional(tp)
        if value is None and optional:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"expected {describe_type(tp)}, got {value!r}", source)
        _check_keys(value, source, inner, path)


def _lookup(user: Any, path: str) -> Any:
    for part in split_path(path):
        try:
            user = user[part]
        except (KeyError, IndexError, TypeError):
            return "<not given>"
    return user


def _first_line(err: OmegaConfBaseException) -> str:
    return str(err.msg or err).splitlines()[0]


def _convert(err: OmegaConfBaseException, source: str, user: Any) -> ConfigError:
    """Re-phrase an OmegaConf error with the dotted key, the expected type and the given value."""
    key = err.full_key or ""
    if isinstance(err, ConfigKeyError):
        parent = key.rsplit(".", 1)[0] if "." in key else ""
        group = field_type(parent) if parent else LightningPoseConfig
        allowed = allowed_keys(unwrap_optional(group)[0]) if is_group(group) else "?"
        return ConfigError(key, f"unknown key; allowed keys here: {allowed}", source)
    expected = field_type(key) if key else None
    if expected is None or expected is Any:
        return ConfigError(key, f"cannot set this key: {_first_line(err)}", source)
    given = _lookup(user, key)
    return ConfigError(key, f"expected {describe_type(expected)}, got {given!r}", source)


def _merge(base: DictConfig, user: Mapping, source: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, OmegaConf.create(dict(user)))
    except OmegaConfBaseException as err:
        raise _convert(err, source, user) from None


def _explicit_keys(user: Mapping, group: type = LightningPoseConfig, prefix: str = "") -> set[str]:
    """Dotted paths of the leaf values the user wrote."""
    keys: set[str] = set()
    for key, value in user.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        tp = field_type(str(key), root=group)
        if is_group(tp) and isinstance(value, Mapping):
            keys |= _explicit_keys(value, unwrap_optional(tp)[0], path)
        else:
            keys.add(path)
    return keys


def parse_override(item: str) -> tuple[str, Any]:
    """``"training.max_epochs=2"`` -> ``("training.max_epochs", 2)``; values are YAML.

    A Hydra-style leading ``+`` or ``++`` is accepted and stripped (the key must still exist in
    the schema). Deleting keys (``~key``) is not supported.
    """
    text = item.strip()
    if text.startswith("~"):
        raise ConfigError(
            text[1:], "deleting keys is not supported; set the key to null", "overrides"
        )
    key, sep, value = text.partition("=")
    key = key.strip().lstrip("+")
    if not sep or not key or "[" in key:
        raise ConfigError(
            key, f"an override must look like dotted.key=value, got {item!r}", "overrides"
        )
    try:
        parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"{key}={value}"]), resolve=False)
    except Exception as err:
        detail = f"cannot parse the value of override {item!r}: {err}"
        raise ConfigError(key, detail, "overrides") from None
    return key, _lookup(parsed, key)


def _nest(key: str, value: Any) -> dict:
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def _apply_override(cfg: DictConfig, item: str) -> tuple[DictConfig, set[str]]:
    """Apply one override; returns the new config and the dotted keys it wrote."""
    key, value = parse_override(item)
    source = f"override {item!r}"
    nested = _nest(key, value)
    _check_keys(nested, source)
    if is_group(field_type(key)):
        return _merge(cfg, nested, source), _explicit_keys(nested)
    try:
        OmegaConf.update(cfg, key, value, merge=False)
    except OmegaConfBaseException as err:
        raise _convert(err, source, nested) from None
    return cfg, {key}


def _drop_epoch_defaults(cfg: DictConfig, explicit: set[str]) -> None:
    """Step mode (min/max_steps set): epoch fields the user did not write fall back to None."""
    if cfg.training.min_steps is None and cfg.training.max_steps is None:
        return
    for key in _EPOCH_MODE_KEYS:
        if key not in explicit:
            OmegaConf.update(cfg, key, None, merge=False)


def _check_resolvable(cfg: DictConfig, source: str) -> None:
    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        detail = f"cannot resolve: {_first_line(err)}"
        raise ConfigError(err.full_key or "", detail, source) from None


def _check_int_or_word(cfg: DictConfig, source: str) -> None:
    """Keys typed ``Any`` that hold an int or one word (``INT_OR_WORD``); a digit string becomes
    its int, as OmegaConf does for an int field."""
    for key, tp in INT_OR_WORD.items():
        value = OmegaConf.select(cfg, key)
        if isinstance(value, str) and value.strip().isdigit():
            OmegaConf.update(cfg, key, int(value))
        elif not ((isinstance(value, int) and not isinstance(value, bool)) or value == tp.word):
            raise ConfigError(key, f"expected {tp}, got {value!r}", source)


def load_config(
    path_or_dictconfig: Union[str, os.PathLike, DictConfig, Mapping],
    overrides: Sequence[str] = (),
    source_name: Optional[str] = None,
) -> DictConfig:
    """Load a Lightning Pose config onto the schema, apply overrides, return a struct DictConfig.

    Args:
        path_or_dictconfig: a YAML file (an LP ``config.yaml`` loads as it is; its ``hydra``
            group is ignored), or a DictConfig / mapping with the same layout.
        overrides: ``dotted.key=value`` strings applied in order after the file; values are
            parsed as YAML (``model.losses_to_use=[temporal]``, ``training.max_epochs=2``).
        source_name: the name error messages give a DictConfig / mapping (e.g. the file it was
            read from); a file is named by its path.

    Raises:
        ConfigError: unknown key, wrong type, bad override or unresolvable interpolation; the
            message names the file (or override) and the full dotted key.
        FileNotFoundError: the file does not exist.
    """
    source, user = _read_source(path_or_dictconfig, source_name)
    user = _prepare(user)
    _check_keys(user, source)
    cfg = _merge(default_config(), user, source)
    _check_int_or_word(cfg, source)
    explicit = _explicit_keys(user)
    for item in overrides:
        cfg, written = _apply_override(cfg, item)
        explicit |= written
    _check_int_or_word(cfg, "overrides")
    _drop_epoch_defaults(cfg, explicit)
    _check_resolvable(cfg, source)
    OmegaConf.set_struct(cfg, True)
    return cfg
