"""Seed replicates: after the search, the ``replicates.top_k`` best configurations are trained
again with ``replicates.seeds`` new model and data seeds each (seed s adds s to the base config's
``training.rng_seed_model_pt`` and ``rng_seed_data_pt``), as child runs tagged with their
configuration's group (``t03``) and seed. Replicates already finished (a resumed sweep) are not
trained again. The trials are then ranked by configuration (:mod:`lp_sweeps.report.leaderboard`).
"""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig

from lp_sweeps.adapters.outcomes import SweepOutcome, TrialOutcome
from lp_sweeps.adapters.ray_tune import fit_replicates
from lp_sweeps.report.leaderboard import Entry, build_leaderboard, replicate_candidates
from lp_sweeps.study import Study, compose_trial_config
from lp_sweeps.study.labels import trial_group
from lp_sweeps.sweep.record import SweepRecord
from lp_sweeps.tracking import TAG_GROUP, TAG_PARENT_RUN_ID, TAG_SEED, TrackingStore
from lp_sweeps.trial import Replicate, TrialContext
from lp_sweeps.trial.inputs import apply_seed

__all__ = ["rank_outcomes", "run_replicates", "trial_config"]


def _entry(trial: TrialOutcome) -> Entry:
    replicate = trial.replicate or {}
    group = replicate.get("group") or trial_group(trial.trial_id, trial.number)
    return Entry(trial.trial_id, group, group, trial.metric, trial.params, replicate.get("seed"))


def _finished(record: SweepRecord) -> set[tuple[str, int]]:
    """(group, seed) of the replicates MLflow already holds as finished."""
    runs = TrackingStore(record.tracking_uri).search(record.experiment_id,
                                                     f"tags.`{TAG_PARENT_RUN_ID}` = '{record.parent_run_id}'")
    return {(r.tags[TAG_GROUP], int(r.tags[TAG_SEED])) for r in runs
            if TAG_SEED in r.tags and TAG_GROUP in r.tags and r.status == "FINISHED"}


def run_replicates(record: SweepRecord, study: Study, context: TrialContext, outcome: SweepOutcome, max_t: int,
                   last_epoch: int, printer: Callable[[str], None]) -> list[TrialOutcome]:
    """Train the replicates the study asks for (none when it asks for none or the search was
    interrupted); returns their outcomes."""
    spec = study.replicates
    if not spec.enabled or outcome.interrupted:
        return []
    searched = [_entry(t) for t in outcome.trials if t.status != "ERROR" and t.replicate is None]
    chosen = replicate_candidates(searched, study.objective.mode, spec.top_k)
    done = _finished(record)
    todo = [{"params": e.params, "group": e.group, "seed": seed, "source_trial_id": e.trial_id}
            for e in chosen for seed in range(1, spec.seeds + 1) if (e.group, seed) not in done]
    if not todo:
        return []
    printer(f"replicates: configurations {', '.join(e.group for e in chosen)} x {spec.seeds} seeds "
            f"({len(todo)} trainings)")
    ended_file = str(Path(record.project_dir) / "sweeps" / record.sweep_name / "ended_replicates.txt")
    return fit_replicates(study, context, record.storage_dir, todo, max_t, last_epoch, ended_file, printer)


def rank_outcomes(study: Study, trials: Sequence[TrialOutcome]) -> list[TrialOutcome]:
    """Trials with a value, best first: by configuration (mean over seeds where replicated), then
    each configuration's runs by their own value."""
    by_id = {t.trial_id: t for t in trials if t.metric is not None}
    rows = build_leaderboard([_entry(t) for t in by_id.values()], study.objective.mode)
    return [by_id[e.trial_id] for row in rows for e in row.runs(study.objective.mode)]


def trial_config(study: Study, params: dict, replicate: Optional[dict], demo_dir: Optional[str]) -> DictConfig:
    """The full config a trial (or a replicate, with its seeds) trained with."""
    cfg = compose_trial_config(study, params, demo_dir)
    if replicate:
        apply_seed(cfg, Replicate(replicate["group"], replicate["seed"], replicate["source_trial_id"]))
    return cfg
