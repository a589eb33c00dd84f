"""``lp-sweep ui`` started exactly as a finished sweep prints it, its experiment opened in a real
headless Chromium: the runs table (not MLflow's GenAI overview), with the trials by name."""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.chromium import Browser
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow
EXPANDER = "button[data-component-id*='runnamecellrenderer']"  # the parent run's +, as a person clicks it


def _start(command: list[str]) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    return process, lines


def _wait_for_line(lines: list[str], text: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in list(lines) if text in line]
        if found:
            return found[0]
        assert process.poll() is None, "".join(lines)
        time.sleep(0.5)
    raise TimeoutError(f"no line with {text!r} after {timeout:.0f} s:\n{''.join(lines)}")


def test_ui_as_printed_opens_on_the_runs_table_with_the_trials_by_name(replicated_sweep, tmp_path: Path):
    printed = replicated_sweep.printed("open the MLflow UI:")
    words = shlex.split(printed)
    assert words[:2] == ["lp-sweep", "ui"]
    port = free_port()
    # the printed command, run with this checkout's code (the console script is `python -m lp_sweeps.cli`)
    process, lines = _start([sys.executable, "-m", "lp_sweeps.cli", *words[1:], "--port", str(port)])
    try:
        runs_line = _wait_for_line(lines, f"runs of {replicated_sweep.record.sweep_name}:", process, timeout=180)
        url = runs_line.split(": ", 1)[1].strip()
        assert url.startswith(f"http://127.0.0.1:{port}/#/experiments/{replicated_sweep.record.experiment_id}/runs")
        client = MlflowClient(replicated_sweep.record.tracking_uri)
        children = client.search_runs([replicated_sweep.record.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{replicated_sweep.record.parent_run_id}'")
        names = sorted(r.info.run_name for r in children)
        with Browser(1600, 1000) as browser:
            browser.open(url)
            browser.wait_for(f"!!document.querySelector(\"{EXPANDER}\")", timeout=120)
            location = browser.evaluate("location.hash")
            landing = browser.evaluate("document.body.innerText")
            browser.evaluate(f"document.querySelector(\"{EXPANDER}\").click()")
            shown = [name for name in names if browser.wait_for(
                f"document.body.innerText.includes({name!r})", timeout=30)]
            browser.screenshot(tmp_path / "runs_table.png", full_page=False)
        assert location.startswith(f"#/experiments/{replicated_sweep.record.experiment_id}/runs")
        assert "matching runs" in landing and replicated_sweep.record.sweep_name in landing
        assert "Token Usage" not in landing and "Overview" not in landing  # MLflow's GenAI overview page
        assert shown == names and len(names) == 9  # 3 trials, 4 replicates, 2 ensembles
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
