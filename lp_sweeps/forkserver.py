"""A fork server: one process imports the trial code once, then forks a ready process for each
client that connects (:class:`ForkServer` on the driver, :class:`ForkedProcess` in the client).

A trial process pays for its imports: torch, Lightning (which imports all of torchmetrics, and
through it torchvision and transformers), Ray Tune and MLflow take 9-11 s on 2 CPU cores, every
time a trial slot of a sweep starts a process. A local sweep starts this server beside Ray, so its
imports overlap Ray's start-up, and each trial's Ray actor only relays: it connects, and the server
forks a child that already holds every module.

The child takes the client's environment (``CUDA_VISIBLE_DEVICES``, ``OMP_NUM_THREADS``, ...),
working folder, stdout and stderr (passed as file descriptors). It serves that client's calls one
after another, so a client that runs several trials keeps one child and its in-memory caches. It
exits when the client's process ends.

The server is a fresh interpreter. It is never a fork of the driver, which may have run torch's
OpenMP threads, opened database connections or started threads. It only imports, listens and
forks, and runs no tensor code, so its children can use threads and CUDA. Its socket sits in a
folder only its user can enter, and it exits when the process that started it ends.

Messages on a client's connection (pickled, :mod:`multiprocessing.connection`):

- client -> child: ``("call", "module:function", args, cwd)``; the child runs
  ``function(channel, *args)``;
- child -> client: ``("ask", message)``, answered by ``("answer", value)``, or by ``("stop",)``,
  which raises :class:`SystemExit` in the child (how Ray Tune stops a trial at its report), or by
  ``("error", text)``, which raises :class:`AnswerError`;
- child -> client, at the end of a call: ``("done",)``, ``("stopped",)`` or ``("failed", traceback)``.
"""

import argparse
import contextlib
import dataclasses
import importlib
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Optional

import psutil

__all__ = ["AnswerError", "Channel", "ForkServer", "ForkServerUnavailable", "ForkedCallError", "ForkedProcess",
           "ForkedProcessLost", "ServerAddress"]

SOCKET_NAME = "server.sock"
POLL_S = 0.5  # how often the server checks its parent, and a child its client
CONNECT_TIMEOUT_S = 300.0  # how long a client waits for the server to finish its imports


class ForkServerUnavailable(RuntimeError):
    """The server ended, or never became ready, before the client could connect."""


class ForkedProcessLost(RuntimeError):
    """The forked process ended in the middle of a call."""


class ForkedCallError(RuntimeError):
    """The call raised in the forked process; the message holds its traceback."""


class AnswerError(RuntimeError):
    """Raised in the forked process when the client could not answer its question."""


@dataclasses.dataclass(frozen=True)
class ServerAddress:
    """What a client needs to reach the server (picklable, sent to Ray actors)."""

    socket_path: str
    pid: int


class ForkServer:
    """The driver's handle on a running server process."""

    def __init__(self, process: subprocess.Popen, folder: Path) -> None:
        self.process, self.folder = process, folder
        self.address = ServerAddress(str(folder / SOCKET_NAME), process.pid)

    @classmethod
    def start(cls, preload: Sequence[str], env: Optional[dict[str, str]] = None) -> "ForkServer":
        """Start a server that imports the ``preload`` modules (in environment ``env``, default
        this one); returns at once (the imports run while the caller goes on; clients wait)."""
        folder = Path(tempfile.mkdtemp(prefix="lp-forkserver-"))  # mode 0700: only this user connects
        command = [sys.executable, "-c", "import sys; from lp_sweeps.forkserver import main; main(sys.argv[1:])",
                   str(folder / SOCKET_NAME),
                   "--parent", str(os.getpid()), *[f"--preload={name}" for name in preload]]
        # its own session: a Ctrl-C in the terminal reaches the driver, which stops trials through Ray
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        return cls(process, folder)

    def stop(self) -> None:
        """End the server (the forked processes end with their clients) and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _connect_socket(address: ServerAddress, timeout_s: float) -> socket.socket:
    """A connected socket, once the server listens; :class:`ForkServerUnavailable` if it ended
    first or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        if os.path.exists(address.socket_path):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(address.socket_path)
                return sock
            except OSError:
                sock.close()
        if not _alive(address.pid):
            raise ForkServerUnavailable(f"the fork server (pid {address.pid}) has ended")
        if time.monotonic() >= deadline:
            raise ForkServerUnavailable(f"the fork server (pid {address.pid}) was not ready after {timeout_s:g} s")
        time.sleep(0.05)


