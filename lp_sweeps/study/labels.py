"""Short, readable names for a sweep's runs: ``t03 heatmap ds2 temporal lw4.1``.

A trial's name is its number in the sweep (1-based, from Ray's trial id ``<experiment>_00002``)
followed by its sampled values, each as short as it can be while still saying what it is:
text values as they are, numbers behind an abbreviation of their key, loss settings behind the
loss's name. Replicates add the seed: ``t03.s2 heatmap ds2 temporal lw4.1``.
"""

import re
from collections.abc import Mapping
from typing import Any, Optional

__all__ = [
    "MAX_LABEL_LENGTH", "describe_values", "ensemble_name", "replicate_name", "trial_group", "trial_name", "trial_number",
]

MAX_LABEL_LENGTH = 80
# the last part of a config key -> its abbreviation (others: the initials of its words)
_ABBREVIATIONS = {
    "downsample_factor": "ds",
    "log_weight": "lw",
    "learning_rate": "lr",
    "epsilon": "eps",
    "train_batch_size": "bs",
    "train_frames": "frames",
    "max_epochs": "ep",
    "prob_threshold": "pthr",
    "components_to_keep": "pcs",
    "heatmap_loss_type": "hmloss",
    "num_gpus": "gpus",
}
_TRIAL_INDEX = re.compile(r"_(\d+)$")


def trial_number(trial_id: str) -> Optional[int]:
    """1-based number of a Ray trial id (``abc12_00002`` -> 3); None for other ids."""
    match = _TRIAL_INDEX.search(trial_id)
    return None if match is None else int(match.group(1)) + 1


def _abbreviation(key: str) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if leaf in _ABBREVIATIONS:
        return _ABBREVIATIONS[leaf]
    return "".join(word[0] for word in leaf.split("_") if word)


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if abs(value) >= 1e-2 or value == 0 else f"{value:.1e}".replace("e-0", "e-")


def _describe(key: str, value: Any) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(value, bool):
        return leaf if value else f"no-{leaf}"
    if isinstance(value, str):
        return value
    if value is None:
        return f"{_abbreviation(key)}-none"
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return "+".join(value) if value else "none"
        numbers = [_number(v) for v in sorted({v for v in value if isinstance(v, (int, float))})]
        return f"{_abbreviation(key)}[{','.join(numbers[:3])}{',..' if len(numbers) > 3 else ''}]"
    return f"{_abbreviation(key)}{_number(value)}"


def describe_values(sampled: Mapping[str, Any]) -> str:
    """The sampled values, short: ``heatmap ds2 temporal lw4.1 lr1.2e-3``."""
    parts, loss = [], None
    for key, value in sampled.items():
        part = _describe(key, value)
        segments = key.split(".")
        if segments[0] == "losses" and len(segments) > 2:  # losses.<name>.<setting>
            part = part if segments[1] == loss else f"{segments[1]} {part}"
            loss = segments[1]
        parts.append(part)
    text = " ".join(parts)
    return text if len(text) <= MAX_LABEL_LENGTH else text[: MAX_LABEL_LENGTH - 3] + "..."


def trial_group(trial_id: str, number: Optional[int] = None) -> str:
    """The short name of a search trial and of its configuration: ``t03`` for the third trial
    (``number``, else the number in a Ray trial id ``<experiment>_00002``), else the id itself."""
    number = number if number is not None else trial_number(trial_id)
    return trial_id if number is None else f"t{number:02d}"


def trial_name(trial_id: str, sampled: Mapping[str, Any], number: Optional[int] = None) -> str:
    """``t03 heatmap ds2 temporal lw4.1`` (the id itself when it has no trial number)."""
    prefix = trial_group(trial_id, number)
    values = describe_values(sampled)
    return f"{prefix} {values}" if values else prefix


def replicate_name(group: str, seed: int, sampled: Mapping[str, Any]) -> str:
    """``t03.s2 heatmap ds2 temporal lw4.1``: seed ``seed`` of the configuration of trial ``group``."""
    values = describe_values(sampled)
    return f"{group}.s{seed} {values}".rstrip()


def ensemble_name(group: str, method: str, seeds: int) -> str:
    """``t03 eks ensemble (3 seeds)``."""
    return f"{group} {method} ensemble ({seeds} seeds)"
