"""The one error type of the config package."""

from typing import Optional

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A config that cannot be used: unknown key, wrong type or a failed check.

    ``key`` is the full dotted key path (e.g. ``data.image_resize_dims.height``) and ``source``
    the file (or ``"overrides"``) the offending value came from, when known. Both appear in the
    message.
    """

    def __init__(self, key: str, detail: str, source: Optional[str] = None) -> None:
        self.key = key
        self.detail = detail
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {detail}" if key else f"{where}{detail}")
