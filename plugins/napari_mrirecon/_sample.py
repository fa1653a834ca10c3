"""Sample data: the simulated files bundled in the repository's sample_data/ folder."""
from __future__ import annotations

from pathlib import Path

SAMPLES = {
    "t1w": "t1w_256_8coil.h5",
    "t2w_lesions": "t2w_lesions_256_8coil.h5",
    "flair_lesions": "flair_lesions_256_8coil.h5",
}


def sample_path(key: str) -> Path:
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        p = root / "sample_data" / SAMPLES[key]
        if p.exists():
            return p
    raise FileNotFoundError(f"sample file {SAMPLES[key]} not found (looked in the repository's sample_data/)")


def _load(key):
    from ._reader import layer_data

    data, kwargs = layer_data(sample_path(key))
    return [(data, kwargs, "image")]


def t1w():
    return _load("t1w")


def t2w_lesions():
    return _load("t2w_lesions")


def flair_lesions():
    return _load("flair_lesions")
