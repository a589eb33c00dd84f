"""A trial that runs out of device memory trains again once with half the batch, recorded on its
MLflow run. The device here is the CPU with ``training.memory_cap_bytes`` set between the measured
step memory of batch 4 and batch 8 (real local Ray, real MLflow on SQLite, nothing mocked)."""

import re

import pytest
import yaml
from mlflow import MlflowClient

from lp_sweeps import sweep
from lp_sweeps.trial.context import PARAM_OOM_BATCH, TAG_OOM_RETRY
from tests.lp_sweeps.sweep.test_run import children
from tests.test_batch_size import demo_project, step_bytes  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def test_a_trial_out_of_memory_is_retried_once_with_half_the_batch(tmp_path, step_bytes):  # noqa: F811
    cap = (step_bytes[4] + step_bytes[8]) // 2  # batch 8 does not fit, batch 4 does
    study = {
        "name": "oom",
        "base_config": "demo",
        "overrides": {
            "model.backbone": "resnet18", "model.backbone_pretrained": False,
            "data.image_resize_dims": {"height": 128, "width": 128},
            "training.train_batch_size": 8, "training.memory_cap_bytes": cap, "training.limit_train_batches": 1,
            "training.check_val_every_n_epoch": 1, "training.val_batch_size": 16,
            "eval.predict_vids_after_training": False,
        },
        "budget": {"num_samples": 1, "max_epochs": 1},
        "video": {"frames_per_video": 0},
        "parameters": {"training.optimizer_params.learning_rate": {"choice": [1.0e-3]}},
    }
    path = tmp_path / "oom.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    record = sweep.launch(path, [], project_dir=tmp_path, num_cpus=2)
    client = MlflowClient(record.tracking_uri)
    [run] = children(client, record.experiment_id, record.parent_run_id)
    assert run.info.status == "FINISHED"
    tag = run.data.tags[TAG_OOM_RETRY]
    found = re.fullmatch(rf"8 -> 4: training.memory_cap_bytes={cap}: a training step at batch 8 per device needs "
                         r"(\d+) bytes of cpu memory", tag)
    assert found, tag
    # the sweep's demo project has other frames (the loss masks missing keypoints): a little different
    assert cap < int(found.group(1)) and abs(int(found.group(1)) - step_bytes[8]) < 0.01 * step_bytes[8]
    assert run.data.params[PARAM_OOM_BATCH] == "4" and run.data.params["training.train_batch_size"] == "8"
    assert len(client.get_metric_history(run.info.run_id, "val_pixel_error")) == 1
