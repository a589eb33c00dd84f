"""Sweeps on the local deployment stack (``infra/local/start_stack.sh``): PostgreSQL, an MLflow
server on it, and a Ray cluster of two nodes (a head on 127.0.0.3 and a worker on 127.0.0.2, each a
separate ``ray start`` with its own resources). ``lp-sweep launch --address --tracking-uri`` runs as
a separate process, as a user would run it. Nothing is mocked.

The tests run in file order on one stack; the last one kills the worker node.
"""

import glob
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import psycopg2
import pytest
import torch
import yaml
from mlflow import MlflowClient
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, Subset
from torch.utils.data.distributed import DistributedSampler

from lightning_pose.data.factory import get_data_module, get_dataset, get_imgaug_transform
from lightning_pose.losses.factory import get_loss_factories
from lightning_pose.models.factory import get_model, load_checkpoint
from lp_sweeps.staging import MARKER_FILE
from tests.ci import missing
from tests.disk import release_when_unused
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]
START, STOP = REPO / "infra/local/start_stack.sh", REPO / "infra/local/stop_stack.sh"
HEAD_IP, WORKER_IP = "127.0.0.3", "127.0.0.2"
pytestmark = pytest.mark.slow


def _postgres_installed() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or shutil.which("initdb") is not None


def _read_env_file(path: Path) -> dict[str, str]:
    names = [line.split()[1].split("=")[0] for line in path.read_text().splitlines() if line.startswith("export ")]
    out = subprocess.run(["bash", "-c", 'source "$1" && env -0', "_", str(path)], capture_output=True, check=True)
    values = dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {name: values[name] for name in names}


@pytest.fixture(scope="module")
def stack():
    if not _postgres_installed():
        missing("PostgreSQL server binaries not found (apt-get install postgresql; .ci/run installs them)")
    folder = Path(tempfile.mkdtemp(prefix="lp-stack-test-"))
    env = {
        **os.environ, "LP_STACK_DIR": str(folder), "LP_STACK_PG_PORT": str(free_port()),
        "LP_STACK_MLFLOW_PORT": str(free_port()), "LP_STACK_RAY_PORT": str(free_port()),
        "LP_STACK_RAY_DASHBOARD_PORT": str(free_port()), "LP_STACK_RAY_CLIENT_PORT": str(free_port()),
        "LP_STACK_RAY_HEAD_IP": HEAD_IP, "LP_STACK_RAY_WORKER_IP": WORKER_IP, "LP_STACK_RAY_CPUS": "1",
        "TMPDIR": str(folder / "scratch"),  # the nodes' scratch space: where trials stage the data
    }
    (folder / "scratch").mkdir()
    started = subprocess.run(["bash", str(START)], env=env, capture_output=True, text=True, timeout=600)
    env_file = folder / "stack.env"
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        yield {**_read_env_file(env_file), "STACK_DIR": str(folder)}
    finally:
        if env_file.exists():
            subprocess.run(["bash", str(STOP), str(env_file)], capture_output=True, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def project(request, tmp_path_factory) -> Path:
    return release_when_unused(request, tmp_path_factory.mktemp("cluster_project"))


def write_study(folder: Path, name: str, samples: int, max_epochs: int, resources: dict, concurrent: int) -> Path:
    study = {
        "name": name,
        "base_config": "demo",
        "overrides": {
            "model.backbone": "resnet18", "model.backbone_pretrained": False, "model.model_type": "heatmap",
            "model.losses_to_use": ["temporal"], "data.image_resize_dims": {"height": 128, "width": 128},
            "training.check_val_every_n_epoch": 1, "training.limit_train_batches": 3,
            "training.train_batch_size": 8, "training.val_batch_size": 8, "eval.predict_vids_after_training": False,
        },
        "objective": {"metric": "val_pixel_error", "mode": "min"},
        "searcher": {"name": "random", "seed": 0},
        "scheduler": {"name": "fifo"},
        "budget": {"num_samples": samples, "max_epochs": max_epochs, "max_concurrent_trials": concurrent},
        "video": {"frames_per_video": 0},
        "resources": resources,
        "parameters": {"training.optimizer_params.learning_rate": {"loguniform": [1.0e-3, 5.0e-3]}},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def launch(stack: dict, project: Path, study: Path) -> subprocess.Popen:
    env = {**os.environ, **{k: v for k, v in stack.items() if k != "STACK_DIR"}, "LP_OFFLINE": "1"}
    command = [sys.executable, "-m", "lp_sweeps.cli", "--project-dir", str(project), "launch", str(study),
               "--address", stack["RAY_ADDRESS"], "--tracking-uri", stack["MLFLOW_TRACKING_URI"]]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, timeout: float = 900) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-5000:]
    return out


