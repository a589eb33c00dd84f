"""Functions the fork server's processes run in tests/lp_sweeps/test_forkserver.py (imported by
the server, as a sweep's server imports the trial code)."""

import os
import sys
import time
from pathlib import Path

CALLS: list[int] = []  # this process's earlier calls of exchange()


def exchange(channel, count: int) -> None:
    """Asks 0 .. count-1, then reports the answers, its pid and how many calls came before."""
    answers = [channel.ask(number) for number in range(count)]
    channel.ask(("answers", answers, os.getpid(), len(CALLS)))
    CALLS.append(count)


def environment(channel, key: str) -> None:
    print("printed by the forked process", flush=True)
    print("on its stderr", file=sys.stderr, flush=True)
    channel.ask((os.environ.get(key), os.getcwd(), os.getppid()))


def fail(channel, text: str) -> None:
    raise ValueError(text)


def stoppable(channel, marker: str) -> None:
    """Asks twice; writes ``marker`` however it ends."""
    try:
        channel.ask("first")
        channel.ask("second")
    finally:
        Path(marker).write_text("cleaned up")


def wait(channel, seconds: float) -> None:
    channel.ask(os.getpid())
    time.sleep(seconds)
