"""Study files: one YAML file describes a whole sweep (see docs/studies.md).

    name: quickstart          # sweep, MLflow experiment and registered-model name
    base_config: demo         # demo | demo_two_views | a config.yaml (relative to the study file)
    overrides: {training.check_val_every_n_epoch: 1}              # fixed for every trial
    objective: {metric: val_pixel_error, mode: min}
    searcher: {name: optuna, seed: 0}                             # see lp_sweeps.search.SEARCHERS
    scheduler: {name: asha, grace_period: 1, reduction_factor: 2} # see lp_sweeps.search.SCHEDULERS
    budget: {num_samples: 8, time_budget_s: null, max_concurrent_trials: 2, max_epochs: 6}
    resources: {cpus: 1, gpus: 0, workers: 1}                     # per trial
    video: {frames_per_video: 200, directory: null}               # after training: held-out videos
    replicates: {top_k: 2, seeds: 3, ensemble: eks}               # after the search: seeds, EKS
    parameters:
      data.downsample_factor: {grid: [2, 3]}
      training.optimizer_params.learning_rate: {loguniform: [1.0e-4, 1.0e-2]}

:mod:`.loader` reads a file once and checks it (:mod:`.sections`, :mod:`.checks`); :mod:`.space`
holds the parameters and sampling; :mod:`.compose` builds a trial's config.
"""

from lp_sweeps.study.compose import DEMO_BASES, base_config, compose_trial_config, prepare_demo_project
from lp_sweeps.study.errors import StudyError, study_source
from lp_sweeps.study.loader import STUDY_SECTIONS, TOP_LEVEL_KEYS, apply_overrides, load_study, study_from_record
from lp_sweeps.study.metrics import METRICS, VIDEO_METRICS, MetricSpec, metric_spec
from lp_sweeps.study.sections import (
    ALLOWED_METRICS, Budget, Objective, Replicates, Resources, SchedulerSpec, SearcherSpec, Study, VideoStage,
)
from lp_sweeps.study.trials import grid_points, num_trials, sample_parameters

__all__ = [
    "ALLOWED_METRICS", "Budget", "DEMO_BASES", "METRICS", "MetricSpec", "Objective", "Replicates", "Resources",
    "STUDY_SECTIONS", "SchedulerSpec", "SearcherSpec", "Study", "StudyError", "TOP_LEVEL_KEYS", "VIDEO_METRICS",
    "VideoStage", "apply_overrides", "base_config", "metric_spec",
    "compose_trial_config", "grid_points", "load_study", "num_trials", "prepare_demo_project",
    "sample_parameters", "study_from_record", "study_source",
]