def sweep_record(project: Path, name: str) -> dict:
    [path] = (project / "sweeps").glob(f"{name}-*/sweep.json")
    return json.loads(path.read_text())


def child_runs(record: dict) -> list:
    client = MlflowClient(record["tracking_uri"])
    query = f"tags.`mlflow.parentRunId` = '{record['parent_run_id']}'"
    return client.search_runs([record["experiment_id"]], query, max_results=100)


def history(record: dict, run, metric: str = "epoch") -> list[int]:
    return sorted(m.step for m in MlflowClient(record["tracking_uri"]).get_metric_history(run.info.run_id, metric))


def test_sweep_runs_on_both_nodes_and_records_in_postgres(stack, project):
    study = write_study(project, "two-nodes", samples=4, max_epochs=2, resources={"cpus": 1, "workers": 1}, concurrent=2)
    finish(launch(stack, project, study))
    record = sweep_record(project, "two-nodes")
    assert record["state"] == "finished" and record["tracking_uri"] == stack["MLFLOW_TRACKING_URI"]
    runs = child_runs(record)
    assert len(runs) == 4 and len({r.data.tags["lp_sweeps.trial_id"] for r in runs}) == 4
    assert {r.data.tags["lp_sweeps.node_ip"] for r in runs} == {HEAD_IP, WORKER_IP}
    assert all(r.info.status == "FINISHED" and history(record, r) == [0, 1] for r in runs)
    # on a cluster there is no fork server: each trial trains in its Tune actor
    reports = [json.loads(line) for path in Path(record["storage_dir"], record["sweep_name"]).glob("*/result.json")
               for line in path.read_text().splitlines()]
    assert len({r["trial_id"] for r in reports}) == 4 and all(r["lp_pid"] == r["pid"] for r in reports)
    # the demo data was copied to the nodes' scratch space once, not once per trial (both "nodes"
    # share this machine's disk)
    staged = list((Path(stack["STACK_DIR"]) / "scratch" / "lp_sweeps_data").glob(f"*/{MARKER_FILE}"))
    assert len(staged) == 1
    assert json.loads(staged[0].read_text())["source"] == str((project / "demo" / "demo").resolve())
    # the runs and their metrics live in the PostgreSQL database behind the server
    with psycopg2.connect(host="127.0.0.1", port=stack["PGPORT"], user=stack["PGUSER"],
                          password=stack["PGPASSWORD"], dbname=stack["PGDATABASE"]) as connection:
        with connection.cursor() as cursor:
            ids = tuple(r.info.run_id for r in runs)
            cursor.execute("SELECT count(DISTINCT run_uuid) FROM metrics WHERE key = 'val_pixel_error' AND run_uuid IN %s",
                           (ids,))
            assert cursor.fetchone()[0] == 4


def test_a_trial_no_node_can_hold_fails_at_launch_naming_both_nodes(stack, project):
    """Each node has 1 CPU: a trial asking for 2 can never be placed, and waiting (bounded, as on
    an autoscaling cluster) does not change that."""
    study = write_study(project, "too_big", 2, 1, {"cpus": 2, "gpus": 0, "wait_for_nodes_s": 4}, 1)
    started = time.monotonic()
    process = launch(stack, project, study)
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 6, out[-3000:]  # ExitCode.NO_RESOURCES
    assert "resources: a trial asks for 2 CPU and 0 GPU per trial (resources.cpus, resources.gpus), but no node " \
           "of the cluster has enough resources" in out
    assert "127.0.0.2: 1 CPU, 0 GPU" in out and "(waited 4 s for nodes, resources.wait_for_nodes_s)" in out
    assert time.monotonic() - started < 120
    assert not list((project / "sweeps").glob("too_big-*"))  # nothing recorded: no run, no record


