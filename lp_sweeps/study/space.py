"""The search space of a study: parameters, their distributions and conditions, and sampling.

A :class:`Parameter` is one dotted config key with one distribution (``choice``, ``uniform``,
``loguniform``, ``int``, ``grid``), optional ``per_keypoint_groups`` (one value per keypoint group,
expanded to a per-keypoint list) and optional ``when`` conditions. No Ray, Optuna or MLflow here:
adapters sample through the :class:`Suggester` protocol (Optuna's ``trial.suggest_*`` fits it;
:class:`RandomSuggester` is the numpy one). :mod:`lp_sweeps.study.loader` reads study files.
"""

import copy
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol, Union, runtime_checkable

import numpy as np

from lightning_pose.config.introspect import IntOrWord, describe_type, unwrap_optional
from lp_sweeps.study.errors import StudyError

__all__ = [
    "CONDITION_OPERATORS", "DISTRIBUTIONS", "PARAMETER_FIELDS", "Condition", "Parameter", "RandomSuggester",
    "Suggester", "check_conditions", "check_groups", "clean_param_names", "dependency_order",
    "expand_groups", "fits_type", "parse_parameter", "render_value", "same_value", "sample_space", "sample_value",
]

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int", "grid")
CONDITION_OPERATORS = ("in", "contains")
PARAMETER_FIELDS = DISTRIBUTIONS + ("step", "per_keypoint_groups", "when")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-/ ]")

Number = Union[int, float]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fits_type(tp: Any, value: Any) -> bool:
    """Whether ``value`` (plain YAML data) fits a config field declared as ``tp`` (``Optional``,
    ``List[...]``, ``int``, ``float``, ``bool``, ``str`` or ``Any``)."""
    inner, optional = unwrap_optional(tp)
    if isinstance(inner, IntOrWord):
        return _is_int(value) or value == inner.word
    if value is None or inner is Any:
        return optional or inner is Any
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner) or (Any,)
        return isinstance(value, list) and all(fits_type(item, v) for v in value)
    if inner in (int, float):
        allowed = int if inner is int else (int, float)
        return isinstance(value, allowed) and not isinstance(value, bool)
    return inner in (bool, str) and isinstance(value, inner)


def same_value(a: Any, b: Any) -> bool:
    """Equality in which ``True`` is not ``1`` and lists compare element by element."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def render_value(value: Any) -> str:
    """A short YAML-like text of a value: ``null``, ``true``, ``[pca_singleview, temporal]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass(frozen=True)
class Condition:
    """``when: {key: value}`` (op ``eq``), ``{key: {in: [...]}}`` or ``{key: {contains: x}}``."""

    key: str
    op: str
    value: Any

    def holds(self, current: Any) -> bool:
        if self.op == "eq":
            return same_value(current, self.value)
        if self.op == "in":
            return any(same_value(current, v) for v in self.value)
        return isinstance(current, (list, tuple)) and any(same_value(v, self.value) for v in current)


@dataclass(frozen=True)
class Parameter:
    """One searched config key. ``values``: choice/grid options; ``low``/``high``/``step``: the
    range (int bounds inclusive, like Optuna); ``groups``: keypoint indices of each group."""

    key: str
    kind: str
    values: tuple = ()
    low: Optional[Number] = None
    high: Optional[Number] = None
    step: Optional[int] = None
    groups: Optional[tuple[tuple[int, ...], ...]] = None
    when: tuple[Condition, ...] = ()

    @property
    def suggestion_names(self) -> list[str]:
        """Names handed to the suggester: the key, or ``KEY[g0]``, ``KEY[g1]``, ... per group."""
        if self.groups is None:
            return [self.key]
        return [f"{self.key}[g{i}]" for i in range(len(self.groups))]

    def candidates(self) -> list:
        """The values one suggestion can take at the extremes: every option, or low and high."""
        if self.kind in ("choice", "grid"):
            return [copy.deepcopy(v) for v in self.values]
        return [self.low, self.high]


