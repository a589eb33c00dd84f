"""One registration point per family (backbones, heads, losses, model types, ...).

A :class:`Registry` is a dict filled by a decorator. Registering a name twice raises, and
looking up an unknown name raises a ``ValueError`` that lists the allowed names, so a typo in a
config or a search space is reported with the choices the user has.
"""

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """A named mapping ``name -> object`` filled by :meth:`register`."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, T] = {}
        self._metadata: dict[str, dict] = {}

    def register(self, name: str, **metadata) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name", stride=32)`` registers the decorated object."""

        def decorator(obj: T) -> T:
            self.add(name, obj, **metadata)
            return obj

        return decorator

    def add(self, name: str, obj: T, **metadata) -> None:
        if name in self._entries:
            raise ValueError(
                f"{self.family} {name!r} is registered twice "
                f"(already: {self._entries[name]!r}, new: {obj!r})"
            )
        self._entries[name] = obj
        self._metadata[name] = dict(metadata)

    def remove(self, name: str) -> T:
        """Take ``name`` out again (for tests that register a temporary entry); returns its object."""
        obj = self.get(name)
        del self._entries[name], self._metadata[name]
        return obj

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.family} {name!r}; allowed: {sorted(self._entries)}"
            ) from None

    def metadata(self, name: str) -> dict:
        self.get(name)  # raises with the allowed names
        return self._metadata[name]

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
