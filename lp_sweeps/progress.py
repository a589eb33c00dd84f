"""The driver's progress lines: trials done / running / stopped early, the best value so far.

The Ray Tune adapter forwards its scheduler events here. The ids of the trials that ended are
also appended to a file, because a restored sweep runs the callback object saved with the
experiment (not a new one) and a Tune result does not say whether an interrupt cut a trial short.
"""

import time
import types
from collections.abc import Callable
from typing import Optional

__all__ = ["ProgressBoard", "print_line", "read_ended"]


def print_line(text: str) -> None:
    """The driver's default printer. Tune pickles the progress callback with the experiment; a
    module function pickles by reference, while the built-in ``print`` does not once Ray's tqdm
    support has replaced ``builtins.print`` (it does on a driver that joins an existing cluster)."""
    print(text, flush=True)


def _is_builtin_print(printer: Callable[[str], None]) -> bool:
    """``printer`` is the built-in ``print`` (whether or not ``builtins.print`` still names it)."""
    return isinstance(printer, types.BuiltinFunctionType) and printer.__name__ == "print"


def read_ended(ended_file: str) -> set[str]:
    """The ids of the trials whose end the scheduler reported, in this run or an earlier one."""
    try:
        with open(ended_file) as stream:
            return set(stream.read().split())
    except FileNotFoundError:
        return set()


class ProgressBoard:
    """Counts trial events and prints one line per start and end."""

    def __init__(self, metric: str, mode: str, max_t: int, total: int, printer: Callable[[str], None],
                 ended_file: str) -> None:
        self.metric, self.mode, self.max_t, self.total = metric, mode, max_t, total
        self.printer = print_line if _is_builtin_print(printer) else printer
        self.ended_file = ended_file
        self.start = time.time()
        self.best: Optional[tuple[float, str]] = None
        self.iterations: dict[str, int] = {}
        self.done = self.stopped = self.failed = 0
        self.running: set[str] = set()

    def started(self, trial_id: str) -> None:
        self.running.add(trial_id)
        self._print(f"trial {trial_id} started")

    def result(self, trial_id: str, iteration: int, value: Optional[float]) -> None:
        self.iterations[trial_id] = iteration
        if value is not None and (self.best is None or (value < self.best[0]) == (self.mode == "min")):
            self.best = (float(value), trial_id)

    def completed(self, trial_id: str) -> None:
        self._ended(trial_id)
        self.done += 1
        early = self.iterations.get(trial_id, 0) < self.max_t
        self.stopped += int(early)
        self._print(f"trial {trial_id} {'stopped early' if early else 'finished'}")

    def errored(self, trial_id: str) -> None:
        self._ended(trial_id)
        self.failed += 1
        self._print(f"trial {trial_id} failed")

    def _ended(self, trial_id: str) -> None:
        self.running.discard(trial_id)
        with open(self.ended_file, "a") as stream:
            stream.write(trial_id + "\n")

    def _print(self, event: str) -> None:
        best = "n/a" if self.best is None else f"{self.best[0]:.3f} (trial {self.best[1]})"
        self.printer(
            f"[{time.time() - self.start:6.0f}s] {event} | done {self.done}/{self.total} "
            f"(stopped early {self.stopped}, failed {self.failed}), running {len(self.running)} | "
            f"best {self.metric}: {best}"
        )
