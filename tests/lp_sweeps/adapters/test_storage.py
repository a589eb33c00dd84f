"""Trial results and checkpoints on S3-compatible storage: ``--storage-path s3://bucket/prefix``
against a real local S3 server (moto's, on 127.0.0.1), a real local Ray and MLflow on SQLite."""

import json
from pathlib import Path

import pyarrow.fs
import pytest
import torch
from mlflow import MlflowClient
from moto.server import ThreadedMotoServer

from lp_sweeps import sweep
from lp_sweeps.adapters.storage import newest_checkpoint_json
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture
def s3(monkeypatch) -> pyarrow.fs.S3FileSystem:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # the standard AWS variables: the driver, Ray's storage layer and the trials all read them
    for name, value in (("AWS_ACCESS_KEY_ID", "lp-test"), ("AWS_SECRET_ACCESS_KEY", "lp-test-secret"),
                        ("AWS_REGION", "us-east-1"), ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", endpoint)):
        monkeypatch.setenv(name, value)
    filesystem = pyarrow.fs.S3FileSystem(endpoint_override=endpoint, access_key="lp-test", secret_key="lp-test-secret",
                                         region="us-east-1", allow_bucket_creation=True)
    filesystem.create_dir("lp-sweeps")
    yield filesystem
    server.stop()


def test_sweep_keeps_results_and_checkpoints_in_s3(s3, tmp_path):
    overrides = ["budget.num_samples=2", "budget.max_epochs=2", "training.limit_train_batches=2", "video={frames_per_video: 0}"]
    record = sweep.launch(QUICKSTART, overrides, project_dir=tmp_path, num_cpus=2, storage_path="s3://lp-sweeps/runs",
                          printer=lambda _: None)
    assert record.state == "finished" and record.storage_dir == "s3://lp-sweeps/runs"
    assert not (tmp_path / "ray_results").exists()  # nothing went to the local default
    stored = [info.path for info in s3.get_file_info(pyarrow.fs.FileSelector(f"lp-sweeps/runs/{record.sweep_name}",
                                                                              recursive=True))]
    assert any(Path(p).name.startswith("experiment_state") for p in stored)
    assert sum(p.endswith("/model.ckpt") for p in stored) >= 2  # each trial's kept checkpoints
    assert sum(p.endswith("/sampled_params.json") for p in stored) == 2

    # the best trial's checkpoint came back from S3 into MLflow, and it loads
    client = MlflowClient(record.tracking_uri)
    local = client.download_artifacts(record.best["run_id"], "checkpoints/model.ckpt", str(tmp_path / "dl"))
    assert "state_dict" in torch.load(local, map_location="cpu", weights_only=False)
    params = client.get_run(record.best["run_id"]).data.params
    assert float(params["training.optimizer_params.learning_rate"]) == pytest.approx(
        record.best["params"]["training.optimizer_params.learning_rate"])


def test_an_unusable_storage_path_fails_before_anything_runs(s3, tmp_path):
    with pytest.raises(ValueError, match="cannot use storage path 's3://no-such-bucket/runs'"):
        sweep.launch(QUICKSTART, ["budget.num_samples=1"], project_dir=tmp_path, storage_path="s3://no-such-bucket/runs")
    assert not (tmp_path / "mlruns.db").exists()  # no tracking run was opened


@pytest.mark.parametrize("where", ["local", "s3"])
def test_the_newest_checkpoint_folder_with_the_file_is_read(where, request, tmp_path):
    """A PBT-exploited trial reads its own newest checkpoint's state this way, locally or in S3."""
    if where == "s3":
        filesystem, root = request.getfixturevalue("s3"), "lp-sweeps/trial"
    else:
        filesystem, root = pyarrow.fs.LocalFileSystem(), str(tmp_path / "trial")
    for name, state in (("checkpoint_000000", {"epoch": 0}), ("checkpoint_000001", {"epoch": 1}),
                        ("checkpoint_000002", None)):  # the newest has no state file (yet)
        filesystem.create_dir(f"{root}/{name}", recursive=True)
        if state is not None:
            with filesystem.open_output_stream(f"{root}/{name}/trial_state.json") as out:
                out.write(json.dumps(state).encode())
    assert newest_checkpoint_json(filesystem, root, "trial_state.json") == {"epoch": 1}
    assert newest_checkpoint_json(filesystem, root, "other.json") is None
    assert newest_checkpoint_json(filesystem, f"{root}-absent", "trial_state.json") is None
