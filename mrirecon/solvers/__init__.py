"""The one registry of reconstruction methods: name -> :class:`Method` factory.

The CLI, the Python API and the napari plugin list and create methods only through here.
"""
from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .base import Method, Problem, Progress

_REGISTRY: dict[str, Callable[..., Method]] = {}


def register(name: str):
    """Class decorator: make a method available under ``name``."""

    def deco(cls):
        if name in _REGISTRY:
            raise ValueError(f"method {name!r} registered twice")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def names() -> list[str]:
    """Registered method names, in registration order."""
    _load_builtins()
    return list(_REGISTRY)


def get(name: str, **options) -> Method:
    """A new instance of the method ``name`` (options go to its constructor)."""
    _load_builtins()
    if name not in _REGISTRY:
        raise InputError(f"unknown method {name!r}; valid methods: {', '.join(_REGISTRY)}", "method")
    return _REGISTRY[name](**options)


def available() -> list[str]:
    """Registered methods that can run now: classical ones and learned ones whose weights exist."""
    from ..weights import paths

    return [n for n in names() if not _REGISTRY[n].learned or all(p.is_file() for p in paths(n))]


def check(name: str, **options) -> Method:
    """``get`` plus, for learned methods, loading the weights (``WeightsError`` when missing)."""
    method = get(name, **options)
    if method.learned:
        method.model("cpu")
    return method


def describe() -> dict[str, str]:
    _load_builtins()
    return {n: cls.description for n, cls in _REGISTRY.items()}


_loaded = False


def _load_builtins():
    global _loaded
    if not _loaded:
        _loaded = True
        from . import classical, cs, learned  # noqa: F401  (registration happens on import)


__all__ = ["Method", "Problem", "Progress", "register", "names", "get", "check", "available", "describe"]
