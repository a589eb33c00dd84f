"""Declared options of a study section (searchers, schedulers, budget, resources, objective).

An :class:`Option` says what one key of a section accepts: a number with a lower bound, or one of
a list of names. :func:`parse_options` checks a section's mapping against its options, fills in
defaults and raises :class:`OptionError` naming the key and what is allowed; the study loader
turns that into a study error naming the file.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

__all__ = ["Option", "OptionError", "parse_options"]


class OptionError(ValueError):
    """``key`` (relative to the section) and ``detail`` say what is wrong and what is allowed."""

    def __init__(self, key: str, detail: str) -> None:
        self.key, self.detail = key, detail
        super().__init__(f"{key}: {detail}" if key else detail)


@dataclass(frozen=True)
class Option:
    """One key of a section: ``kind`` is ``int``, ``float``, ``bool``, ``str`` (one of ``choices``,
    or any non-empty text when there are none) or ``list`` (a list of strings, such as parameter keys).

    Numbers must be ``>= minimum`` (``> minimum`` when ``strict``) and ``<= maximum``; a null value
    is allowed when ``nullable`` (and is the default when ``default`` is None)."""

    kind: type
    default: Any = None
    minimum: Optional[Union[int, float]] = None
    strict: bool = False
    maximum: Optional[Union[int, float]] = None
    choices: tuple = ()
    nullable: bool = False
    help: str = ""

    def parse(self, value: Any, key: str) -> Any:
        if value is None:
            if self.nullable or self.default is None:
                return None
            raise OptionError(key, f"must not be null; {self.describe()}")
        if self.kind is str:
            if not self.choices:  # any text, e.g. a folder
                if not isinstance(value, str) or not value:
                    raise OptionError(key, f"expected a non-empty string, got {value!r}")
                return value
            if value not in self.choices:
                raise OptionError(key, f"unknown {value!r}; allowed: {list(self.choices)}")
            return value
        if self.kind in (list, bool):
            fits = isinstance(value, bool) if self.kind is bool else (
                isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value))
            if not fits:
                raise OptionError(key, f"expected {self.describe()}, got {value!r}")
            return list(value) if self.kind is list else value
        number = isinstance(value, (int, self.kind)) and not isinstance(value, bool)
        low_ok = self.minimum is None or (value > self.minimum if self.strict else value >= self.minimum)
        high_ok = self.maximum is None or value <= self.maximum
        if not (number and low_ok and high_ok):
            raise OptionError(key, f"expected {self.describe()}, got {value!r}")
        return self.kind(value)

    def describe(self) -> str:
        if self.kind is str:
            return f"one of {list(self.choices)}" if self.choices else "a string"
        null = " or null" if self.nullable or self.default is None else ""
        if self.kind in (list, bool):
            return ("a non-empty list of names" if self.kind is list else "true or false") + null
        kind = "an int" if self.kind is int else "a number"
        bound = "" if self.minimum is None else f" {'>' if self.strict else '>='} {self.minimum:g}"
        if self.maximum is not None:
            bound += f"{' and' if bound else ''} <= {self.maximum:g}"
        return f"{kind}{bound}{null}"


def parse_options(given: Any, options: Mapping[str, Option], section: str,
                  fixed: Sequence[str] = ()) -> dict[str, Any]:
    """``given`` (a section's mapping, or None) checked against ``options``; absent keys get their
    defaults. Keys listed in ``fixed`` (such as ``name``) are allowed and left out of the result."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise OptionError(section, f"expected a mapping with keys {[*fixed, *options]}, got {given!r}")
    values: dict[str, Any] = {}
    for key in given:
        if key not in options and key not in fixed:
            allowed = [*fixed, *options]
            raise OptionError(f"{section}.{key}", f"unknown key; allowed keys: {allowed}")
    for key, option in options.items():
        values[key] = option.parse(given.get(key, option.default), f"{section}.{key}")
    return values