def _parse_options(where: str, kind: str, raw: Any) -> tuple:
    if not isinstance(raw, list) or not raw:
        raise StudyError(where, f"{kind} needs a non-empty list of values, got {raw!r}")
    labels = [render_value(v) for v in raw]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise StudyError(where, f"{kind} lists {repeated} more than once")
    return tuple(raw)


def _parse_range(where: str, kind: str, raw: Any) -> tuple[Number, Number]:
    if not (isinstance(raw, list) and len(raw) == 2 and all(_is_number(v) for v in raw)):
        raise StudyError(where, f"{kind} needs [low, high] (two numbers), got {raw!r}")
    low, high = raw
    if kind == "int" and not (_is_int(low) and _is_int(high)):
        raise StudyError(where, f"int needs integer bounds, got {raw!r}")
    if not low < high:
        raise StudyError(where, f"empty range: low ({low}) must be below high ({high})")
    if kind == "loguniform" and low <= 0:
        raise StudyError(where, f"loguniform needs low > 0, got {raw!r}")
    return (low, high) if kind == "int" else (float(low), float(high))


def _parse_step(where: str, step: Any, low: int, high: int) -> int:
    if not _is_int(step) or step < 1:
        raise StudyError(where, f"step must be an int >= 1, got {step!r}")
    if step > high - low:
        raise StudyError(where, f"step {step} is larger than the range [{low}, {high}]")
    if (high - low) % step:
        raise StudyError(where, f"high - low ({high - low}) must be a multiple of step ({step})")
    return step


def _parse_groups(where: str, raw: Any) -> tuple[tuple[int, ...], ...]:
    def is_group(g: Any) -> bool:
        return isinstance(g, list) and len(g) > 0 and all(_is_int(i) and i >= 0 for i in g)

    if not (isinstance(raw, list) and len(raw) > 0 and all(is_group(g) for g in raw)):
        raise StudyError(where, f"expected lists of keypoint indices (ints >= 0), got {raw!r}")
    return tuple(tuple(g) for g in raw)


def _parse_conditions(where: str, raw: Any) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping) or not raw:
        forms = "{KEY: VALUE | {in: [...]} | {contains: X}}"
        raise StudyError(where, f"expected a mapping {forms}, got {raw!r}")
    conditions = []
    for key, spec in raw.items():
        op, value = next(iter(spec.items())) if isinstance(spec, Mapping) and spec else ("eq", spec)
        if isinstance(spec, Mapping) and (len(spec) != 1 or op not in CONDITION_OPERATORS):
            raise StudyError(f"{where}.{key}", f"unknown condition {dict(spec)!r}; allowed operators: "
                             f"{list(CONDITION_OPERATORS)}, or a plain value for equality")
        if op == "in" and (not isinstance(value, list) or not value):
            raise StudyError(f"{where}.{key}", f"'in' needs a non-empty list, got {value!r}")
        conditions.append(Condition(str(key), op, value))
    return tuple(conditions)


def parse_parameter(key: str, spec: Any) -> Parameter:
    """``{uniform: [3.0, 8.0], when: {...}}`` -> :class:`Parameter` (structure and ranges only)."""
    where = f"parameters.{key}"
    if not isinstance(spec, Mapping):
        raise StudyError(where, f"expected a mapping with one of {list(DISTRIBUTIONS)}, got {spec!r} "
                         "(fixed values belong in 'overrides')")
    unknown = [str(k) for k in spec if k not in PARAMETER_FIELDS]
    if unknown:
        raise StudyError(f"{where}.{unknown[0]}", f"unknown field; allowed: {list(PARAMETER_FIELDS)}")
    kinds = [k for k in DISTRIBUTIONS if k in spec]
    if len(kinds) != 1:
        raise StudyError(where, f"give exactly one distribution of {list(DISTRIBUTIONS)}, got {kinds}")
    kind = kinds[0]
    if "step" in spec and kind != "int":
        raise StudyError(f"{where}.step", f"step is only allowed with int, not with {kind}")
    fields: dict = {"key": key, "kind": kind}
    if kind in ("choice", "grid"):
        fields["values"] = _parse_options(f"{where}.{kind}", kind, spec[kind])
    else:
        fields["low"], fields["high"] = _parse_range(f"{where}.{kind}", kind, spec[kind])
    if kind == "int":
        fields["step"] = _parse_step(f"{where}.step", spec.get("step", 1), fields["low"], fields["high"])
    if "per_keypoint_groups" in spec:
        if kind == "grid":
            raise StudyError(where, "per_keypoint_groups cannot be combined with grid")
        fields["groups"] = _parse_groups(f"{where}.per_keypoint_groups", spec["per_keypoint_groups"])
    if "when" in spec:
        fields["when"] = _parse_conditions(f"{where}.when", spec["when"])
    return Parameter(**fields)


