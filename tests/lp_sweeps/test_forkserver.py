"""The fork server with a real server process, real forks and real sockets (no Ray)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from lp_sweeps.forkserver import (
    ForkedCallError, ForkedProcess, ForkedProcessLost, ForkServer, ForkServerUnavailable, ServerAddress,
)

REPO = Path(__file__).resolve().parents[2]
TARGETS = "tests.lp_sweeps.forkserver_targets"


def _gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def server():
    started = ForkServer.start([TARGETS], env={**os.environ, "PYTHONPATH": str(REPO)})
    yield started
    started.stop()


def test_calls_exchange_every_question_and_answer_in_order(server):
    process = ForkedProcess.connect(server.address, timeout_s=60.0)
    questions = []

    def answer(question):
        questions.append(question)
        return question * 10 if isinstance(question, int) else None

    process.call(f"{TARGETS}:exchange", (3,), answer)
    assert questions[:3] == [0, 1, 2]
    assert questions[3][0:2] == ("answers", [0, 10, 20])
    assert questions[3][2] == process.pid != os.getpid()
    assert questions[3][3] == 0  # no call before in that process
    assert len(questions) == 4
    process.call(f"{TARGETS}:exchange", (1,), answer)  # the same process serves the next call
    assert questions[4:] == [0, ("answers", [0], process.pid, 1)]  # and kept its module state


def test_the_forked_process_takes_the_clients_environment_folder_and_output(server, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("LP_FORK_TEST", "from the client")
    monkeypatch.chdir(tmp_path)
    process = ForkedProcess.connect(server.address, timeout_s=60.0)
    seen = []
    process.call(f"{TARGETS}:environment", ("LP_FORK_TEST",), seen.append)
    assert seen == [("from the client", str(tmp_path), server.process.pid)]
    captured = capfd.readouterr()
    assert captured.out.count("printed by the forked process") == 1
    assert captured.err.count("on its stderr") == 1


def test_a_failed_call_raises_with_the_forked_traceback_and_the_process_serves_on(server):
    process = ForkedProcess.connect(server.address, timeout_s=60.0)
    with pytest.raises(ForkedCallError, match=r"(?s)forkserver_targets:fail failed in process \d+.*"
                                              r"ValueError: bad labels file x\.csv"):
        process.call(f"{TARGETS}:fail", ("bad labels file x.csv",), lambda question: None)
    answers = []
    process.call(f"{TARGETS}:exchange", (2,), lambda question: answers.append(question))
    assert len(answers) == 3 and answers[2][2] == process.pid


def test_system_exit_while_answering_stops_the_call_there_and_is_raised_after_its_cleanup(server, tmp_path):
    process = ForkedProcess.connect(server.address, timeout_s=60.0)
    asked = []

    def answer(question):
        asked.append(question)
        sys.exit(0)  # what ray.tune.report does in a trial Tune has stopped

    marker = tmp_path / "marker"
    with pytest.raises(SystemExit):
        process.call(f"{TARGETS}:stoppable", (str(marker),), answer)
    assert asked == ["first"]  # the second question never came
    assert marker.read_text() == "cleaned up"
    assert process.alive


def test_an_error_while_answering_fails_the_call_and_is_raised_as_is(server, tmp_path):
    process = ForkedProcess.connect(server.address, timeout_s=60.0)

    def answer(question):
        raise OSError("storage full")

    marker = tmp_path / "marker"
    with pytest.raises(OSError, match="storage full"):
        process.call(f"{TARGETS}:stoppable", (str(marker),), answer)
    assert marker.read_text() == "cleaned up"


def test_the_forked_process_ends_with_its_client(server, tmp_path):
    client = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import pickle, sys
        from lp_sweeps.forkserver import ForkedProcess, ServerAddress
        process = ForkedProcess.connect(ServerAddress({server.address.socket_path!r}, {server.process.pid}), 60.0)
        process.call("{TARGETS}:wait", (600,), lambda pid: print(pid, flush=True))
    """)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    forked = int(client.stdout.readline())
    assert psutil.Process(forked).ppid() == server.process.pid
    client.send_signal(signal.SIGKILL)
    client.wait()
    assert _gone(forked, within_s=5)


def test_a_lost_process_raises_and_a_stopped_server_is_reported_unavailable(server):
    process = ForkedProcess.connect(server.address, timeout_s=60.0)
    os.kill(process.pid, signal.SIGKILL)
    with pytest.raises(ForkedProcessLost, match=f"forked process {process.pid} ended during a call"):
        process.call(f"{TARGETS}:exchange", (1,), lambda question: None)
    assert not process.alive
    server.stop()
    assert not Path(server.address.socket_path).exists() and not server.folder.exists()
    with pytest.raises(ForkServerUnavailable, match=f"fork server \\(pid {server.process.pid}\\) has ended"):
        ForkedProcess.connect(server.address, timeout_s=60.0)


def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    driver = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from lp_sweeps.forkserver import ForkServer
        print(ForkServer.start(["json"]).process.pid, flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    server_pid = int(driver.stdout.readline())
    assert psutil.pid_exists(server_pid)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert _gone(server_pid, within_s=5)


def test_a_server_that_cannot_import_its_modules_is_reported_unavailable():
    broken = ForkServer.start(["lp_sweeps_no_such_module"])
    try:
        with pytest.raises(ForkServerUnavailable, match="has ended"):
            ForkedProcess.connect(broken.address, timeout_s=60.0)
    finally:
        broken.stop()


def test_a_server_still_importing_makes_clients_wait_up_to_their_timeout():
    never = ServerAddress(socket_path="/nonexistent/lp-fork/server.sock", pid=os.getpid())
    started = time.monotonic()
    with pytest.raises(ForkServerUnavailable, match="was not ready after 0.3 s"):
        ForkedProcess.connect(never, timeout_s=0.3)
    assert time.monotonic() - started >= 0.3


def test_a_server_whose_imports_start_a_thread_refuses_to_fork(tmp_path):
    module = tmp_path / "lp_starts_a_thread.py"
    module.write_text("import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    threaded = ForkServer.start(["lp_starts_a_thread"], env={**os.environ, "PYTHONPATH": str(tmp_path)})
    try:
        with pytest.raises(ForkServerUnavailable, match="has ended"):
            ForkedProcess.connect(threaded.address, timeout_s=60.0)
        assert threaded.process.wait(timeout=30) != 0
    finally:
        threaded.stop()


def test_the_trial_code_imports_without_threads_or_cuda():
    # what a sweep's server preloads (lp_sweeps.adapters.ray_tune.connect) passes the check
    done = subprocess.run([sys.executable, "-c", "import lp_sweeps.adapters.ray_tune_trial; "
                           "from lp_sweeps.forkserver import _check_fork_safe; _check_fork_safe(); print('safe')"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "safe", done.stderr[-2000:]