def rank_value(model, dataset, rank: int, world_size: int, batch_size: int, metric: str) -> float:
    """What one DDP rank computes: its DistributedSampler share, in its batches, weighted by batch size."""
    indices = list(DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False))
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=False)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False)
    return float(trainer.validate(model, dataloaders=loader, verbose=False)[0][metric])


def test_data_parallel_trial_has_one_run_with_the_reduced_metric(stack, project, tmp_path):
    study = write_study(project, "ddp", samples=1, max_epochs=2, resources={"cpus": 0.5, "workers": 2}, concurrent=1)
    finish(launch(stack, project, study))
    record = sweep_record(project, "ddp")
    [run] = child_runs(record)  # one MLflow run for the trial, although two processes trained it
    assert run.info.status == "FINISHED" and run.data.tags["lp_sweeps.world_size"] == "2"
    assert history(record, run) == [0, 1]

    client = MlflowClient(record["tracking_uri"])
    checkpoint = client.download_artifacts(run.info.run_id, "checkpoints/model.ckpt", str(tmp_path))
    cfg = OmegaConf.load(client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path)))
    cfg.training.num_gpus = 2  # each rank's share of the batches, as in the trial
    data_dir = str(Path(cfg.data.data_dir))
    dataset = get_dataset(cfg, data_dir, get_imgaug_transform(cfg))
    data_module = get_data_module(cfg, dataset, video_dir=str(Path(data_dir, cfg.data.video_dir)))
    data_module.setup("fit")
    model = get_model(cfg, data_module, get_loss_factories(cfg, data_module))
    load_checkpoint(model, checkpoint)
    model.eval()
    epoch = int(torch.load(checkpoint, map_location="cpu", weights_only=False)["epoch"])
    logged = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "val_pixel_error")}
    per_rank_batch = math.ceil(int(cfg.training.val_batch_size) / 2)
    ranks = [rank_value(model, data_module.val_dataset, r, 2, per_rank_batch, "val_pixel_error") for r in (0, 1)]
    # the checkpoint is saved after the epoch's validation, so it holds the weights that validation used
    assert logged[epoch] == pytest.approx(sum(ranks) / 2, rel=1e-4)
    assert abs(ranks[0] - ranks[1]) > 1e-3  # the two shares differ: rank 0's value alone would not match


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the sweep ended before {what}: {process.stdout.read()[-5000:]}")
        time.sleep(1)
    pytest.fail(f"timed out after {timeout} s waiting until {what}")


def sweep_runs_so_far(stack: dict, project: Path, name: str) -> list:
    paths = list((project / "sweeps").glob(f"{name}-*/sweep.json"))
    if not paths:
        return []
    try:
        return child_runs(json.loads(paths[0].read_text()))
    except Exception:  # the server is starting or stopping
        return []


def server_up(stack: dict) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", int(stack["MLFLOW_TRACKING_URI"].rsplit(":", 1)[1])), timeout=1):
            return True
    except OSError:
        return False