class ForkedProcess:
    """The client's side of one forked process."""

    def __init__(self, connection: Connection, pid: int) -> None:
        self.connection, self.pid = connection, pid
        self.alive = True

    @classmethod
    def connect(cls, address: ServerAddress, timeout_s: float = CONNECT_TIMEOUT_S) -> "ForkedProcess":
        """Have the server fork a process for this one: it gets this process's environment,
        stdout and stderr, and ends when this process ends."""
        sock = _connect_socket(address, timeout_s)
        try:
            socket.send_fds(sock, [b"fds"], [1, 2])  # the process's stdout and stderr, as Ray redirects them
            connection = Connection(sock.detach())
        except OSError as err:
            sock.close()
            raise ForkServerUnavailable(f"the fork server (pid {address.pid}) did not take the connection: {err}")
        try:
            connection.send({"env": dict(os.environ), "client_pid": os.getpid()})
            pid = connection.recv()
        except (EOFError, OSError) as err:
            connection.close()
            raise ForkServerUnavailable(f"the fork server (pid {address.pid}) did not start a process: {err!r}")
        return cls(connection, pid)

    def call(self, target: str, args: tuple, answer: Callable[[Any], Any]) -> None:
        """Run ``target`` (``"module:function"``) in the forked process with ``args``; its
        questions go to ``answer``. An exception ``answer`` raises reaches the forked process
        (``SystemExit`` as ``SystemExit``, others as :class:`AnswerError`) and is raised here once
        the call has ended there; an exception of the call itself is raised as
        :class:`ForkedCallError`."""
        raised: Optional[BaseException] = None
        self._send(("call", target, args, os.getcwd()))
        while True:
            message = self._receive()
            if message[0] == "ask":
                if raised is None:
                    try:
                        value = answer(message[1])
                    except BaseException as err:  # noqa: B036 (SystemExit is how Ray Tune stops a trial)
                        raised = err
                    else:
                        self._send(("answer", value))
                        continue
                # once the answer raised, every later question gets the same refusal
                stopped = isinstance(raised, SystemExit)
                self._send(("stop",) if stopped else ("error", f"{type(raised).__name__}: {raised}"))
                continue
            if raised is not None:
                raise raised
            if message[0] == "stopped":
                raise SystemExit(0)
            if message[0] == "failed":
                raise ForkedCallError(f"{target} failed in process {self.pid}:\n{message[1]}")
            return

    def _send(self, message: tuple) -> None:
        try:
            self.connection.send(message)
        except OSError as err:
            self._lost(err)

    def _receive(self) -> tuple:
        try:
            return self.connection.recv()
        except (EOFError, OSError) as err:
            self._lost(err)

    def _lost(self, err: BaseException) -> None:
        self.alive = False
        self.connection.close()
        raise ForkedProcessLost(f"the forked process {self.pid} ended during a call ({err!r}); "
                                f"its output is in this process's log") from None


class Channel:
    """The forked process's side of a call: questions to the client."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def ask(self, message: Any) -> Any:
        self.connection.send(("ask", message))
        reply = self.connection.recv()
        if reply[0] == "stop":
            sys.exit(0)
        if reply[0] == "error":
            raise AnswerError(reply[1])
        return reply[1]


def _resolve(target: str) -> Callable:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _run_call(connection: Connection, target: str, args: tuple) -> tuple:
    try:
        _resolve(target)(Channel(connection), *args)
        return ("done",)
    except SystemExit:
        return ("stopped",)
    except BaseException:  # noqa: B036 (any failure goes back to the client)
        return ("failed", traceback.format_exc())
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _watch_client(pid: int) -> None:
    """End this process as soon as its client's process has ended."""
    while _alive(pid):
        time.sleep(POLL_S)
    os._exit(1)


def _adopt_client(sock: socket.socket) -> Connection:
    """Take the client's stdout, stderr and environment; watch its process."""
    _, fds, _, _ = socket.recv_fds(sock, 16, 2)
    connection = Connection(sock.detach())
    for fd, target in zip(fds, (1, 2)):
        os.dup2(fd, target)
        os.close(fd)
    hello = connection.recv()
    os.environ.clear()
    os.environ.update(hello["env"])
    torch = sys.modules.get("torch")  # read OMP_NUM_THREADS when the server imported it: apply the client's
    if torch is not None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"])))
    threading.Thread(target=_watch_client, args=(hello["client_pid"],), daemon=True).start()
    connection.send(os.getpid())
    return connection


def _child(listener: socket.socket, sock: socket.socket) -> None:
    """A forked process: serves its client's calls until the client goes away."""
    listener.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        connection = _adopt_client(sock)
        while True:
            _, target, args, cwd = connection.recv()
            os.chdir(cwd)
            connection.send(_run_call(connection, target, args))
    except (EOFError, OSError):  # the client went away
        pass
    except BaseException:  # noqa: B036 (a failed set-up: shown in the client's log, which then runs its calls itself)
        traceback.print_exc()
    finally:
        os._exit(0)


def _check_fork_safe() -> None:
    """Fail (the clients then run their calls themselves) when the imports initialised CUDA or
    started threads: a forked process could not use the GPU, or could inherit a held lock."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("importing the preloaded modules initialised CUDA; forked processes could not use it")
    if threading.active_count() > 1:
        names = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
        raise RuntimeError(f"importing the preloaded modules started threads {names}; forking would copy their locks")


def serve(socket_path: str, parent_pid: int, preload: Sequence[str]) -> None:
    """The server: import ``preload``, listen on ``socket_path``, fork a child per connection;
    ends with its parent process or on SIGTERM."""
    for name in preload:
        importlib.import_module(name)
    _check_fork_safe()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".new")
    listener.listen(64)
    os.rename(socket_path + ".new", socket_path)  # clients connect once the imports are done
    try:
        while os.getppid() == parent_pid:
            ready, _, _ = select.select([listener], [], [], POLL_S)
            if not ready:
                continue
            sock, _ = listener.accept()
            if os.fork() == 0:
                _child(listener, sock)
            sock.close()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="lp-sweeps fork server (started by lp-sweep launch)")
    parser.add_argument("socket_path")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--preload", action="append", default=[])
    args = parser.parse_args(argv)
    serve(args.socket_path, args.parent, args.preload)


if __name__ == "__main__":
    main()