def _check_target(condition: Condition, target: Parameter, where: str) -> None:
    """A condition on another parameter must name one of that parameter's choices."""
    if target.kind not in ("choice", "grid") or target.groups is not None:
        kind = "per keypoint" if target.groups else target.kind
        raise StudyError(where, f"a condition can name a config key or a choice or grid parameter; "
                         f"{target.key} is {kind}")
    options = render_value(target.values)
    if condition.op == "contains":
        if not any(condition.holds(v) for v in target.values):
            raise StudyError(where, f"no value of {target.key} contains "
                             f"{render_value(condition.value)}; values: {options}")
        return
    wanted = [condition.value] if condition.op == "eq" else list(condition.value)
    missing = [w for w in wanted if not any(same_value(w, v) for v in target.values)]
    if missing:
        raise StudyError(where, f"{render_value(missing)} is not a value of {target.key}; "
                         f"allowed values: {options}")


def check_conditions(parameters: Sequence[Parameter], key_type: Callable[[str, str], Any]) -> None:
    """Each ``when`` names another parameter (and one of its values) or a config key, whose
    declared type ``key_type(key, where)`` gives (it raises :class:`StudyError` for unknown keys)."""
    by_key = {p.key: p for p in parameters}
    for p in parameters:
        for condition in p.when:
            where = f"parameters.{p.key}.when.{condition.key}"
            if condition.key in by_key:
                _check_target(condition, by_key[condition.key], where)
                continue
            try:
                tp = key_type(condition.key, where)
            except StudyError as err:
                raise StudyError(where, f"{err.detail}; or name a parameter: {sorted(by_key)}") from None
            inner, name = unwrap_optional(tp)[0], describe_type(tp)
            if condition.op == "contains" and not (inner is Any or typing.get_origin(inner) is list):
                raise StudyError(where, f"'contains' needs a list-valued key, not {name}")
            wanted = [condition.value] if condition.op == "eq" else condition.value if condition.op == "in" else []
            if any(not fits_type(tp, w) for w in wanted):
                raise StudyError(where, f"{render_value(condition.value)} can never match: the key holds {name}")


def check_groups(groups: Sequence[Sequence[int]], num_keypoints: int, where: str) -> None:
    """Keypoint groups must cover ``0 .. num_keypoints - 1`` exactly once."""
    flat = [i for group in groups for i in group]
    missing = sorted(set(range(num_keypoints)) - set(flat))
    repeated = sorted({i for i in flat if flat.count(i) > 1})
    outside = sorted({i for i in flat if i >= num_keypoints})
    if missing or repeated or outside:
        raise StudyError(
            where, f"groups must cover keypoints 0..{num_keypoints - 1} exactly once (from "
            f"data.num_keypoints={num_keypoints}); missing {missing}, repeated {repeated}, "
            f"out of range {outside}",
        )


