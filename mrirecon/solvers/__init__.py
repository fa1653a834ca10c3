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


def names(variants: bool = False) -> list[str]:
    """Registered method names, in registration order; ``variants=True`` appends the learned
    methods' precision variants (``VARIANTS``, e.g. ``irim-bf16``)."""
    _load_builtins()
    out = list(_REGISTRY)
    if variants:
        out += [n + suffix for suffix in VARIANTS for n in _REGISTRY if _REGISTRY[n].learned]
    return out


# Inference-precision variants of the learned methods, accepted wherever a method name is:
# ``irim-bf16`` is ``irim`` with ``precision="bf16"`` (its convolutional blocks in bfloat16,
# ``mrirecon.nn.model.Reconstructor.compute_in``), ``irim-int8`` with ``precision="int8"`` (its
# convolutions in int8 on the CPU, ``mrirecon.nn.int8``). Outputs and tables carry the variant's name.
BF16, INT8 = "-bf16", "-int8"
VARIANTS = {BF16: {"precision": "bf16"}, INT8: {"precision": "int8"}}
VARIANT_TEXT = {  # what each variant is, for listings and tooltips
    BF16: "convolutional blocks in bfloat16, physics in float32: faster where the CPU has AMX or on a GPU "
          "(emulated and ~10x slower on AVX2-only CPUs)",
    INT8: "convolutions in int8 (on the CPU, also where a GPU is; float32 in and out), cells and physics in float32: "
          "faster on x86 CPUs with AVX-512 VNNI or AMX (not without VNNI, where its weights get 7 bits)",
}


def _resolve(name: str) -> tuple[str, dict]:
    for suffix, options in VARIANTS.items():
        base = name.removesuffix(suffix)
        if base != name and base in _REGISTRY and _REGISTRY[base].learned:
            return base, options
    return name, {}


def base_name(name: str) -> str:
    """The registered method behind ``name`` (``irim`` for ``irim-int8``; other names unchanged)."""
    _load_builtins()
    return _resolve(name)[0]


def get(name: str, **options) -> Method:
    """A new instance of the method ``name`` (options go to its constructor); ``name`` may be a
    learned method's precision variant (``VARIANTS``, e.g. ``irim-bf16``); an option that
    contradicts the variant (``get("irim-bf16", precision="fp32")``) is an error, not an override."""
    _load_builtins()
    base, variant = _resolve(name)
    if base not in _REGISTRY:
        raise InputError(f"unknown method {name!r}; valid methods: {', '.join(_REGISTRY)} "
                         f"(learned ones also as {', '.join('NAME' + s for s in VARIANTS)})", "method")
    for key, value in variant.items():
        if key in options and options[key] != value:
            raise InputError(f"{name!r} is {base!r} with {key}={value!r}; got {key}={options[key]!r} "
                             f"(use {base!r} to choose {key})", key)
    return _REGISTRY[base](**{**variant, **options})


def available(variants: bool = False) -> list[str]:
    """Registered methods that can run now: classical ones and learned ones whose weights exist
    (with ``variants=True``, also the variants of those)."""
    from ..weights import paths

    def runs(name):
        base, variant = _resolve(name)
        if variant.get("precision") == "int8":
            from ..nn import int8

            if not int8.available():
                return False
        return not _REGISTRY[base].learned or all(p.is_file() for p in paths(base))

    return [n for n in names(variants) if runs(n)]


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


__all__ = ["Method", "Problem", "Progress", "register", "names", "get", "check", "available", "describe",
           "base_name", "BF16", "INT8", "VARIANTS", "VARIANT_TEXT"]
