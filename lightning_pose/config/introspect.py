"""Look-ups on the schema's dataclasses by dotted key path (for error messages and checks)."""

import dataclasses
import re
import typing
from typing import Any, Optional, Union

from lightning_pose.config.schema import LightningPoseConfig

__all__ = [
    "INT_OR_WORD",
    "IntOrWord",
    "allowed_keys",
    "describe_type",
    "field_type",
    "is_group",
    "split_path",
    "unwrap_optional",
]

@dataclasses.dataclass(frozen=True)
class IntOrWord:
    """The declared type of a schema field typed ``Any`` that holds an int or one word."""

    word: str

    def __str__(self) -> str:
        return f"int or {self.word!r}"


# such fields (OmegaConf structured configs have no unions); load_config checks them
INT_OR_WORD = {"training.train_batch_size": IntOrWord("auto")}

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list:
    """``"data.cols[1]"`` -> ``["data", "cols", 1]`` (list indices become ints)."""
    parts: list = []
    for name, index in _SEGMENT.findall(path):
        parts.append(int(index) if index else name)
    return parts


def unwrap_optional(tp: Any) -> tuple:
    """``Optional[X]`` -> ``(X, True)``; any other type -> ``(type, False)``."""
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def is_group(tp: Any) -> bool:
    """True for a schema group (a dataclass, possibly wrapped in Optional)."""
    inner, _ = unwrap_optional(tp)
    return isinstance(inner, type) and dataclasses.is_dataclass(inner)


def allowed_keys(group: type) -> list[str]:
    return [f.name for f in dataclasses.fields(group)]


def _child_type(tp: Any, part: Union[str, int]) -> Optional[Any]:
    inner, _ = unwrap_optional(tp)
    if isinstance(part, int):
        args = typing.get_args(inner)
        return args[0] if typing.get_origin(inner) is list and args else None
    if is_group(inner):
        return typing.get_type_hints(inner).get(part)
    return None


def field_type(path: str, root: type = LightningPoseConfig) -> Optional[Any]:
    """Declared type of the key at ``path``; None when the path is not in the schema.

    Below an ``Any`` field nothing is declared, so the result is ``Any``.
    """
    if root is LightningPoseConfig and path in INT_OR_WORD:
        return INT_OR_WORD[path]
    tp: Any = root
    for part in split_path(path):
        if tp is Any:
            return Any
        tp = _child_type(tp, part)
        if tp is None:
            return None
    return tp


def describe_type(tp: Any) -> str:
    """A short human name: ``int``, ``int or null``, ``list of str``, ``a mapping (group)``."""
    inner, optional = unwrap_optional(tp)
    if is_group(inner):
        text = f"a mapping with keys {allowed_keys(inner)}"
    elif typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner) or (Any,)
        text = f"list of {describe_type(item)}"
    elif inner is Any:
        text = "any value"
    else:
        text = getattr(inner, "__name__", str(inner))
    return f"{text} or null" if optional else text
