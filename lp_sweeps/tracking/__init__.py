"""Tracking sweeps in MLflow: one parent run per sweep, exactly one child run per trial.

    mlflow_client.py   the one module that imports mlflow (TrackingStore: the store's operations)
    naming.py          keys, values and tags MLflow accepts; the store's location; provenance
    spool.py           a trial's write-ahead log of records
    sender.py          sends spooled records from a background thread, retrying outages
    trial_tracker.py   the trial's child run (rank 0), buffered; delivery of leftover spools
    sweep_tracker.py   the driver's parent run, final states, best trial, retention, registry
    ui_server.py       the local MLflow UI server process
"""

from lp_sweeps.tracking.mlflow_client import DatasetRecord, TrackingStore, is_transient_error, load_tracker_model
from lp_sweeps.tracking.naming import (
    CHECKPOINT_DIR, TAG_BEST_RUN_ID, TAG_BEST_TRIAL_ID, TAG_CHECKPOINT_DELETED, TAG_GROUP, TAG_PARENT_RUN_ID, TAG_ROLE,
    TAG_SAMPLED_KEYS, TAG_SEED, TAG_SWEEP_NAME, TAG_TRIAL_ID, TAG_TRIAL_NAME, default_artifact_location,
    default_tracking_uri, flatten_params, provenance_tags,
)
from lp_sweeps.tracking.sender import TrackingFlushError, TrackingSetupError
from lp_sweeps.tracking.sweep_tracker import SweepTracker, search_children
from lp_sweeps.tracking.trial_tracker import TRACKING_PATIENCE_S, TrialTracker, deliver_spooled
from lp_sweeps.tracking.ui_server import experiment_runs_url, start_ui, stop_ui, wait_until_healthy

__all__ = [
    "CHECKPOINT_DIR", "DatasetRecord", "experiment_runs_url", "TAG_GROUP", "TAG_SAMPLED_KEYS", "TAG_SEED", "flatten_params",
    "load_tracker_model", "SweepTracker", "TAG_BEST_RUN_ID", "TAG_BEST_TRIAL_ID", "TAG_CHECKPOINT_DELETED",
    "TAG_PARENT_RUN_ID", "TAG_ROLE", "TAG_SWEEP_NAME", "TAG_TRIAL_ID", "TAG_TRIAL_NAME", "TrackingFlushError",
    "TRACKING_PATIENCE_S", "TrackingSetupError", "TrackingStore", "TrialTracker", "default_artifact_location",
    "default_tracking_uri",
    "deliver_spooled", "is_transient_error", "provenance_tags", "search_children", "start_ui",
    "stop_ui", "wait_until_healthy",
]
