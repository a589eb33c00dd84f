"""Reading YAML files that people write: configs and study files.

:func:`read_yaml` is PyYAML's safe loader with three changes:

- a key given twice in one mapping is an error (PyYAML keeps the last one silently);
- ``1e-4`` and ``5.0e-3`` are floats, as in YAML 1.2 and OmegaConf (PyYAML's YAML 1.1 rules read
  ``1e-4`` as a string);
- dates stay strings (``2024-01-31`` is not turned into a ``datetime.date``).

Every failure is a :class:`YamlFileError` whose message names the file, the line and the column,
and quotes the offending line with a caret under the column, so a user never sees a traceback.
"""

import os
import re
from pathlib import Path
from typing import Any, Optional, Union

import yaml

__all__ = ["YamlFileError", "parse_yaml", "read_yaml"]

_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.2 core-schema floats (with PyYAML's "_" digit separators): 1.5, 1., .5, 1e-4, 1.5E+3, .inf, .nan
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+
        |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class YamlFileError(ValueError):
    """A YAML file that cannot be read: ``source``, ``line`` and ``column`` (1-based, None when
    unknown) and ``problem`` all appear in the message, followed by the offending line."""

    def __init__(self, source: str, problem: str, line: Optional[int] = None, column: Optional[int] = None,
                 excerpt: str = "") -> None:
        self.source, self.problem, self.line, self.column, self.excerpt = source, problem, line, column, excerpt
        super().__init__(f"{source}: {self.detail}" if line is not None else f"{source}: {problem}")

    @property
    def detail(self) -> str:
        """The message without the file name: ``line 3, column 1: ...`` and the offending line."""
        where = "" if self.line is None else f"line {self.line}, column {self.column}: "
        return f"{where}{self.problem}" + (f"\n{self.excerpt}" if self.excerpt else "")


class _Loader(yaml.SafeLoader):
    """Safe loader with YAML 1.2 floats, string dates and duplicate keys refused."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # keys merged in with "<<" may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: PyYAML's own error says so below
                continue
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"key {key!r} is given twice (first on line {first.start_mark.line + 1})", key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_FLOAT_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


def _excerpt(text: str, line: int, column: int) -> str:
    """The line (0-based index) of ``text`` and a caret under ``column`` (0-based)."""
    lines = text.splitlines()
    if not 0 <= line < len(lines):
        return ""
    return f"    {lines[line]}\n    {' ' * column}^"


def parse_yaml(text: str, source: str) -> Any:
    """The data in ``text`` (plain dicts, lists and scalars); errors name ``source``."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if err.context and err.problem and not problem.startswith("key "):
            problem = f"{problem} ({err.context})"
        if mark is None:
            raise YamlFileError(source, problem) from None
        raise YamlFileError(source, problem, mark.line + 1, mark.column + 1,
                            _excerpt(text, mark.line, mark.column)) from None
    except yaml.YAMLError as err:
        raise YamlFileError(source, str(err)) from None


def read_yaml(path: Union[str, os.PathLike]) -> Any:
    """The data in the YAML file ``path``; :class:`FileNotFoundError` if it does not exist,
    :class:`YamlFileError` (file, line, column, the offending line) if it is not valid YAML."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlFileError(str(path), f"not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    return parse_yaml(text, str(path))
