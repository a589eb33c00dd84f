"""One trial: its context and reporter protocol (:mod:`.context`) and what it does (:mod:`.runner`)."""

from lp_sweeps.trial.context import (
    CHECKPOINT_FILE, SAMPLED_PARAMS_FILE, TAG_NODE_IP, TAG_REPLICATE_OF, TAG_WORLD_SIZE, Replicate, TrialContext,
    TrialReporter, WorkerPlacement,
)
from lp_sweeps.trial.runner import EpochReporter, Stopwatch, epoch_metrics, run_trial

__all__ = [
    "CHECKPOINT_FILE", "EpochReporter", "Replicate", "SAMPLED_PARAMS_FILE", "Stopwatch", "TAG_NODE_IP",
    "TAG_REPLICATE_OF", "TAG_WORLD_SIZE",
    "TrialContext", "TrialReporter", "WorkerPlacement", "epoch_metrics", "run_trial",
]
