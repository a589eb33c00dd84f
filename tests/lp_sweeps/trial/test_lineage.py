"""Population-based training on a real Ray: a weak trial continues from a strong trial's checkpoint
with mutated values. Its one MLflow child run records the change (tag and ``pbt/<key>`` series),
its metric history continues from the donor's checkpoint epoch, and the new learning rate is the
one it trains with."""

import json
import re

import pytest
from mlflow import MlflowClient

from lp_sweeps import sweep
from lp_sweeps.search.pbt import PERTURBATION_FACTORS, Explorer
from lp_sweeps.study.space import Parameter
from lp_sweeps.tracking import SweepTracker, TrialTracker
from lp_sweeps.trial.context import CHECKPOINT_FILE
from lp_sweeps.trial.lineage import record_start, write_lineage
from tests.lp_sweeps.conftest import LR, TINY_OVERRIDES, write_study
from tests.lp_sweeps.tracking.conftest import history, store, template_db  # noqa: F401 - fixtures

MAX_EPOCHS = 4
WEIGHT = "losses.temporal.log_weight"
STUDY = {
    "name": "pbt",
    "base_config": "demo",
    "overrides": {**TINY_OVERRIDES, "model.model_type": "heatmap", "model.losses_to_use": ["temporal"]},
    "searcher": {"name": "random", "seed": 3},
    # every report, the worse of the two trials copies the better one (values * 0.8 or 1.2)
    "scheduler": {"name": "pbt", "perturbation_interval": 1, "quantile_fraction": 0.5, "resample_probability": 0.0,
                  "seed": 0},
    "budget": {"num_samples": 2, "max_concurrent_trials": 2, "max_epochs": MAX_EPOCHS},
    "video": {"frames_per_video": 0},
    "resources": {"cpus": 1},
    "parameters": {LR: {"loguniform": [1.0e-4, 1.0e-2]}, WEIGHT: {"uniform": [3.0, 8.0]}},
}
TAG = re.compile(r"continues trial (\S+)'s checkpoint of epoch (\d+) with (.*)")


def test_explorer_perturbs_within_the_ranges_and_per_keypoint_group():
    lr = Parameter(LR, "loguniform", low=1e-4, high=1e-2)
    eps = Parameter("losses.temporal.epsilon", "uniform", low=1.0, high=10.0, groups=((0, 1), (2,)))
    kind = Parameter("model.model_type", "choice", values=("heatmap", "regression"))
    explore = Explorer([lr, eps, kind], [LR, "losses.temporal.epsilon"], resample_probability=0.0, seed=0)
    donor = {"params": {LR: 9e-3, "losses.temporal.epsilon": [5.0, 5.0, 9.0], "model.model_type": "regression"}}
    new = explore(json.loads(json.dumps(donor)))["params"]
    assert new["model.model_type"] == "regression"  # not a mutation: the donor's value stays
    assert new[LR] in (1e-2, 9e-3 * 0.8)  # 9e-3 * 1.2 is clipped to the range's top
    first, _, last = new["losses.temporal.epsilon"]
    assert new["losses.temporal.epsilon"][1] == first and first in (6.0, 4.0) and last in (10.0, 9.0 * 0.8)


def test_an_exploit_first_logs_the_trials_own_epoch_that_its_report_left_unlogged(store, tmp_path):
    """The scheduler may stop a trial to exploit it as soon as its epoch-1 report arrives, before
    the trial logs that epoch: its restart logs it from its own newest checkpoint, once."""
    parent = (sweeps := SweepTracker(store, "pbt")).start_sweep("s", params={}, tags={})
    donor = tmp_path / "donor"
    donor.mkdir()
    write_lineage(str(donor), "t2", 1, {LR: 1e-3, WEIGHT: 5.0}, {"val_pixel_error": 3.0})
    own = {"trial_id": "t1", "epoch": 1, "params": {LR: 2e-3, WEIGHT: 5.0}, "metrics": {"val_pixel_error": 4.0}}
    asked = []

    def own_state():
        asked.append(1)
        return own

    for attempt in range(2):  # the second: a retry that starts from the donor's checkpoint again
        trial = TrialTracker(store, parent, sweeps.experiment_id, "t1", "t1", "s", spool_dir=tmp_path / "spool")
        run_id = trial.start()
        if attempt == 0:
            trial.log_metrics({"val_pixel_error": 5.0}, step=0)
        sampled = {LR: 1.2e-3, WEIGHT: 5.0}
        epoch = record_start(trial, "t1", sampled, str(donor / CHECKPOINT_FILE), [LR, WEIGHT], own_state)
        assert epoch == 2
        assert record_start(trial, "t1", sampled, None, [], own_state) is None  # no checkpoint: not asked
        trial.end("KILLED")
        assert history(store, run_id, "val_pixel_error") == [(0, 5.0), (1, 4.0)]
        assert history(store, run_id, f"pbt/{LR}") == [(2, pytest.approx(1.2e-3))] * (attempt + 1)
    assert len(asked) == 2
    tags = MlflowClient(store).get_run(run_id).data.tags
    assert tags["lp_sweeps.pbt.epoch_2"] == f"continues trial t2's checkpoint of epoch 1 with {LR}: 0.001 -> 0.0012"


