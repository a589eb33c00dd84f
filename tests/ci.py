"""What a test does when something it needs from the machine is missing: skip on a developer's
machine, fail in CI (``CI=true``), where ``.ci/run`` installs everything the suite needs."""

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing(reason: str) -> None:
    """Skip (locally) or fail (in CI) the calling test, giving ``reason``."""
    if in_ci():
        pytest.fail(f"{reason}; CI must provide it", pytrace=False)
    pytest.skip(reason)
