"""lp_sweeps.sweep.placement: a trial that no node can hold is refused at launch, before anything
is recorded (pure checks, and a real local Ray without a GPU)."""

import time

import pytest

from lp_sweeps.cli import main as lp_sweep
from lp_sweeps.study import Resources
from lp_sweeps.sweep.placement import NodeResources, placement_problem
from tests.lp_sweeps.sweep.test_run import QUICKSTART

TWO_NODES = [NodeResources("10.0.0.1", 4.0, 0.0), NodeResources("10.0.0.2", 8.0, 2.0)]


@pytest.mark.parametrize("resources, problem", [
    (Resources(cpus=4.0), None),
    (Resources(cpus=8.0, gpus=1.0), None),
    (Resources(cpus=1.0, gpus=3.0), "a trial asks for 1 CPU and 3 GPU per trial (resources.cpus, resources.gpus), "
                                "but no node of the cluster has a GPU; the cluster has 10.0.0.1: 4 CPU, 0 GPU; "
                                "10.0.0.2: 8 CPU, 2 GPU"),
    (Resources(cpus=9.0), "a trial asks for 9 CPU and 0 GPU per trial (resources.cpus, resources.gpus), but no node "
                        "of the cluster has enough resources; the cluster has 10.0.0.1: 4 CPU, 0 GPU; 10.0.0.2: 8 CPU, 2 GPU"),
    (Resources(cpus=3.0, workers=3), None),  # 1 worker on the first node, 2 on the second, plus the driver
    (Resources(cpus=4.0, workers=3), "plus a 0.1-CPU driver, but the cluster holds only 3 such workers"),
    (Resources(cpus=4.0, workers=4), "a trial asks for 4 CPU and 0 GPU per worker, 4 workers per trial (resources.cpus, "
                                   "resources.gpus) plus a 0.1-CPU driver, but the cluster holds only 3 such workers"),
    (Resources(cpus=2.0, gpus=1.0, workers=3), "holds only 2 such workers"),
])
def test_placement_problem(resources, problem):
    found = placement_problem(resources, TWO_NODES, 0.1)
    assert (found is None) == (problem is None) and (problem is None or problem in found), found


def test_a_gpu_trial_on_a_machine_without_one_fails_at_launch(tmp_path, capsys):
    started = time.monotonic()
    code = lp_sweep(["--project-dir", str(tmp_path), "launch", str(QUICKSTART), "resources.gpus=1",
                     "resources.wait_for_nodes_s=3", "--num-cpus", "2"])
    err = capsys.readouterr().err
    assert code == 6, err  # ExitCode.NO_RESOURCES
    assert f"error: {QUICKSTART}: resources: a trial asks for 1 CPU and 1 GPU per trial" in err
    assert "no node of the cluster has a GPU" in err and "(waited 3 s for nodes" in err
    assert 3 <= time.monotonic() - started < 90
    assert not (tmp_path / "mlruns.db").exists() and not (tmp_path / "sweeps").exists()