def restart_mlflow(stack: dict) -> None:
    """Start the stack's MLflow server again, on the same database and port."""
    folder = Path(stack["STACK_DIR"])
    env = {
        **os.environ,
        "MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://{stack['PGUSER']}:{stack['PGPASSWORD']}@127.0.0.1:"
                                    f"{stack['PGPORT']}/{stack['PGDATABASE']}",
        "MLFLOW_ARTIFACTS_DESTINATION": str(folder / "mlartifacts"), "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": stack["MLFLOW_TRACKING_URI"].rsplit(":", 1)[1], "MLFLOW_WORKERS": "1",
        "MLFLOW_BIN": str(Path(stack["LP_STACK_BIN"]) / "mlflow"),
    }
    with open(folder / "mlflow_restarted.log", "w") as log:
        server = subprocess.Popen(["setsid", str(REPO / "infra/mlflow/start_server.sh")], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
    with open(folder / "stack.env", "a") as env_file:  # so that stop_stack.sh stops the new server
        env_file.write(f"export LP_STACK_MLFLOW_PGID={server.pid}\n")
    stack["LP_STACK_MLFLOW_PGID"] = str(server.pid)
    wait_for(lambda: server_up(stack), 180, "the MLflow server is back")


def test_tracking_server_outage_loses_no_metric(stack, project):
    epochs = 8
    study = write_study(project, "outage", samples=2, max_epochs=epochs, resources={"cpus": 1, "workers": 1},
                        concurrent=2)
    process = launch(stack, project, study)
    wait_for(lambda: any(history_or_empty(stack, r) for r in sweep_runs_so_far(stack, project, "outage")),
             300, "a trial logged its first epoch", process)
    os.killpg(int(stack["LP_STACK_MLFLOW_PGID"]), signal.SIGTERM)
    wait_for(lambda: not server_up(stack), 60, "the MLflow server is down")
    time.sleep(20)
    assert process.poll() is None, "the sweep ended during the outage: make the trials longer"
    restart_mlflow(stack)
    out = finish(process)
    assert "unreachable" in out  # the trials said so in the log
    record = sweep_record(project, "outage")
    runs = child_runs(record)
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:  # every epoch of every trial, each once
        assert history(record, run) == list(range(epochs))
        assert history(record, run, "val_pixel_error") == list(range(epochs))


def history_or_empty(stack: dict, run) -> list:
    try:
        return MlflowClient(stack["MLFLOW_TRACKING_URI"]).get_metric_history(run.info.run_id, "epoch")
    except Exception:
        return []


def train_worker_pids() -> list[int]:
    """The Ray Train worker processes running now (Ray names them ``ray::RayTrainWorker...``), not
    their DataLoader subprocesses, which inherit the name."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if title.startswith("ray::RayTrainWorker"):
            parents[int(entry.name)] = parent
    return sorted(pid for pid, parent in parents.items() if parent not in parents)


def test_a_data_parallel_trial_resumes_from_its_ray_train_checkpoint(stack, project):
    epochs = 6
    study = write_study(project, "ddp-retry", samples=1, max_epochs=epochs, resources={"cpus": 0.5, "workers": 2},
                        concurrent=1)
    process = launch(stack, project, study)
    runs = wait_for(lambda: [r for r in sweep_runs_so_far(stack, project, "ddp-retry") if len(history_or_empty(stack, r)) >= 2],
                    300, "the DDP trial logged two epochs", process)
    workers = train_worker_pids()
    assert len(workers) == 2, workers
    os.kill(max(workers), signal.SIGKILL)  # one DDP worker dies; Ray Train restarts the group
    finish(process)
    record = sweep_record(project, "ddp-retry")
    [run] = child_runs(record)
    assert run.info.run_id == runs[0].info.run_id and run.info.status == "FINISHED"
    steps = history(record, run)
    assert set(steps) == set(range(epochs))
    assert steps.count(0) == 1  # the restarted workers continued from the checkpoint Ray Train kept


def raylet_pid(node_ip: str) -> int:
    """The raylet of the node at ``node_ip`` (read from /proc: its command line is too long for ps)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv[0].endswith("/raylet") and f"--node_ip_address={node_ip}" in argv:
            pids.append(int(entry.name))
    assert len(pids) == 1, f"expected one raylet on {node_ip}, found {pids}"
    return pids[0]


def test_trials_of_a_lost_worker_node_resume_on_the_head(stack, project):
    epochs = 8
    study = write_study(project, "node-loss", samples=2, max_epochs=epochs, resources={"cpus": 1, "workers": 1},
                        concurrent=2)
    process = launch(stack, project, study)

    def trial_on_worker_with_two_epochs():
        runs = [r for r in sweep_runs_so_far(stack, project, "node-loss") if r.data.tags.get("lp_sweeps.node_ip") == WORKER_IP]
        return next((r for r in runs if len(history_or_empty(stack, r)) >= 2), None)

    victim = wait_for(trial_on_worker_with_two_epochs, 300, "the worker node's trial logged two epochs", process)
    os.kill(raylet_pid(WORKER_IP), signal.SIGKILL)
    finish(process)
    record = sweep_record(project, "node-loss")
    assert record["state"] == "finished"
    runs = {r.data.tags["lp_sweeps.trial_id"]: r for r in child_runs(record)}
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs.values())
    moved = runs[victim.data.tags["lp_sweeps.trial_id"]]
    assert moved.data.tags["lp_sweeps.node_ip"] == HEAD_IP  # retried on the head
    steps = history(record, moved)
    assert set(steps) == set(range(epochs))
    assert steps.count(0) == 1  # it continued from its checkpoint; a fresh start would log epoch 0 again
