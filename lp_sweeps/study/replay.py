"""Replaying a finished trial through a study's search space (warm starts).

A searcher records a trial as its *suggestions*: one value per suggestion name (a parameter's key,
or ``KEY[g0]``, ``KEY[g1]``... per keypoint group; list choices by their text). To hand an earlier
sweep's trial to a new study's searcher, the new space is walked with a :class:`ReplaySuggester`
that answers each suggestion with the recorded value. A value outside the new space, a parameter
the new space does not have, or one it needs and the trial lacks is a :class:`StudyError` naming the
parameter and the value, before any trial starts.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lp_sweeps.study.errors import StudyError
from lp_sweeps.study.sections import Study
from lp_sweeps.study.space import render_value, same_value
from lp_sweeps.study.trials import sample_parameters

__all__ = ["ReplaySuggester", "Suggestion", "replay_trial"]


@dataclass(frozen=True)
class Suggestion:
    """How a suggestion was asked: ``kind`` categorical | uniform | loguniform | integer, with its
    ``choices`` or ``low``/``high``/``step``."""

    kind: str
    choices: tuple = ()
    low: int | float = 0.0
    high: int | float = 0.0
    step: int = 1


class ReplaySuggester:
    """:class:`lp_sweeps.study.space.Suggester` that answers with recorded ``values`` and checks
    each against what the space asks; ``asked`` records every suggestion (name -> :class:`Suggestion`)."""

    def __init__(self, values: Mapping[str, Any], source: str) -> None:
        self.values, self.source = dict(values), source
        self.asked: dict[str, Suggestion] = {}

    def _recorded(self, name: str) -> Any:
        if name not in self.values:
            raise StudyError(f"parameters.{name}", f"{self.source} has no value for it (it searched "
                             f"{sorted(self.values)}); warm starts need the same parameters")
        return self.values[name]

    def _outside(self, name: str, value: Any, allowed: str) -> StudyError:
        return StudyError(f"parameters.{name}", f"{self.source} has {name}={render_value(value)}, outside this "
                          f"study's space ({allowed})")

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self._recorded(name)
        if not any(same_value(value, c) for c in choices):
            raise self._outside(name, value, f"choices {render_value(list(choices))}")
        self.asked[name] = Suggestion("categorical", tuple(choices))
        return next(c for c in choices if same_value(value, c))

    def _number(self, name: str, kind: str, low: int | float, high: int | float, step: int = 1) -> Any:
        value = self._recorded(name)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        on_step = kind != "integer" or (numeric and float(value).is_integer() and (int(value) - low) % step == 0)
        if not (numeric and low <= value <= high and on_step):
            where = f"[{low}, {high}]" + (f" in steps of {step}" if kind == "integer" and step > 1 else "")
            raise self._outside(name, value, f"{kind} {where}")
        self.asked[name] = Suggestion(kind, (), low, high, step)
        return int(value) if kind == "integer" else float(value)

    def uniform(self, name: str, low: float, high: float) -> float:
        return self._number(name, "uniform", low, high)

    def loguniform(self, name: str, low: float, high: float) -> float:
        return self._number(name, "loguniform", low, high)

    def integer(self, name: str, low: int, high: int, step: int) -> int:
        return self._number(name, "integer", low, high, step)


def replay_trial(study: Study, values: Mapping[str, Any], fixed: Mapping[str, Any],
                 source: str) -> tuple[dict[str, Any], dict[str, Suggestion]]:
    """(the trial's config values in ``study``, the suggestions its searcher would have made) for a
    trial recorded as suggestion ``values`` in the grid combination ``fixed``. Raises
    :class:`StudyError` naming ``source`` when the trial does not fit the study's space."""
    replay = ReplaySuggester(values, source)
    try:
        sampled = sample_parameters(study, replay, dict(fixed))
    except StudyError as err:
        raise StudyError(err.key, err.detail, err.source or study.path) from None
    unused = sorted(set(values) - set(replay.asked))
    if unused:
        raise StudyError(f"parameters.{unused[0]}", f"{source} searched {unused[0]}={render_value(values[unused[0]])}, "
                         "which this study does not search (or not under the same conditions)", study.path)
    return sampled, replay.asked
