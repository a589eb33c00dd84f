"""Deployment manifests under infra/: they parse, carry the fields their tools need, and hold no secrets."""

import configparser
import copy
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
KUBE = INFRA / "kubernetes"
MLFLOW_DIR = INFRA / "mlflow"

# ${VAR}, ${VAR:-default}, ${VAR:?message}; "$${VAR}" is a literal for the container's shell.
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}")
SECRET_KEY_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.IGNORECASE)


def load_all(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def load_one(path: Path) -> dict:
    docs = load_all(path)
    assert len(docs) == 1, f"{path} should hold one document, has {len(docs)}"
    return docs[0]


def test_every_yaml_file_under_infra_parses():
    files = sorted(INFRA.rglob("*.yaml")) + sorted(INFRA.rglob("*.yml"))
    names = {p.relative_to(INFRA).as_posix() for p in files}
    assert {"ray/cluster-aws.yaml", "kubernetes/raycluster.yaml", "kubernetes/rayjob.yaml",
            "kubernetes/mlflow-secret.example.yaml", "kubernetes/shared-pvc.yaml",
            "mlflow/docker-compose.yaml"} <= names
    for path in files:
        assert load_all(path), f"{path} is empty"


# ---------------------------------------------------------------- Ray cluster launcher


@pytest.fixture(scope="module")
def cluster() -> dict:
    return load_one(INFRA / "ray" / "cluster-aws.yaml")


def test_cluster_launcher_has_what_ray_up_needs(cluster):
    assert cluster["cluster_name"] == "lp-sweeps"
    assert cluster["provider"]["type"] == "aws" and cluster["provider"]["region"]
    assert cluster["auth"]["ssh_user"] == "ubuntu"
    types = cluster["available_node_types"]
    assert cluster["head_node_type"] in types
    for name, spec in types.items():
        assert isinstance(spec["resources"], dict), name
        assert spec["node_config"]["InstanceType"], name
        assert spec["node_config"]["ImageId"].startswith("ami-"), name
    workers = [spec for name, spec in types.items() if name != cluster["head_node_type"]]
    assert any(spec["resources"].get("GPU", 0) >= 1 for spec in workers)
    for spec in workers:
        assert 0 <= spec["min_workers"] <= spec["max_workers"] <= cluster["max_workers"]
    for key in ("setup_commands", "head_start_ray_commands", "worker_start_ray_commands"):
        assert cluster[key] and all(isinstance(c, str) for c in cluster[key]), key


def test_cluster_launcher_installs_the_project_and_starts_ray_on_explicit_ports(cluster):
    assert "." in cluster["file_mounts"].values()
    setup = " ".join(cluster["setup_commands"])
    assert "pip install -e ~/lp-sweeps" in setup
    head = " ".join(cluster["head_start_ray_commands"])
    worker = " ".join(cluster["worker_start_ray_commands"])
    assert "ray start --head" in head and "--port=6379" in head
    assert "--address=$RAY_HEAD_IP:6379" in worker
    for command in (head, worker):
        assert "--object-manager-port=8076" in command and "--node-manager-port=8077" in command
        assert "RAY_AUTH_MODE=token" in command
    assert "--dashboard-host=127.0.0.1" in head


def test_cluster_launcher_passes_rays_own_config_validation(cluster):
    """The checks `ray up` runs before it contacts the cloud: defaults filled in, then Ray's schema."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(cluster)))


# ---------------------------------------------------------------- KubeRay


@pytest.fixture(scope="module")
def raycluster() -> dict:
    return load_one(KUBE / "raycluster.yaml")


@pytest.fixture(scope="module")
def rayjob() -> dict:
    return load_one(KUBE / "rayjob.yaml")


@pytest.fixture(scope="module")
def pvc() -> dict:
    return load_one(KUBE / "shared-pvc.yaml")


@pytest.fixture(scope="module")
def secret() -> dict:
    return load_one(KUBE / "mlflow-secret.example.yaml")


def check_pod_template(template: dict, claim: str, secret_name: str) -> dict:
    """The Ray container of a group's pod template: image, shared volume, MLflow Secret."""
    spec = template["spec"]
    container = spec["containers"][0]
    assert container["name"] and container["image"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["shared"] == "/shared"
    assert volumes["shared"]["persistentVolumeClaim"]["claimName"] == claim
    assert {"secretRef": {"name": secret_name}} in container["envFrom"]
    return container


def check_cluster_spec(spec: dict, claim: str, secret_name: str) -> None:
    head = spec["headGroupSpec"]
    assert head["rayStartParams"], "head rayStartParams"
    for params in [head["rayStartParams"]] + [g["rayStartParams"] for g in spec["workerGroupSpecs"]]:
        assert all(isinstance(v, str) for v in params.values()), "KubeRay wants string rayStartParams"
    check_pod_template(head["template"], claim, secret_name)
    assert spec["workerGroupSpecs"]
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"]
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        container = check_pod_template(group["template"], claim, secret_name)
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    assert spec["authOptions"]["mode"] == "token"


def test_raycluster_manifest(raycluster, pvc, secret):
    assert raycluster["apiVersion"] == "ray.io/v1"
    assert raycluster["kind"] == "RayCluster"
    assert raycluster["metadata"]["name"] == "lp-sweeps"
    check_cluster_spec(raycluster["spec"], pvc["metadata"]["name"], secret["metadata"]["name"])


def test_rayjob_manifest(rayjob, pvc, secret):
    assert rayjob["apiVersion"] == "ray.io/v1"
    assert rayjob["kind"] == "RayJob"
    assert rayjob["metadata"]["name"]
    spec = rayjob["spec"]
    assert spec["submissionMode"] in {"K8sJobMode", "HTTPMode"}
    assert spec["shutdownAfterJobFinishes"] is True
    check_cluster_spec(spec["rayClusterSpec"], pvc["metadata"]["name"], secret["metadata"]["name"])


def test_rayjob_entrypoint_is_a_valid_lp_sweep_launch(rayjob):
    from lp_sweeps.cli import _parser

    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[0] == "lp-sweep"
    args = _parser().parse_args(argv[1:])
    assert args.command == "launch"
    assert args.tracking_uri == "$MLFLOW_TRACKING_URI"  # expanded by the head pod's shell
    assert args.project_dir.startswith("/shared/")
    assert args.study == "/opt/lp-sweeps/search_spaces/full.yaml"
    assert (REPO / "search_spaces" / "full.yaml").is_file()
    assert "resources.gpus=1" in args.overrides


def test_pvc_is_shared_between_pods(pvc):
    assert pvc["apiVersion"] == "v1" and pvc["kind"] == "PersistentVolumeClaim"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"]


def test_secret_template_holds_placeholders_only(secret):
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    assert "data" not in secret, "base64 data could hide a real value"
    values = secret["stringData"]
    assert set(values) == {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
    for key, value in values.items():
        assert "REPLACE_WITH_" in value, f"{key} is not a placeholder: {value!r}"
        assert not re.search(r"[0-9a-f]{16,}|[A-Za-z0-9+/]{24,}={0,2}", value), f"{key} looks like a secret"


# ---------------------------------------------------------------- MLflow server


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_one(MLFLOW_DIR / "docker-compose.yaml")


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (MLFLOW_DIR / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_compose_has_the_three_services_with_healthchecks(compose):
    services = compose["services"]
    assert {"postgres", "minio", "mlflow"} <= set(services)
    for name in ("postgres", "minio", "mlflow"):
        assert services[name]["healthcheck"]["test"], name
    mlflow = services["mlflow"]
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = mlflow["environment"]
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert env["MLFLOW_ARTIFACTS_DESTINATION"].startswith("s3://")
    assert env["MLFLOW_HOST"] == "0.0.0.0" and str(env["MLFLOW_PORT"]) == "5000"
    assert env["MLFLOW_AUTH_CONFIG_PATH"]  # start_server.sh adds --app-name basic-auth
    assert (MLFLOW_DIR / "Dockerfile").is_file() and mlflow["build"]["context"] == "."


def test_compose_takes_every_secret_from_the_environment(compose):
    text = (MLFLOW_DIR / "docker-compose.yaml").read_text()
    for user_pass in re.findall(r"://[^:/\s\"']+:([^@\s]+)@", text):
        assert COMPOSE_VAR.fullmatch(user_pass), f"literal password in a URI: {user_pass!r}"
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_KEY_NAME.search(key):
                assert COMPOSE_VAR.fullmatch(str(value)), f"{name}.{key} is not a ${{VAR}} reference"


def test_env_example_defines_every_required_variable_with_placeholder_secrets():
    text = (MLFLOW_DIR / "docker-compose.yaml").read_text()
    defined = env_example()
    for var, modifier in COMPOSE_VAR.findall(text):
        if not modifier.startswith(":-"):
            assert var in defined, f"{var} is used by docker-compose.yaml but missing from .env.example"
    for key, value in defined.items():
        if SECRET_KEY_NAME.search(key) and key != "MLFLOW_S3_ACCESS_KEY":
            assert value.startswith("REPLACE_ME_"), f"{key} in .env.example is not a placeholder"


def test_basic_auth_example_is_read_by_mlflow(monkeypatch):
    path = MLFLOW_DIR / "basic_auth.ini.example"
    parser = configparser.ConfigParser()
    parser.read(path)
    assert "admin_password" not in parser["mlflow"], "the admin password belongs in MLFLOW_AUTH_ADMIN_PASSWORD"
    from mlflow.server.auth.config import read_auth_config

    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "a-password-of-24-chars!!")
    monkeypatch.delenv("MLFLOW_AUTH_ADMIN_USERNAME", raising=False)
    config = read_auth_config()
    assert config.default_permission == "READ"
    assert config.database_uri == "sqlite:////var/lib/mlflow/auth/basic_auth.db"
    assert config.admin_username == "REPLACE_WITH_ADMIN_USERNAME"
    assert config.admin_password == "a-password-of-24-chars!!"
    assert config.authorization_function == "mlflow.server.auth:authenticate_request_basic_auth"


def test_templates_with_secrets_are_git_ignored():
    ignored = (INFRA / ".gitignore").read_text().split()
    assert {"mlflow/.env", "mlflow/basic_auth.ini", "kubernetes/mlflow-secret.yaml"} <= set(ignored)
