"""The one error type of study files."""

import contextlib
from collections.abc import Iterator

__all__ = ["StudyError", "study_source"]


class StudyError(ValueError):
    """A study that cannot run: ``source`` (the study file), ``key`` and ``detail`` (what is
    wrong and what is allowed) all appear in the message."""

    def __init__(self, key: str, detail: str, source: str = "") -> None:
        self.key, self.detail, self.source = key, detail, source
        super().__init__(": ".join([part for part in (source, key) if part] + [detail]))


@contextlib.contextmanager
def study_source(source: str) -> Iterator[None]:
    """Inside the block, a :class:`StudyError` without a source gets ``source``."""
    try:
        yield
    except StudyError as err:
        if err.source:
            raise
        raise StudyError(err.key, err.detail, source) from None
