"""The part of the Ray Tune adapter (:mod:`lp_sweeps.adapters.ray_tune`) that a Tune actor of a
local sweep runs: what Tune knows of the trial (:class:`TuneTrialInfo`), and the relay that
hands the trial to a process forked from the sweep's fork server (:mod:`lp_sweeps.forkserver`).

This module imports only Ray Tune and the standard library, so the actor starts in about the time
Ray takes to start a worker; torch, Lightning and the trial code are already imported in the
forked process. The forked process reports through the actor: each epoch's metrics and checkpoint
folder come back as a question that :func:`tune.report` answers, and a trial that Tune stops gets
its ``SystemExit`` in the forked process, at that report, as it would in the actor. An actor that
Tune reuses for the next trial keeps its forked process. Without a reachable fork server the
trial runs in the actor, as it does on a cluster.
"""

import dataclasses
import logging
import pickle
from typing import Any, Optional

import psutil
import ray
from ray import tune

from lp_sweeps.forkserver import ForkedProcess, ForkServerUnavailable, ServerAddress

__all__ = ["FORKED_TRIAL", "TuneTrialInfo", "current_trial_info", "report_to_tune"]

logger = logging.getLogger(__name__)

FORKED_TRIAL = "lp_sweeps.adapters.ray_tune_trial:run_forked_trial"  # what the forked process runs
_PROCESS: dict[str, ForkedProcess] = {}  # this actor's forked process, kept for its next trial


@dataclasses.dataclass(frozen=True)
class TuneTrialInfo:
    """What Ray Tune tells a trial, read in its actor: ids, folders, the checkpoint Tune hands it
    (a retry, a resumed sweep or a PBT exploit), its storage, and when the actor process started."""

    trial_id: str
    trial_name: str
    trial_dir: str
    node_ip: str
    given_checkpoint: Optional[tune.Checkpoint]
    storage_filesystem: Any  # pyarrow.fs.FileSystem
    trial_fs_path: str
    process_created: float


def current_trial_info() -> TuneTrialInfo:
    context = tune.get_context()
    storage = context.get_storage()
    return TuneTrialInfo(
        trial_id=context.get_trial_id(), trial_name=context.get_trial_name(), trial_dir=context.get_trial_dir(),
        node_ip=ray.util.get_node_ip_address(), given_checkpoint=tune.get_checkpoint(),
        storage_filesystem=storage.storage_filesystem, trial_fs_path=storage.trial_fs_path.rstrip("/"),
        process_created=psutil.Process().create_time(),
    )


def report_to_tune(metrics: dict[str, float], checkpoint_dir: Optional[str]) -> None:
    """One epoch's report; raises ``SystemExit`` when Tune has stopped the trial."""
    tune.report(metrics, checkpoint=None if checkpoint_dir is None else tune.Checkpoint.from_directory(checkpoint_dir))


def _answer(question: tuple) -> None:
    metrics, checkpoint_dir = question
    report_to_tune(metrics, checkpoint_dir)


def _forked_process(server: ServerAddress) -> ForkedProcess:
    process = _PROCESS.get("process")
    if process is None or not process.alive:
        process = _PROCESS["process"] = ForkedProcess.connect(server)
    return process


def _trainable(config: dict, payload: bytes, server: ServerAddress) -> None:
    """A Tune function trainable: the trial in a forked process. ``payload`` is the pickled
    ``(TrialContext, Study)`` of :func:`lp_sweeps.adapters.ray_tune_trial._trainable` (unpickled only in
    the forked process, where the modules of its classes are imported)."""
    info = current_trial_info()
    try:
        process = _forked_process(server)
    except ForkServerUnavailable as err:
        logger.warning(f"{err}; trial {info.trial_id} runs in its Ray actor")
        from lp_sweeps.adapters import ray_tune_trial  # noqa: PLC0415 (the trial code's imports, only in this case)

        context, study = pickle.loads(payload)
        ray_tune_trial._trainable(config, context=context, study=study)
        return
    process.call(FORKED_TRIAL, (payload, config, info), answer=_answer)
