"""lp_sweeps.tracking.naming and mlflow_client: names, values and errors."""

import importlib.metadata
from pathlib import Path

import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

from lp_sweeps.tracking import default_artifact_location, default_tracking_uri, is_transient_error
import mlflow
import optuna

from lp_sweeps.tracking import naming
from lp_sweeps.tracking.naming import finite_metrics, param_value, sanitize_key


def test_default_uri_and_artifact_location(tmp_path: Path):
    uri = default_tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns.db"
    assert default_artifact_location(uri) == (tmp_path.resolve() / "mlartifacts").as_uri()
    assert default_artifact_location("http://127.0.0.1:5000") is None


@pytest.mark.parametrize(
    "name, expected",
    [
        ("lr-Adam/head", "lr-Adam/head"),
        ("val loss (px)", "val loss _px_"),
        ("train:loss", "train_loss"),
        ("/a//b/", "a/b"),
        ("./x/../y", "_/x/__/y"),
        ("epoch=3", "epoch_3"),
        ("", "_"),
    ],
)
def test_sanitize_key(name, expected):
    assert sanitize_key(name) == expected


def test_sanitize_key_cuts_to_mlflow_limit_and_values_are_limited():
    assert len(sanitize_key("k" * 300)) == 250
    long_value = param_value("v" * 7000)
    assert len(long_value) == 6000 and long_value.endswith("...[truncated]")
    assert param_value(0.001) == "0.001"


def test_finite_metrics_drops_nan_and_inf_and_names_bad_values():
    out = finite_metrics({"a": 1, "b": float("nan"), "c": float("inf"), "d/e f": np.float32(0.5)})
    assert out == {"a": 1.0, "d/e f": 0.5}
    with pytest.raises(ValueError, match="'vec'"):
        finite_metrics({"vec": np.array([1.0, 2.0])})


def test_transient_errors_are_retried_and_others_are_not():
    assert is_transient_error(MlflowException("API request failed", error_code=INTERNAL_ERROR))
    assert is_transient_error(ConnectionRefusedError(111, "refused"))
    assert not is_transient_error(MlflowException("no such run", error_code=RESOURCE_DOES_NOT_EXIST))
    assert not is_transient_error(PermissionError(13, "denied"))


def test_package_versions_are_looked_up_without_scanning_the_installed_distributions():
    """A trial's first tags (its cold start): modules named like their distribution are looked up
    directly, ``lightning_pose`` in the distribution that ships ``lp_sweeps`` (``lp-sweeps``); the
    scan of every distribution (about a second) is not needed."""
    naming.module_version.cache_clear()
    naming._module_distributions.cache_clear()
    tags = naming.provenance_tags()
    assert tags["lp_sweeps.version.mlflow"] == mlflow.__version__
    assert tags["lp_sweeps.version.optuna"] == optuna.__version__
    assert tags["lp_sweeps.version.lightning_pose"] == f"{tags['lp_sweeps.version.lp_sweeps']} (lp-sweeps)"
    assert tags["lp_sweeps.version.lp_sweeps"] == importlib.metadata.version("lp-sweeps")
    assert naming._module_distributions.cache_info().misses == 0
    naming.provenance_tags()
    assert naming._module_distributions.cache_info().misses == 0


def test_a_module_of_no_known_distribution_is_found_by_the_scan_once():
    naming._module_distributions.cache_clear()
    assert naming._distributions_of("yaml") == ["PyYAML"]  # PyYAML's module is not named after it
    assert naming._distributions_of("_yaml") == ["PyYAML"]
    assert naming._module_distributions.cache_info().misses == 1