@pytest.mark.slow
def test_an_exploited_trial_records_the_change_and_continues_from_the_donors_epoch(tmp_path):
    record = sweep.launch(write_study(tmp_path, STUDY), [], project_dir=tmp_path / "project", num_cpus=2,
                          printer=lambda _: None)
    assert record.state == "finished"
    client = MlflowClient(record.tracking_uri)
    runs = client.search_runs([record.experiment_id], f"tags.`mlflow.parentRunId` = '{record.parent_run_id}'")
    assert len(runs) == 2 and len({r.data.tags["lp_sweeps.trial_id"] for r in runs}) == 2
    exploited = [(run, key, value) for run in runs for key, value in run.data.tags.items()
                 if key.startswith("lp_sweeps.pbt.epoch_")]
    assert exploited, "PBT exploited no trial"
    for run in runs:  # every trial's series start at its initial values
        for key in (LR, WEIGHT):
            first = client.get_metric_history(run.info.run_id, f"pbt/{key}")[0]
            assert first.step == 0 and first.value == pytest.approx(float(run.data.params[key]))
    for run, key, text in exploited:
        epoch = int(key.rsplit("_", 1)[1])
        donor, donor_epoch, changes = TAG.match(text).groups()
        assert epoch == int(donor_epoch) + 1 and donor != run.data.tags["lp_sweeps.trial_id"]
        change = {k: (float(old), float(new)) for k, old, new in re.findall(r"(\S+): (\S+) -> ([^,\s]+)", changes)}
        assert set(change) == {LR, WEIGHT}, changes  # both mutated (resample_probability 0: never equal)
        old, new = change[LR]
        assert any(new == pytest.approx(min(max(old * f, 1e-4), 1e-2)) for f in PERTURBATION_FACTORS)
        series = {m.step: m.value for m in client.get_metric_history(run.info.run_id, f"pbt/{LR}")}
        assert series[epoch] == pytest.approx(new)
        head = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "lr-Adam/head")}
        assert head[epoch] == pytest.approx(new)  # the restored optimizer trains with the new rate
    for run in runs:
        # the history runs from epoch 0 to the last, each epoch after the one before, except where an
        # exploit continued at another epoch (a trial exploited at its epoch-1 report from a donor's
        # epoch-0 checkpoint trains epoch 1 again; exploited from a donor's epoch 2, it goes on at 3)
        values = client.get_metric_history(run.info.run_id, "val_pixel_error")
        steps = [m.step for m in sorted(values, key=lambda m: (m.timestamp, m.step))]
        starts = [step for i, step in enumerate(steps) if i == 0 or step != steps[i - 1] + 1]
        exploits = {int(key.rsplit("_", 1)[1]) for key in run.data.tags if key.startswith("lp_sweeps.pbt.epoch_")}
        assert starts[0] == 0 and set(starts[1:]) <= exploits and steps[-1] == MAX_EPOCHS - 1, (steps, exploits)
        assert exploits <= set(steps), (steps, exploits)  # each exploit trained its first epoch
        resumed = {int(m.step) for m in client.get_metric_history(run.info.run_id, "resumed_from_epoch")}
        assert {epoch - 1 for epoch in exploits} <= resumed  # from the donor's checkpoint epoch
