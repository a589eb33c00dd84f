"""The trial side of the Ray Tune adapter that runs the trial code: the :class:`RayReporter`, and
the trainable, run in the Tune actor (:func:`_trainable`) or in a process forked for it
(:func:`run_forked_trial`, from :mod:`lp_sweeps.adapters.ray_tune_relay`).

A trial calls :func:`lp_sweeps.trial.run_trial` with the parsed study and a :class:`RayReporter`,
or, with ``resources.workers`` > 1, starts a Ray Train run of that many data-parallel workers
(:mod:`lp_sweeps.adapters.ray_train`).
"""

import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback

from lp_sweeps.adapters.ray_train import DistributedTrial, checkpoint_file, fit_distributed_trial, train_storage_path
from lp_sweeps.adapters.ray_tune_relay import TuneTrialInfo, current_trial_info, report_to_tune
from lp_sweeps.adapters.storage import checkpoint_dirs, newest_checkpoint_json
from lp_sweeps.forkserver import Channel
from lp_sweeps.study import Study
from lp_sweeps.study.metrics import METRICS
from lp_sweeps.trial import SAMPLED_PARAMS_FILE, Replicate, TrialContext, run_trial
from lp_sweeps.trial.checkpoints import newest_checkpoint
from lp_sweeps.trial.lineage import LINEAGE_FILE
from lp_sweeps.trial.runner import epoch_objective

__all__ = ["TRAINING_PID_KEY", "TRIAL_NUMBER_KEY", "RayReporter", "run_forked_trial"]

TRIAL_NUMBER_KEY = "trial_number"  # in a search trial's config: its number in the sweep, from 1
TRAINING_PID_KEY = "lp_pid"  # in every report: the id of the process that trains the trial


class RayReporter:
    """:class:`lp_sweeps.trial.TrialReporter` for a Tune function trainable; ``send`` delivers
    each report to Tune (directly, or through the actor of a forked trial)."""

    def __init__(self, info: TuneTrialInfo, send: Callable[[dict[str, float], Optional[str]], None]) -> None:
        self.info, self.send = info, send
        self.trial_id, self.trial_name = info.trial_id, info.trial_name
        self.trial_dir, self.node_ip = info.trial_dir, info.node_ip

    def resume_checkpoint(self) -> Optional[str]:
        """The newest complete checkpoint of this trial (see :mod:`lp_sweeps.trial.checkpoints`):
        Tune's, or a newer one in the trial's storage folder. A checkpoint of another trial (a
        population-based exploit) is taken as given."""
        given, fs, own_path = self.info.given_checkpoint, self.info.storage_filesystem, self.info.trial_fs_path
        found = [tune.Checkpoint(path=p, filesystem=fs) for p in checkpoint_dirs(fs, own_path)]
        if given is not None and not given.path.startswith(own_path + "/"):
            found = []
        candidates = ([given] if given is not None else []) + [c for c in found if given is None or c.path != given.path]
        folder = Path(self.trial_dir) / "resume"
        return newest_checkpoint([lambda c=c, i=i: checkpoint_file(c, folder / str(i)) for i, c in enumerate(candidates)])

    def own_checkpoint_state(self) -> Optional[dict]:
        """The lineage state of the newest checkpoint in this trial's storage folder that has one."""
        return newest_checkpoint_json(self.info.storage_filesystem, self.info.trial_fs_path, LINEAGE_FILE)

    def report(self, metrics: dict[str, float], checkpoint_dir: Optional[str]) -> None:
        # the process that trains: Tune's own "pid" is its actor's, which only relays for a forked trial
        self.send({**metrics, TRAINING_PID_KEY: os.getpid()}, checkpoint_dir)


def _run(config: dict, context: TrialContext, study: Study, reporter: RayReporter) -> None:
    spec = config.get("replicate")  # a replicate: {"params", "group", "seed", "source_trial_id"}
    sampled = spec["params"] if spec else config["params"]
    replicate = Replicate(spec["group"], spec["seed"], spec["source_trial_id"]) if spec else None
    number = config.get(TRIAL_NUMBER_KEY)
    Path(reporter.trial_dir, SAMPLED_PARAMS_FILE).write_text(json.dumps(sampled))
    if study.resources.workers == 1:
        run_trial(study, sampled, context, reporter, model_dir=os.path.join(reporter.trial_dir, "model"),
                  replicate=replicate, number=number, process_created=reporter.info.process_created)
        return
    trial = DistributedTrial(
        trial_id=reporter.trial_id, trial_name=reporter.trial_name, sampled=sampled,
        workers=study.resources.workers, cpus_per_worker=study.resources.cpus, gpus_per_worker=study.resources.gpus,
        storage_path=train_storage_path(context.storage_dir, context.sweep_name),
        metric=epoch_objective(study), mode=METRICS[epoch_objective(study)].mode, replicate=replicate,
        number=number,
    )
    fit_distributed_trial(trial, study, context, callbacks=[TuneReportCallback()])


def _trainable(config: dict, context: TrialContext, study: Study) -> None:
    """A Tune function trainable: the trial in its Tune actor."""
    _run(config, context, study, RayReporter(current_trial_info(), report_to_tune))


def run_forked_trial(channel: Channel, payload: bytes, config: dict, info: TuneTrialInfo) -> None:
    """The trial in a process forked for its Tune actor; reports go to the actor as questions."""
    context, study = pickle.loads(payload)
    _run(config, context, study, RayReporter(info, lambda metrics, folder: channel.ask((metrics, folder))))
