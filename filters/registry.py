"""Name -> filter class registry, so the CLI, the app and the lab all offer the same list."""

from __future__ import annotations

from typing import Any, TypeVar

from filters.base import Filter

_REGISTRY: dict[str, type[Filter]] = {}
F = TypeVar("F", bound=type[Filter])


def register_filter(cls: F) -> F:
    """Class decorator: make a filter available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a filter named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def filter_names() -> list[str]:
    return sorted(_REGISTRY)


def filter_class(name: str) -> type[Filter]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose one of: {', '.join(filter_names())}") from None


def create_filter(name: str, strength: float = 1.0, **options: Any) -> Filter:
    return filter_class(name)(strength=strength, **options)
