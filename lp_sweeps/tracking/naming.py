"""How lp-sweeps names and shapes what it records in MLflow (no mlflow import here).

Keys and values MLflow accepts (:func:`sanitize_key`, :func:`param_value`, :func:`finite_metrics`),
the tags that tie runs together (``TAG_*``), where a project's tracking store lives
(:func:`default_tracking_uri`), and what produced a run (:func:`provenance_tags`).
"""

import functools
import importlib.metadata
import logging
import math
import os
import re
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, SupportsFloat


__all__ = [
    "CHECKPOINT_DIR", "MAX_KEY_LENGTH", "Seconds", "MAX_PARAM_VALUE_LENGTH", "MAX_TAG_VALUE_LENGTH", "TAG_BEST_RUN_ID",
    "TAG_BEST_TRIAL_ID", "TAG_CHECKPOINT_DELETED", "TAG_GROUP", "TAG_PARENT_RUN_ID", "TAG_PARETO_FRONT", "TAG_ROLE",
    "TAG_SAMPLED_KEYS", "TAG_SEED", "TAG_SWEEP_NAME", "TAG_TRIAL_ID", "TAG_TRIAL_NAME", "default_artifact_location",
    "default_tracking_uri", "finite_metrics", "flatten_params", "module_version", "param_value", "params_to_log",
    "provenance_tags", "quoted", "sanitize_key", "sqlite_path",
    "string_params", "string_tags",
]

logger = logging.getLogger(__name__)

Seconds = float | int  # durations: plain ints are welcome too (runtime type checks are strict)

TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_SWEEP_NAME = "lp_sweeps.sweep_name"
TAG_ROLE = "lp_sweeps.role"  # parent | trial
TAG_TRIAL_ID = "lp_sweeps.trial_id"
TAG_TRIAL_NAME = "lp_sweeps.trial_name"
TAG_CHECKPOINT_DELETED = "lp_sweeps.checkpoint_deleted"
TAG_BEST_TRIAL_ID = "lp_sweeps.best_trial_id"
TAG_BEST_RUN_ID = "lp_sweeps.best_run_id"
TAG_PARETO_FRONT = "lp_sweeps.pareto_front"  # parent: the front's trial ids; child: "true" on the front
TAG_GROUP = "lp_sweeps.group"  # the configuration a run trains (replicates share their search trial's)
TAG_SEED = "lp_sweeps.seed"  # the replicate's seed (the search trials train with the base config's)
TAG_SAMPLED_KEYS = "lp_sweeps.sampled_keys"  # which of the run's params the searcher chose
CHECKPOINT_DIR = "checkpoints"  # a trial run's artifact folder for its checkpoint

_VERSIONED_MODULES = ("lightning_pose", "lp_sweeps", "torch", "ray", "mlflow", "optuna")
MAX_KEY_LENGTH = 250  # MLflow's limit for metric, param and tag keys
MAX_PARAM_VALUE_LENGTH = 6000  # MLflow's limit for a param value
MAX_TAG_VALUE_LENGTH = 8000  # MLflow's limit for a tag value
_TRUNCATION_MARK = "...[truncated]"
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-./ ]")


def quoted(value: str, what: str) -> str:
    """``value`` in single quotes for an MLflow search filter; quotes and backslashes are refused."""
    if "'" in value or "\\" in value:
        raise ValueError(f"{what} {value!r} must not contain quotes or backslashes (it is used in MLflow searches)")
    return f"'{value}'"


def sanitize_key(name: str) -> str:
    """A metric/param/tag key that MLflow accepts on every platform.

    Characters outside ``[A-Za-z0-9_\\-./ ]`` become ``_``; empty, ``.`` and ``..`` path segments
    (which MLflow rejects as non-normalised paths) are dropped or replaced; the result is cut to
    MLflow's 250-character limit. ``"lr-Adam/head"`` is returned unchanged.
    """
    cleaned = _BAD_KEY_CHARS.sub("_", str(name))[:MAX_KEY_LENGTH]
    segments = ["_" * len(seg) if seg in (".", "..") else seg for seg in cleaned.split("/") if seg]
    return "/".join(segments) or "_"


def param_value(value: Any, limit: int = MAX_PARAM_VALUE_LENGTH) -> str:
    """``str(value)``, cut to ``limit`` (MLflow's 6000-character param limit) with a visible marker."""
    text = str(value)
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK


def string_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags with sanitised keys and string values within MLflow's 8000-character limit."""
    return {sanitize_key(key): param_value(value, MAX_TAG_VALUE_LENGTH) for key, value in tags.items()}


