"""Fixtures shared by the data tests (and importable by others from tests.data.multiview_fixture)."""

from tests.data.multiview_fixture import mirror_mouse_split  # noqa: F401  (session fixture)