def dependency_order(parameters: Sequence[Parameter]) -> tuple[Parameter, ...]:
    """Parameters sorted so that each comes after the parameters its conditions name (file order
    otherwise); a cycle raises :class:`StudyError`."""
    keys = {p.key for p in parameters}
    pending, done = list(parameters), []
    while pending:
        placed = {p.key for p in done}
        ready = [p for p in pending if all(c.key not in keys or c.key in placed for c in p.when)]
        if not ready:
            cycle = sorted(p.key for p in pending)
            raise StudyError("parameters", f"the 'when' conditions of {cycle} form a cycle")
        done.append(ready[0])
        pending.remove(ready[0])
    return tuple(done)


@runtime_checkable
class Suggester(Protocol):
    """Proposes one value per named suggestion (Optuna's define-by-run ``trial.suggest_*``)."""

    def categorical(self, name: str, choices: Sequence[Any]) -> Any: ...
    def uniform(self, name: str, low: float, high: float) -> float: ...
    def loguniform(self, name: str, low: float, high: float) -> float: ...
    def integer(self, name: str, low: int, high: int, step: int) -> int: ...


class RandomSuggester:
    """Independent uniform draws from a seeded numpy Generator (``integer``: inclusive bounds)."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self.rng = np.random.default_rng(seed)

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return choices[int(self.rng.integers(len(choices)))]

    def uniform(self, name: str, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def loguniform(self, name: str, low: float, high: float) -> float:
        value = math.exp(self.rng.uniform(math.log(low), math.log(high)))
        return float(min(max(value, low), high))

    def integer(self, name: str, low: int, high: int, step: int) -> int:
        return int(low + step * int(self.rng.integers((high - low) // step + 1)))


def _suggest(parameter: Parameter, suggester: Suggester, name: str) -> Any:
    p = parameter
    if p.kind in ("choice", "grid"):
        # primitive options go to the suggester as they are; lists and mappings as their text
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in p.values):
            return copy.deepcopy(suggester.categorical(name, list(p.values)))
        labels = [render_value(v) for v in p.values]
        return copy.deepcopy(p.values[labels.index(suggester.categorical(name, labels))])
    if p.kind == "uniform":
        return suggester.uniform(name, float(p.low), float(p.high))
    if p.kind == "loguniform":
        return suggester.loguniform(name, float(p.low), float(p.high))
    return suggester.integer(name, int(p.low), int(p.high), int(p.step or 1))


def expand_groups(groups: Sequence[Sequence[int]], values: Sequence[Any]) -> list:
    """One value per group -> one value per keypoint (keypoint ``i`` gets its group's value)."""
    owner = {i: g for g, members in enumerate(groups) for i in members}
    return [values[owner[i]] for i in range(len(owner))]


def sample_value(parameter: Parameter, suggester: Suggester) -> Any:
    """One parameter's value: one suggestion, or one per keypoint group, expanded."""
    values = [_suggest(parameter, suggester, name) for name in parameter.suggestion_names]
    return values[0] if parameter.groups is None else expand_groups(parameter.groups, values)


def sample_space(
    parameters: Sequence[Parameter],
    suggester: Suggester,
    base_values: Mapping[str, Any],
    fixed: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """Walk ``parameters`` in dependency order, skipping those whose conditions are false.

    A condition reads the value sampled so far for its key, else ``base_values[key]`` (the base
    config with overrides). Keys in ``fixed`` (grid values chosen by the caller) are used as given.
    """
    fixed = fixed or {}
    sampled: dict[str, Any] = {}
    for p in dependency_order(parameters):
        if all(c.holds(sampled.get(c.key, base_values.get(c.key))) for c in p.when):
            given = p.key in fixed
            sampled[p.key] = copy.deepcopy(fixed[p.key]) if given else sample_value(p, suggester)
    return sampled


def clean_param_names(sampled: Mapping[str, Any]) -> dict[str, Union[str, float, int]]:
    """Sampled values as MLflow params: names keep ``[A-Za-z0-9_.-/ ]`` (others become ``_``),
    numbers stay numbers, everything else (lists, null, booleans) becomes its text."""
    return {
        _UNSAFE_NAME.sub("_", str(key)): value if _is_number(value) else render_value(value)
        for key, value in sampled.items()
    }