def flatten_params(params: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """Nested mappings flattened to ``{"a.b.c": value}``; a flat mapping comes back unchanged."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            for sub_key, sub_value in flatten_params(value, sep).items():
                flat[f"{key}{sep}{sub_key}"] = sub_value
        else:
            flat[str(key)] = value
    return flat


def string_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Flattened params with sanitised keys and string values within MLflow's limits."""
    return {sanitize_key(key): param_value(value) for key, value in flatten_params(params).items()}


def finite_metrics(metrics: Mapping[str, SupportsFloat]) -> dict[str, float]:
    """Sanitised names -> float values; NaN and infinite values are dropped (debug log)."""
    out: dict[str, float] = {}
    for name, raw in metrics.items():
        try:
            value = float(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metric {name!r} has value {raw!r}, which is not a single number") from exc
        if not math.isfinite(value):
            logger.debug("dropping metric %r: value %r is not finite", name, value)
            continue
        out[sanitize_key(name)] = value
    return out


def params_to_log(existing: Mapping[str, str], params: Mapping[str, str], where: str) -> dict[str, str]:
    """The params not yet present in ``existing``.

    A param already present with the same value is skipped silently (resume); one present with a
    different value is skipped with a warning, because MLflow refuses to change a logged param.
    """
    new: dict[str, str] = {}
    for key, value in params.items():
        if key not in existing:
            new[key] = value
        elif existing[key] != value:
            logger.warning(
                "%s: param %r is already logged as %r; the new value %r is not logged (MLflow params are write-once)",
                where,
                key,
                existing[key],
                value,
            )
    return new


def default_tracking_uri(project_dir: str | Path) -> str:
    """``sqlite:///<project_dir>/mlruns.db``; artifacts go to ``<project_dir>/mlartifacts``."""
    return f"sqlite:///{Path(project_dir).resolve() / 'mlruns.db'}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for other URIs."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or len(tracking_uri) == len(prefix):
        return None
    return Path(tracking_uri[len(prefix) :])


def default_artifact_location(tracking_uri: str) -> str | None:
    """``file://`` URI of ``mlartifacts/`` beside a SQLite database; None for servers (they decide)."""
    db_path = sqlite_path(tracking_uri)
    return None if db_path is None else (db_path.resolve().parent / "mlartifacts").as_uri()


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    if os.environ.get("LP_SWEEPS_GIT_COMMIT"):
        return os.environ["LP_SWEEPS_GIT_COMMIT"]
    checkout = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


@functools.lru_cache(maxsize=1)
def _module_distributions() -> Mapping[str, list[str]]:
    """Module -> the distributions that provide it: a scan of every installed distribution's
    files (about a second), so done at most once per process."""
    return importlib.metadata.packages_distributions()


def _top_level_modules(distribution: str) -> list[str]:
    """The top-level modules an installed distribution declares (setuptools' ``top_level.txt``;
    none when it has no such file or is not installed)."""
    try:
        return (importlib.metadata.distribution(distribution).read_text("top_level.txt") or "").split()
    except importlib.metadata.PackageNotFoundError:  # this project run from a source folder
        return []


def _distributions_of(module: str) -> list[str]:
    """The distribution named after ``module`` when there is one, else this project's when it
    ships ``module`` (``lightning_pose`` comes with ``lp-sweeps``): quick lookups. Only other
    modules need the scan of every distribution."""
    try:
        return [importlib.metadata.distribution(module).metadata["Name"]]
    except importlib.metadata.PackageNotFoundError:
        pass
    home = __name__.split(".")[0]  # lp_sweeps: its distribution's name normalises to it
    if module in _top_level_modules(home):
        return [importlib.metadata.distribution(home).metadata["Name"]]
    return list(_module_distributions().get(module) or [])


@functools.lru_cache(maxsize=None)
def module_version(module: str) -> str:
    """The version of the distribution that provides ``module``: ``3.17.2``, or with the
    distribution's name when it differs (``0.1.0 (lp-sweeps)`` for ``lightning_pose``)."""
    distributions = _distributions_of(module)
    if not distributions:
        return "not installed (imported from a source folder)"
    # a module several distributions fill (mlflow: mlflow, mlflow-skinny, ...): the one named after it
    name = next((d for d in distributions if d.replace("-", "_").lower() == module), distributions[0])
    version = importlib.metadata.version(name)
    return version if name.replace("-", "_").lower() == module else f"{version} ({name})"


def provenance_tags() -> dict[str, str]:
    """Git commit of the project checkout (or ``LP_SWEEPS_GIT_COMMIT``), package versions, host name."""
    commit = _git_commit()
    tags = {"lp_sweeps.git_commit": commit, "mlflow.source.git.commit": commit, "lp_sweeps.host": socket.gethostname()}
    tags.update({f"lp_sweeps.version.{module}": module_version(module) for module in _VERSIONED_MODULES})
    return tags
