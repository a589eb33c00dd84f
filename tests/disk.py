"""Shared test folders freed as soon as no test left in the session needs them.

A session- or module-scoped fixture's folder (a finished sweep: checkpoints, MLflow artifacts,
GBs) would otherwise stay on disk until pytest ends the scope, and all of them together filled
CI's disk once. A fixture hands its folder to :func:`release_when_unused`; the folder is deleted
right after the last collected test that uses the fixture (directly or through another fixture)
has run, unless a test using it failed: then it stays for a look, as pytest keeps a failed test's
``tmp_path``. conftest.py imports the hooks below.
"""

import shutil
from collections import Counter
from pathlib import Path

import pytest

_USERS_LEFT: Counter = Counter()  # fixture name -> tests still to run that use it
_FOLDERS: dict[str, list[Path]] = {}  # fixture name -> folders to delete after its last user
_FAILED: set[str] = set()  # fixtures used by a failed test: their folders are kept


def release_when_unused(request: pytest.FixtureRequest, folder: Path) -> Path:
    """Delete ``folder`` once no remaining test of the session uses the requesting fixture."""
    _FOLDERS.setdefault(request.fixturename, []).append(folder)
    return folder


def pytest_collection_finish(session: pytest.Session) -> None:
    """Counts, per fixture, the tests that will run (after deselection) and use it."""
    _USERS_LEFT.clear()
    for item in session.items:
        _USERS_LEFT.update(set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    if outcome.get_result().failed:
        _FAILED.update(getattr(item, "fixturenames", ()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    yield
    for name in set(getattr(item, "fixturenames", ())):
        _USERS_LEFT[name] -= 1
        if _USERS_LEFT[name] <= 0 and name not in _FAILED:
            for folder in _FOLDERS.pop(name, []):
                shutil.rmtree(folder, ignore_errors=True)
